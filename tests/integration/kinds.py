"""One driver per gateway kind, so that the same tests run against all four simulators.

A driver knows what differs between the products: the entry's data, the credentials a user
types in the flow, what the phone does (link, unlink, write), how a message reaches Home
Assistant (a webhook post, or the next poll), and how the gateway recorded what was sent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import (
    CONF_API_KEY,
    CONF_EMAIL,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_URL,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.whatsapp_gateway.const import (
    CONF_KIND,
    CONF_WEBHOOK_SECRET,
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
)
from custom_components.whatsapp_gateway.gateway import create_gateway
from custom_components.whatsapp_gateway.gateway.media import from_data_url
from simulator import CloudApiConfig, WuzapiConfig
from simulator.wuzapi import OLD_BUILD
from tests.conftest import (
    API_KEY,
    CHATAPI_INSTANCE,
    CHATAPI_TOKEN,
    CLOUD,
    EVOLUTION_KEY,
    GREEN_ID,
    GREEN_TOKEN,
    HMAC_KEY,
    PHONE_ID,
    PRODUCT_ID,
    USER_TOKEN,
    WAABOT_EMAIL,
    WAABOT_PASSWORD,
    WAHA_KEY,
    SimulatorHandle,
    cloudapi_options,
    greenapi_options,
    waabot_options,
)

WEBHOOK_ID = "0123456789abcdef" * 4
# The address of the test's Home Assistant, once its HTTP server runs (see ha_client).
HA_URLS: list[str] = []
CONTACT = "491700000002"


@dataclass(frozen=True)
class Sent:
    """One message as the gateway recorded it: the target as sent on the wire, and content."""

    target: str
    text: str | None = None
    data: bytes | None = None


class Kind(ABC):
    """What a test needs to know about one gateway product."""

    name: ClassVar[str]
    phone: ClassVar[str]
    # The JID server the gateway uses for person chats in incoming messages.
    person_server: ClassVar[str] = "s.whatsapp.net"
    # The session state a gateway reports once the phone was unlinked.
    unlinked_state: ClassVar[str] = "pairing"
    # Whether Home Assistant polls this gateway for messages unless told to use the webhook.
    polled: ClassVar[bool] = False
    # Whether the gateway's status names the linked number (the entry's title and unique id).
    tells_own_number: ClassVar[bool] = True
    # The form field holding the secret the gateway checks.
    secret_field: ClassVar[str] = CONF_TOKEN
    # Whether a phone is linked to the gateway (by QR or code); not for a registered number.
    links_phone: ClassVar[bool] = True
    # Whether the account writes in groups.
    has_groups: ClassVar[bool] = True
    # Whether Home Assistant sets the gateway's webhook (else the user does, in a dashboard).
    sets_webhook: ClassVar[bool] = True

    def __init__(self, simulator: SimulatorHandle) -> None:
        self.simulator = simulator
        self.polls = self.polled

    @classmethod
    def simulator_options(cls) -> dict[str, Any]:
        """How the simulator must be configured for this driver (the defaults here)."""
        return {}

    def account(self) -> str:
        """The unique id the config flow gives the account."""
        return self.phone if self.tells_own_number else self.entry_data()[CONF_URL]

    def chat_id(self, phone: str = CONTACT) -> str:
        """How the gateway names a person's chat in incoming messages."""
        return f"{phone}@{self.person_server}"

    @abstractmethod
    def entry_data(self) -> dict[str, Any]:
        """The gateway's part of the entry data."""

    def entry(
        self,
        *,
        options: dict[str, Any] | None = None,
        chats: Sequence[tuple[str, str]] = (),
        title: str = "Home",
        webhook_id: str = WEBHOOK_ID,
    ) -> MockConfigEntry:
        """An entry (titled "Home" unless told otherwise) for the simulator's account."""
        return MockConfigEntry(
            domain=DOMAIN,
            title=title,
            unique_id=self.account(),
            data={
                CONF_KIND: self.name,
                **self.entry_data(),
                CONF_WEBHOOK_ID: webhook_id,
                CONF_WEBHOOK_SECRET: HMAC_KEY,
            },
            options=options or {},
            subentries_data=[
                ConfigSubentryData(
                    data={"chat_id": chat}, subentry_type="chat", title=title, unique_id=chat
                )
                for chat, title in chats
            ],
        )

    @abstractmethod
    def credentials(self) -> dict[str, Any]:
        """What the user types in the flow's credentials step."""

    def slot_choice(self) -> tuple[str, dict[str, Any]] | None:
        """The step that picks the gateway's account slot, and the choice; None if none."""
        return None

    async def start_session(self) -> None:
        """Make the gateway show a QR code, as the flow does before pairing."""
        await create_gateway(self.name, self.simulator.session, self.entry_data()).connect()

    async def link(self) -> None:
        """The phone is linked, before Home Assistant sets the entry up."""
        await self.start_session()
        await self.scan()

    @abstractmethod
    async def scan(self) -> None:
        """The phone scans the QR code the gateway shows."""

    @abstractmethod
    async def unlink_from_phone(self) -> None:
        """The user removes the linked device on the phone."""

    @abstractmethod
    async def write(self, **message: Any) -> None:
        """A contact writes (control API `inbound` fields: text, id, name, from, from_me…)."""

    async def receive(self, hass: HomeAssistant, **message: Any) -> None:
        """A contact writes, and Home Assistant gets the message (pushed or at the next poll)."""
        await self.write(**message)
        if self.polls:
            async_fire_time_changed(
                hass, dt_util.utcnow() + timedelta(seconds=DEFAULT_POLL_INTERVAL + 1)
            )
        await hass.async_block_till_done(wait_background_tasks=True)

    def message_id(self, given: str, chat: str | None = None) -> str:
        """The id the gateway gives an incoming message sent with the control API's id."""
        return given

    @abstractmethod
    async def sent(self) -> list[Sent]:
        """What Home Assistant sent through the gateway, oldest first."""

    @abstractmethod
    async def forget_webhook(self) -> None:
        """The gateway loses its webhook settings (a database reset, an admin's mistake)."""

    async def webhook(self) -> str | None:
        """Where the gateway posts its events now, read through its own API."""
        return await create_gateway(
            self.name, self.simulator.session, self.entry_data()
        ).get_webhook()

    # Paths of the text-sending and the status endpoint (to inject faults).
    send_path: ClassVar[str]
    status_path: ClassVar[str]


class Wuzapi(Kind):
    """The simulator's wuzapi user."""

    name = "wuzapi"
    phone = "491511234567"
    unlinked_state = "logged_out"
    send_path = "/chat/send/text"
    status_path = "/session/status"

    def entry_data(self) -> dict[str, Any]:
        return {CONF_URL: self.simulator.url, CONF_TOKEN: USER_TOKEN}

    def credentials(self) -> dict[str, Any]:
        return {CONF_URL: self.simulator.url, CONF_TOKEN: USER_TOKEN}

    async def scan(self) -> None:
        await self.simulator.control(
            f"wuzapi/users/{USER_TOKEN}/scan", {"phone": self.phone, "name": "Home"}
        )

    async def unlink_from_phone(self) -> None:
        await self.simulator.control(f"wuzapi/users/{USER_TOKEN}/logout_from_phone")

    async def write(self, **message: Any) -> None:
        await self.simulator.control(f"wuzapi/users/{USER_TOKEN}/inbound", message)

    async def forget_webhook(self) -> None:
        await self.simulator.control(
            f"wuzapi/users/{USER_TOKEN}/settings", {"webhook": "", "events": [], "hmac_key": None}
        )

    async def sent(self) -> list[Sent]:
        records = await self.simulator.get(f"wuzapi/users/{USER_TOKEN}/sent")
        result = []
        for record in records:
            body = record["body"]
            image = body.get("Image")
            result.append(
                Sent(
                    body["Phone"],
                    body.get("Body"),
                    from_data_url(image, "image") if image else None,
                )
            )
        return result


class WuzapiOldBuild(Wuzapi):
    """The same user on a May-2025 wuzapi build: unsigned posts, no session events.

    Its status says neither the number nor that the phone unlinked: the reconnect that follows
    shows the QR code again instead.
    """

    unlinked_state = "pairing"
    tells_own_number = False

    @classmethod
    def simulator_options(cls) -> dict[str, Any]:
        return {"wuzapi": WuzapiConfig(build=OLD_BUILD, auto_receipts=False)}


class Maytapi(Kind):
    """Phone 12 of the simulator's Maytapi product."""

    name = "maytapi"
    phone = "905551112233"
    person_server = "c.us"
    secret_field = CONF_API_KEY
    send_path = f"/api/{PRODUCT_ID}/{PHONE_ID}/sendMessage"
    status_path = f"/api/{PRODUCT_ID}/{PHONE_ID}/status"

    def entry_data(self) -> dict[str, Any]:
        return {
            CONF_URL: self.simulator.url,
            "product_id": PRODUCT_ID,
            CONF_API_KEY: API_KEY,
            "phone_id": PHONE_ID,
        }

    def credentials(self) -> dict[str, Any]:
        return {"product_id": PRODUCT_ID, CONF_API_KEY: API_KEY, CONF_URL: self.simulator.url}

    def slot_choice(self) -> tuple[str, dict[str, Any]]:
        return "maytapi_phone", {"phone_id": PHONE_ID}

    async def scan(self) -> None:
        await self.simulator.control(f"maytapi/phones/{PHONE_ID}/scan", {"number": self.phone})

    async def unlink_from_phone(self) -> None:
        await self.simulator.control(f"maytapi/phones/{PHONE_ID}/set_status", {"status": "qr-code"})

    async def write(self, **message: Any) -> None:
        await self.simulator.control(f"maytapi/phones/{PHONE_ID}/inbound", message)

    def message_id(self, given: str, chat: str | None = None) -> str:
        return f"false_{chat or self.chat_id()}_{given}"

    async def forget_webhook(self) -> None:
        await self.simulator.control(f"maytapi/phones/{PHONE_ID}/webhook", {"url": ""})

    async def sent(self) -> list[Sent]:
        result = []
        for record in await self.simulator.get(f"maytapi/phones/{PHONE_ID}/sent"):
            body = record["body"]
            media = body["type"] == "media"
            result.append(
                Sent(
                    body["to_number"],
                    None if media else body.get("message"),
                    from_data_url(body["message"], "media") if media else None,
                )
            )
        return result


class ChatApi(Kind):
    """The simulator's Chat-API instance, which Home Assistant polls."""

    name = "chatapi"
    phone = "12025550100"
    person_server = "c.us"
    polled = True
    send_path = f"/instance{CHATAPI_INSTANCE}/sendMessage"
    status_path = f"/instance{CHATAPI_INSTANCE}/status"

    @property
    def instance_url(self) -> str:
        """The instance's API address."""
        return f"{self.simulator.url}/instance{CHATAPI_INSTANCE}"

    def entry_data(self) -> dict[str, Any]:
        return {CONF_URL: self.instance_url, CONF_TOKEN: CHATAPI_TOKEN}

    def credentials(self) -> dict[str, Any]:
        return {CONF_URL: self.instance_url, CONF_TOKEN: CHATAPI_TOKEN}

    async def scan(self) -> None:
        await self.simulator.control("chatapi/scan", {"number": self.phone, "name": "Home"})

    async def unlink_from_phone(self) -> None:
        await self.simulator.control("chatapi/logout_from_phone")

    async def write(self, **message: Any) -> None:
        await self.simulator.control("chatapi/inbound", message)

    def message_id(self, given: str, chat: str | None = None) -> str:
        return f"false_{chat or self.chat_id()}_{given}"

    async def forget_webhook(self) -> None:
        await self.simulator.control("chatapi/webhook", {"url": ""})

    async def sent(self) -> list[Sent]:
        result = []
        for record in await self.simulator.get("chatapi/sent"):
            body = record["body"]
            target = body["chatId"].removesuffix("@c.us")
            if record["endpoint"] == "sendFile":
                result.append(Sent(target, None, from_data_url(body["body"], "file")))
            else:
                result.append(Sent(target, body.get("body")))
        return result


class Waabot(Kind):
    """The first instance of the simulator's Waabot account."""

    name = "waabot"
    phone = "2349040613521"
    secret_field = CONF_PASSWORD
    send_path = "/api/v1/whatsapp/message"
    status_path = "/api/v1/whatsapp/instance"

    def entry_data(self) -> dict[str, Any]:
        return waabot_options(self.simulator)

    def credentials(self) -> dict[str, Any]:
        return {
            CONF_EMAIL: WAABOT_EMAIL,
            CONF_PASSWORD: WAABOT_PASSWORD,
            CONF_URL: f"{self.simulator.url}/api/v1",
        }

    def slot_choice(self) -> tuple[str, dict[str, Any]]:
        return "waabot_instance", {"session_id": self.entry_data()["session_id"]}

    @property
    def _control(self) -> str:
        return f"waabot/instances/{self.entry_data()['session_id']}"

    async def scan(self) -> None:
        await self.simulator.control(
            f"{self._control}/scan", {"number": self.phone, "name": "Home"}
        )

    async def unlink_from_phone(self) -> None:
        await self.simulator.control(f"{self._control}/logout_from_phone")

    async def write(self, **message: Any) -> None:
        await self.simulator.control(f"{self._control}/inbound", message)

    async def forget_webhook(self) -> None:
        await self.simulator.control(f"{self._control}/webhook", {"url": ""})

    async def sent(self) -> list[Sent]:
        result = []
        for record in await self.simulator.get(f"{self._control}/sent"):
            body = record["body"]
            data = record.get("file", {}).get("base64")
            result.append(
                Sent(
                    body["chatId"],
                    body.get("message"),
                    from_data_url(data, "file") if data else None,
                )
            )
        return result


class Waha(Kind):
    """The simulator's WAHA server, session "default" (NOWEB, Plus: signed posts)."""

    name = "waha"
    phone = "31612345678"
    person_server = "c.us"
    secret_field = CONF_API_KEY
    send_path = "/api/sendText"
    status_path = "/api/sessions/default"
    _control = "waha/sessions/default"

    def entry_data(self) -> dict[str, Any]:
        return {CONF_URL: self.simulator.url, CONF_API_KEY: WAHA_KEY, "session": "default"}

    def credentials(self) -> dict[str, Any]:
        return self.entry_data()

    async def scan(self) -> None:
        await self.simulator.control(
            f"{self._control}/scan", {"number": self.phone, "name": "Home"}
        )

    async def unlink_from_phone(self) -> None:
        await self.simulator.control(f"{self._control}/logout_from_phone")

    async def write(self, **message: Any) -> None:
        await self.simulator.control(f"{self._control}/inbound", message)

    def message_id(self, given: str, chat: str | None = None) -> str:
        if chat and chat.endswith("@g.us"):
            return f"false_{chat}_{given}_{CONTACT}@c.us"
        return f"false_{chat or self.chat_id()}_{given}"

    async def forget_webhook(self) -> None:
        await self.simulator.control(f"{self._control}/webhooks", {"webhooks": []})

    async def sent(self) -> list[Sent]:
        result = []
        for record in await self.simulator.get(f"{self._control}/sent"):
            body = record["body"]
            if record["endpoint"] not in (
                "sendText",
                "sendImage",
                "sendFile",
                "sendVideo",
                "sendVoice",
            ):
                continue
            file = body.get("file")
            result.append(
                Sent(
                    body["chatId"].removesuffix("@c.us"),
                    body.get("text"),
                    from_data_url(file["data"], "file") if file else None,
                )
            )
        return result


class Evolution(Kind):
    """The simulator's Evolution API server, instance "home-assistant" (created by the flow)."""

    name = "evolution"
    phone = "5511912345678"
    unlinked_state = "logged_out"  # the socket closes with reason 401
    secret_field = CONF_API_KEY
    send_path = "/message/sendText/home-assistant"
    status_path = "/instance/fetchInstances"
    _control = "evolution/instances/home-assistant"

    def entry_data(self) -> dict[str, Any]:
        return {
            CONF_URL: self.simulator.url,
            CONF_API_KEY: EVOLUTION_KEY,
            "instance": "home-assistant",
        }

    def credentials(self) -> dict[str, Any]:
        return self.entry_data()

    async def scan(self) -> None:
        await self.simulator.control(
            f"{self._control}/scan", {"number": self.phone, "name": "Home"}
        )

    async def unlink_from_phone(self) -> None:
        await self.simulator.control(f"{self._control}/logout_from_phone")

    async def write(self, **message: Any) -> None:
        await self.simulator.control(f"{self._control}/inbound", message)

    async def forget_webhook(self) -> None:
        await self.simulator.control(f"{self._control}/webhook", {"url": ""})

    async def sent(self) -> list[Sent]:
        result = []
        for record in await self.simulator.get(f"{self._control}/sent"):
            body = record["body"]
            if record["endpoint"] not in (
                "sendText",
                "sendMedia",
                "sendWhatsAppAudio",
                "sendSticker",
            ):
                continue
            data = body.get("media") or body.get("audio") or body.get("sticker")
            result.append(
                Sent(
                    body["number"],
                    body.get("text"),
                    from_data_url(data, "file") if data else None,
                )
            )
        return result


class GreenApi(Kind):
    """The simulator's GREEN-API instance; the test Home Assistant can be reached, so its
    webhook (the queue where it cannot: tests/integration/test_greenapi_queue.py)."""

    name = "greenapi"
    phone = "79001234567"
    person_server = "c.us"
    secret_field = "api_token"
    send_path = f"/waInstance{GREEN_ID}/sendMessage/{GREEN_TOKEN}"
    status_path = f"/waInstance{GREEN_ID}/getStateInstance/{GREEN_TOKEN}"

    def entry_data(self) -> dict[str, Any]:
        return greenapi_options(self.simulator)

    def credentials(self) -> dict[str, Any]:
        return self.entry_data()

    async def scan(self) -> None:
        await self.simulator.control("greenapi/scan", {"number": self.phone, "name": "Home"})

    async def unlink_from_phone(self) -> None:
        await self.simulator.control("greenapi/logout_from_phone")

    async def write(self, **message: Any) -> None:
        await self.simulator.control("greenapi/inbound", message)

    async def forget_webhook(self) -> None:
        await self.simulator.control(
            "greenapi/settings", {"webhookUrl": "", "incomingWebhook": "no"}
        )

    async def sent(self) -> list[Sent]:
        result = []
        for record in await self.simulator.get("greenapi/sent"):
            if record["method"] not in ("sendMessage", "sendFileByUpload"):
                continue
            body = record["body"]
            data = record.get("file", {}).get("base64")
            result.append(
                Sent(
                    body["chatId"].removesuffix("@c.us"),
                    body.get("message"),
                    from_data_url(data, "file") if data else None,
                )
            )
        return result


class CloudApi(Kind):
    """The simulator's Cloud API number; its webhook is set in "Meta's dashboard" (the control
    API) to Home Assistant's, with the entry's verify token, before the first message."""

    name = "cloudapi"
    phone = "15550953877"
    secret_field = "access_token"
    links_phone = False
    has_groups = False
    sets_webhook = False
    send_path = f"/v21.0/{CLOUD.phone_number_id}/messages"
    status_path = f"/v21.0/{CLOUD.phone_number_id}"

    @classmethod
    def simulator_options(cls) -> dict[str, Any]:
        # The contacts of these tests count as having written within 24 hours (the rule has
        # its own tests).
        return {"cloudapi": CloudApiConfig(enforce_window=False)}

    def entry_data(self) -> dict[str, Any]:
        return cloudapi_options(self.simulator)

    def credentials(self) -> dict[str, Any]:
        return self.entry_data()

    async def start_session(self) -> None:
        """The user enters Home Assistant's webhook in the app's dashboard (Meta checks it
        with its handshake before the first post)."""
        await self.simulator.control(
            "cloudapi/dashboard",
            {"callback_url": f"{HA_URLS[-1]}/api/webhook/{WEBHOOK_ID}", "verify_token": HMAC_KEY},
        )

    async def scan(self) -> None:
        """Nothing to scan."""

    async def unlink_from_phone(self) -> None:
        """Nothing is linked."""

    async def write(self, **message: Any) -> None:
        await self.simulator.control("cloudapi/inbound", message)

    async def forget_webhook(self) -> None:
        await self.simulator.control("cloudapi/dashboard", {"callback_url": ""})

    async def sent(self) -> list[Sent]:
        result = []
        for record in await self.simulator.get("cloudapi/sent"):
            body = record["body"]
            if body.get("status") == "read" or body.get("type") not in (
                "text",
                "image",
                "document",
                "audio",
                "video",
                "sticker",
            ):
                continue
            data = record.get("file", {}).get("base64")
            text = (body.get("text") or {}).get("body")
            result.append(Sent(body["to"], text, from_data_url(data, "file") if data else None))
        return result


KINDS: dict[str, type[Kind]] = {
    "wuzapi": Wuzapi,
    f"wuzapi-{OLD_BUILD}": WuzapiOldBuild,
    "maytapi": Maytapi,
    "chatapi": ChatApi,
    "waabot": Waabot,
    "waha": Waha,
    "evolution": Evolution,
    "greenapi": GreenApi,
    "cloudapi": CloudApi,
}

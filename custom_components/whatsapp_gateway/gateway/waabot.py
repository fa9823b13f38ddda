"""Waabot (formerly wasms): a hosted gateway; an account (e-mail login) holds WhatsApp instances.

Account calls carry a bearer token from `POST /sessions`; instance calls add the instance's
`session_id` and `access_token`. The service documents no webhook payload: the parser reads
the two shapes its engine family produces (see `parse_webhook`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
import hmac
from typing import Any, Final

import aiohttp

from . import payload as p
from .base import Gateway, Response
from .chat_id import ChatId, canonical_jid, parse_chat_id, phone_of
from .chatapi import web_message_from
from .descriptor import (
    PRIVATE,
    AccountChoice,
    AccountPicking,
    CredentialField,
    FieldType,
    GatewayDescriptor,
    GatewayOptions,
)
from .errors import GatewayAuthError, GatewayResponseError
from .media import from_data_url, sniff_image
from .models import (
    Capability,
    InboundEvent,
    IncomingMessage,
    LoginQr,
    MediaKind,
    OutgoingMedia,
    SentMessage,
    SessionState,
    SessionStatus,
)
from .proto import baileys_message, described_media

DEFAULT_URL: Final = "https://api.waabot.com/api/v1"
WEBHOOK_EVENTS: Final = ("onMessage", "onAnyMessage")
_MEDIA_ENDPOINTS: Final = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.VOICE: "audio",
    MediaKind.DOCUMENT: "doc",
}


@dataclass(frozen=True, slots=True)
class WaabotInstance:
    """A WhatsApp instance ("bot") of a Waabot account, with its own credentials."""

    id: str
    session_id: str
    access_token: str
    number: str | None
    status: str | None


class WaabotGateway(Gateway):
    """Client for one instance of a Waabot account (account-level calls need no instance)."""

    kind = "waabot"
    capabilities = frozenset(
        {Capability.WEBHOOK, Capability.LOCATION, Capability.VOICE, Capability.MENTIONS}
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        email: str,
        password: str,
        session_id: str | None = None,
        access_token: str | None = None,
        instance_id: str | None = None,
        base_url: str = DEFAULT_URL,
    ) -> None:
        """The account's login, and the instance's credentials once one is chosen."""
        super().__init__(session, base_url)
        self._email = email
        self._password = password
        self._session_id = session_id
        self._instance_token = access_token
        self._instance_id = instance_id
        self._bearer: str | None = None
        self._refresh: str | None = None
        self._webhook_url: str | None = None

    async def _login(self) -> None:
        """POST /sessions: a bearer token (JWT) and the refresh token that goes with it."""
        response = await self._request(
            "POST",
            "/sessions",
            what="login",
            json_body={"email": self._email, "password": self._password},
        )
        answer = response.json("login")
        token = p.get_str(answer, "accessToken")
        if response.status in (400, 401, 403) or (response.status < 300 and not token):
            raise GatewayAuthError("Waabot rejected the e-mail address or the password")
        if token is None:
            raise GatewayResponseError(f"Waabot's login failed (HTTP {response.status})")
        self._bearer = token
        self._refresh = p.get_str(answer, "refreshToken")

    async def _send_request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Response:
        if self._bearer is None:
            await self._login()
        headers = {"Authorization": f"Bearer {self._bearer}", "x-refresh": self._refresh or ""}
        response = await self._request(
            method,
            path,
            what=what,
            headers=headers,
            json_body=body,
            # A form is consumed by sending it, so each attempt builds its own.
            form=form() if form else None,
            params=params,
        )
        # The server may hand out a fresh access token while the refresh token is valid.
        if renewed := response.headers.get("x-access-token"):
            self._bearer = renewed
        return response

    async def _authorized_request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Response:
        """A request with the bearer token; logs in (again) when it is missing or expired."""
        response = await self._send_request(
            method, path, what=what, body=body, form=form, params=params
        )
        if response.status == 401:
            self._bearer = None  # expired: log in once more and repeat the call
            response = await self._send_request(
                method, path, what=what, body=body, form=form, params=params
            )
        if response.status in (401, 403):
            raise GatewayAuthError(f"Waabot refused the credentials ({what})")
        return response

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        instance: bool = True,
    ) -> Any:
        """One call, for the instance unless told otherwise; returns the envelope's `data`."""
        params = self._instance_params(what) if instance else None
        response = await self._authorized_request(
            method, path, what=what, body=body, form=form, params=params
        )
        if response.status == 204 or not response.body.strip():
            return None
        answer = response.json(what)
        if response.status >= 400 or p.get(answer, "status") is False:
            message = p.get_str(answer, "message") or f"HTTP {response.status}"
            raise GatewayResponseError(f"Waabot refused the {what} request: {message}")
        return p.get(answer, "data")

    def _instance_params(self, what: str) -> dict[str, str]:
        if not self._session_id or not self._instance_token:
            raise GatewayResponseError(f"No Waabot instance is selected for the {what} request")
        return {"session_id": self._session_id, "access_token": self._instance_token}

    # Account

    async def list_instances(self) -> list[WaabotInstance]:
        """GET /whatsapp: the account's instances."""
        data = await self._call("GET", "/whatsapp", what="list instances", instance=False)
        if not isinstance(data, list):
            raise GatewayResponseError("Waabot's instance list is not a list")
        return [_instance_from(item) for item in data]

    async def create_instance(self) -> WaabotInstance:
        """POST /whatsapp/createNewWhatsapp: a new instance, to be paired by QR."""
        data = await self._call(
            "POST", "/whatsapp/createNewWhatsapp", what="create instance", body={}, instance=False
        )
        return _instance_from(data)

    # Session

    async def status(self) -> SessionStatus:
        """GET /whatsapp/instance: linked when the phone is connected; else a QR is waiting."""
        data = await self._call("GET", "/whatsapp/instance", what="status")
        if p.get_bool(data, "error") or not p.get_dict(data, "instance_data"):
            # The engine holds no session for the instance: it has to be started (init).
            return SessionStatus(SessionState.DISCONNECTED, detail=p.get_str(data, "message"))
        instance = p.get_dict(data, "instance_data")
        user = p.get_dict(instance, "user")
        jid = p.get_str(user, "id")
        if not p.get_bool(instance, "phone_connected"):
            return SessionStatus(SessionState.PAIRING, detail="waiting for the QR code scan")
        return SessionStatus(
            state=SessionState.CONNECTED,
            phone=phone_of(jid),
            jid=canonical_jid(jid) if jid else None,
            name=p.get_str(user, "name"),
        )

    async def connect(self) -> None:
        """POST /whatsapp/init starts the instance (it restores a linked session by itself)."""
        config: dict[str, Any] = {"multiDevice": True}
        if self._webhook_url:
            config |= {"setWebhook": True, "webhookUrl": self._webhook_url}
        await self._call(
            "POST",
            "/whatsapp/init",
            what="start instance",
            body={**self._instance_params("start instance"), "config": config},
        )

    async def logout(self) -> None:
        """GET /whatsapp/instance/logout/<_id>."""
        instance_id = self._instance_id
        if instance_id is None:
            found = [i for i in await self.list_instances() if i.session_id == self._session_id]
            if not found:
                raise GatewayResponseError("The Waabot instance is no longer in the account")
            instance_id = self._instance_id = found[0].id
        await self._call("GET", f"/whatsapp/instance/logout/{instance_id}", what="logout")

    async def restart(self) -> None:
        """Waabot has no restart; starting the instance again is the nearest thing."""
        await self.connect()

    async def login_qr(self) -> LoginQr:
        """GET /whatsapp/scan?format=base64text: the QR as base64 (bare, data URL or JSON)."""
        params = {**self._instance_params("QR code"), "format": "base64text"}
        response = await self._authorized_request(
            "GET", "/whatsapp/scan", what="QR code", params=params
        )
        if response.status == 200 and sniff_image(response.body):
            return LoginQr(image=response.body)
        text = response.body.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            answer = response.json("QR code")
            data = p.get(answer, "data")
            text = (
                data if isinstance(data, str) else p.get_str(data, "qrcode", "qr", "base64") or ""
            )
        if response.status >= 300 or not text:
            raise GatewayResponseError(
                f"Waabot has no QR code for this instance (HTTP {response.status})"
            )
        return LoginQr(image=from_data_url(text, "QR code"))

    # Sending

    def _sent(self, data: Any, chat: ChatId) -> SentMessage:
        """The new message's id: Baileys' `key.id`, or a serialized id string."""
        message = p.get_dict(data, "message")
        key = p.get_dict(data, "key") or p.get_dict(message, "key")
        message_id = p.get_str(key, "id") or (data if isinstance(data, str) else "")
        return SentMessage(message_id=message_id, chat_id=str(chat))

    def _check_reply(self, reply_to: str | None) -> None:
        if reply_to:
            raise self._unsupported("replies to a message")

    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """POST /whatsapp/message."""
        self._check_reply(reply_to)
        chat = parse_chat_id(to)
        data = await self._call(
            "POST",
            "/whatsapp/message",
            what="send text",
            body={"chatId": _wire_target(chat), "message": text},
        )
        return self._sent(data, chat)

    async def send_media(
        self,
        to: str,
        media: OutgoingMedia,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
    ) -> SentMessage:
        """Multipart upload to /whatsapp/message/image|video|audio|doc."""
        self._check_reply(reply_to)
        if (endpoint := _MEDIA_ENDPOINTS.get(media.kind)) is None:
            raise self._unsupported("stickers")
        chat = parse_chat_id(to)

        def form() -> aiohttp.FormData:
            fields = aiohttp.FormData()
            fields.add_field(
                "file", media.data, filename=media.filename, content_type=media.mime_type
            )
            fields.add_field("chatId", _wire_target(chat))
            if caption and media.kind in (MediaKind.IMAGE, MediaKind.VIDEO):
                fields.add_field("caption", caption)
            if media.kind is MediaKind.DOCUMENT:
                fields.add_field("filename", media.filename)
            return fields

        data = await self._call(
            "POST", f"/whatsapp/message/{endpoint}", what=f"send {media.kind}", form=form
        )
        return self._sent(data, chat)

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """POST /whatsapp/message with a location (coordinates as strings, as documented)."""
        chat = parse_chat_id(to)
        location = {"name": name or "", "lat": str(latitude), "lng": str(longitude)}
        data = await self._call(
            "POST",
            "/whatsapp/message",
            what="send location",
            body={"chatId": _wire_target(chat), "location": location},
        )
        return self._sent(data, chat)

    # Inbound

    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """PUT /whatsapp/setWebhook for new and own messages; the URL itself is the secret."""
        self._webhook_url = url
        await self._call(
            "PUT",
            "/whatsapp/setWebhook",
            what="set webhook",
            body={
                **self._instance_params("set webhook"),
                "webhook_url": url,
                "events": list(WEBHOOK_EVENTS),
                "requestConfig": {},
            },
        )

    async def get_webhook(self) -> str | None:
        """The webhook URL the instance reports."""
        data = await self._call("GET", "/whatsapp/instance", what="get webhook")
        return p.get_str(p.get_dict(data, "instance_data"), "webhookUrl")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """Waabot cannot sign; refuse bodies that name another instance's session id."""
        try:
            answer = self._webhook_json(body, "Waabot webhook body", keep=True)
        except GatewayResponseError:
            return True  # parse_webhook answers that one
        session_id = p.get_str(answer, "session_id", "sessionId")
        if session_id is None or self._session_id is None:
            return True
        return hmac.compare_digest(session_id.encode(), self._session_id.encode())

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """Messages in the two shapes Waabot's engine family posts.

        Undocumented, so read defensively: an envelope (`event`/`type` plus `data`/`body`/
        `message`, or the bare payload) holding one message or a list, each either a Baileys
        `WebMessageInfo` (`key`, `message`, `pushName`, `messageTimestamp`, as in Waabot's
        own send answers) or a flat WhatsApp Web message (`id`, `from`, `body`, `type`).
        Anything else (connection and receipt notices) is ignored: the status poll covers it.
        """
        answer = self._webhook_json(body, "Waabot webhook body", keep=False)
        if not isinstance(answer, dict | list):
            raise GatewayResponseError("The Waabot webhook body is not JSON object")
        events: list[InboundEvent] = []
        for item in _payload_items(answer):
            if p.get_dict(item, "key"):
                message = _baileys_message_from(item)
                if message is not None:
                    events.append(message)
            elif p.get(item, "id") is not None and p.get(item, "from", "chatId") is not None:
                events.append(web_message_from(item))
        return events


def _payload_items(answer: Any) -> list[dict[str, Any]]:
    """The message objects inside whatever envelope the post used."""
    payload = answer
    if isinstance(answer, dict) and not p.get_dict(answer, "key"):
        for name in ("data", "body", "message", "payload", "messages"):
            inner = p.get(answer, name)
            if isinstance(inner, dict | list):
                payload = inner
                break
    if isinstance(payload, dict) and isinstance(inner := p.get(payload, "messages"), list):
        payload = inner
    items = payload if isinstance(payload, list) else [payload]
    return [item for item in items if isinstance(item, dict)]


def _baileys_message_from(item: dict[str, Any]) -> IncomingMessage | None:
    # The URL in the message points at encrypted bytes: only describe the file.
    return baileys_message(item, lambda content: described_media(content.part))


def _wire_target(chat: ChatId) -> str:
    """Waabot's examples address people by bare digits; groups keep their full id."""
    return chat.phone or chat.jid()


def _instance_from(item: Any) -> WaabotInstance:
    settings = p.get_dict(item, "settings")
    return WaabotInstance(
        id=p.require_str(item, "_id", what="instance"),
        session_id=p.require_str(item, "session_id", what="instance"),
        access_token=p.require_str(settings, "access_token", what="instance settings"),
        number=p.get_str(settings, "bot_number"),
        status=p.get_str(settings, "status"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WaabotOptions(GatewayOptions):
    """The account's login, and the chosen instance's credentials."""

    url: str = DEFAULT_URL
    email: str = field(metadata=PRIVATE)
    password: str = field(metadata=PRIVATE)
    session_id: str | None = field(default=None, metadata=PRIVATE)
    access_token: str | None = field(default=None, metadata=PRIVATE)
    instance_id: str | None = field(default=None, metadata=PRIVATE)


def _instance_choice(instance: WaabotInstance) -> AccountChoice:
    return AccountChoice(
        instance.session_id,
        SessionState.CONNECTED if instance.status == "CONNECTED" else SessionState.PAIRING,
        {
            "session_id": instance.session_id,
            "access_token": instance.access_token,
            "instance_id": instance.id,
        },
        instance.number,
    )


DESCRIPTOR: Final = GatewayDescriptor(
    gateway=WaabotGateway,
    name="Waabot",
    cloud=True,
    options=WaabotOptions,
    credentials=(
        CredentialField("email", FieldType.EMAIL),
        CredentialField("password", FieldType.PASSWORD),
        CredentialField("url", FieldType.URL, required=False, default=DEFAULT_URL),
    ),
    build=lambda session, options: WaabotGateway(
        session,
        email=options.email,
        password=options.password,
        session_id=options.session_id,
        access_token=options.access_token,
        instance_id=options.instance_id,
        base_url=options.url,
    ),
    accounts=AccountPicking(
        noun="instance",
        option="session_id",
        fetch=WaabotGateway.list_instances,
        create=WaabotGateway.create_instance,
        choice=_instance_choice,
    ),
)

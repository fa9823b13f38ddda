"""Maytapi: a hosted gateway; a product (API key) holds numbered phones (WhatsApp accounts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp

from . import payload as p
from .base import Gateway
from .chat_id import ChatId, canonical_jid, parse_chat_id, people_of, phone_of
from .descriptor import (
    PRIVATE,
    AccountChoice,
    AccountPicking,
    CredentialField,
    FieldType,
    GatewayDescriptor,
    GatewayOptions,
)
from .errors import GatewayAuthError, GatewayResponseError, InvalidChatId
from .media import PNG_SIGNATURE, to_data_url
from .models import (
    MEDIA_MESSAGE_KINDS,
    Capability,
    Contact,
    DeliveryStatus,
    InboundEvent,
    InboundMedia,
    IncomingMessage,
    Location,
    LoginQr,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    SentMessage,
    SessionEvent,
    SessionState,
    SessionStatus,
)

DEFAULT_URL: Final = "https://api.maytapi.com"

_MESSAGE_KINDS: Final = {
    "text": MessageKind.TEXT,
    "image": MessageKind.IMAGE,
    "video": MessageKind.VIDEO,
    "document": MessageKind.DOCUMENT,
    "audio": MessageKind.AUDIO,
    "ptt": MessageKind.VOICE,
    "sticker": MessageKind.STICKER,
    "location": MessageKind.LOCATION,
    "vcard": MessageKind.CONTACT,
    "multi_vcard": MessageKind.CONTACT,
    "reaction": MessageKind.REACTION,
    "poll": MessageKind.POLL,
}
# ackType names; one tick ("delivered" to WhatsApp's server) is what we call sent.
_ACK_TYPES: Final = {
    "delivered": DeliveryStatus.SENT,
    "reached": DeliveryStatus.DELIVERED,
    "seen": DeliveryStatus.READ,
    "played": DeliveryStatus.PLAYED,
    "failed": DeliveryStatus.FAILED,
}
_ACK_CODES: Final = {
    1: DeliveryStatus.SENT,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.READ,
    4: DeliveryStatus.PLAYED,
}
_PHONE_STATES: Final = {
    "active": SessionState.CONNECTED,
    "qr-code": SessionState.PAIRING,
    "idle": SessionState.PAIRING,
    "loading": SessionState.CONNECTING,
    "phone-error": SessionState.DISCONNECTED,
    "disabled": SessionState.FAILED,
}


@dataclass(frozen=True, slots=True)
class MaytapiPhone:
    """A phone (WhatsApp account slot) of a Maytapi product."""

    id: str
    number: str | None
    status: str | None

    @property
    def state(self) -> SessionState:
        """The phone's state as a session state."""
        return _PHONE_STATES.get(self.status or "", SessionState.DISCONNECTED)


class MaytapiGateway(Gateway):
    """Client for one phone of a Maytapi product (product-level calls need no phone)."""

    kind = "maytapi"
    capabilities = frozenset(
        {
            Capability.MENTIONS,
            Capability.REPLY,
            Capability.RECEIPTS,
            Capability.WEBHOOK,
            Capability.LOCATION,
            Capability.CONTACT,
            Capability.REACTION,
            Capability.EDIT,
            Capability.DELETE,
            Capability.VOICE,
            Capability.CATCH_UP,
        }
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        product_id: str,
        api_key: str,
        phone_id: str | None = None,
        base_url: str = DEFAULT_URL,
    ) -> None:
        """Credentials from the Maytapi console (Settings → Token) and the phone's id."""
        super().__init__(session, base_url)
        self._product_id = product_id
        self._api_key = api_key
        self._phone_id = phone_id

    @property
    def phone_id(self) -> str | None:
        """The phone this client speaks for."""
        return self._phone_id

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        phone: bool = True,
    ) -> Any:
        """One API call under /api/<product>[/<phone>]; returns the decoded JSON answer."""
        response = await self._raw_call(method, path, what=what, body=body, phone=phone)
        answer = response.json(what)
        if response.status >= 400 or p.get(answer, "success") is False:
            message = p.get_str(answer, "message") or f"HTTP {response.status}"
            raise GatewayResponseError(f"Maytapi refused the {what} request: {message}")
        return answer

    async def _raw_call(
        self, method: str, path: str, *, what: str, body: Any = None, phone: bool = True
    ) -> Any:
        prefix = f"/api/{self._product_id}"
        if phone:
            if not self._phone_id:
                raise GatewayResponseError(f"No Maytapi phone is selected for the {what} request")
            prefix += f"/{self._phone_id}"
        response = await self._request(
            method,
            prefix + path,
            what=what,
            headers={"x-maytapi-key": self._api_key},
            json_body=body,
        )
        if response.status in (401, 403):
            raise GatewayAuthError(
                "Maytapi rejected the product id or the API key",
                credential=_refused_credential(response.body.lower()),
            )
        return response

    # Product

    async def list_phones(self) -> list[MaytapiPhone]:
        """GET /listPhones: the phones of the product."""
        answer = await self._call("GET", "/listPhones", what="list phones", phone=False)
        if not isinstance(answer, list):
            raise GatewayResponseError("Maytapi's phone list is not a list")
        return [_phone_from(item) for item in answer]

    async def add_phone(self) -> MaytapiPhone:
        """POST /addPhone: a new phone slot, to be paired by QR."""
        answer = await self._call("POST", "/addPhone", what="add phone", body={}, phone=False)
        return _phone_from(answer)

    # Session

    async def status(self) -> SessionStatus:
        """GET /<phone>/status."""
        answer = await self._call("GET", "/status", what="status")
        status = p.get_dict(answer, "status")
        can_send = p.get(p.get_dict(status, "state"), "canSend")
        if p.get_bool(status, "loggedIn"):
            state = SessionState.DISCONNECTED if can_send is False else SessionState.CONNECTED
        elif p.get_bool(status, "isQr"):
            state = SessionState.PAIRING
        elif p.get_bool(status, "loading"):
            state = SessionState.CONNECTING
        else:
            state = SessionState.DISCONNECTED
        number = p.get_str(status, "number")
        return SessionStatus(
            state=state,
            phone=number,
            jid=f"{number}@c.us" if number else None,
            detail=p.get_str(status, "message"),
        )

    async def connect(self) -> None:
        """Maytapi phones run all the time; a stopped or stuck one is redeployed."""
        if (await self.status()).state in (SessionState.DISCONNECTED, SessionState.FAILED):
            await self.restart()

    async def logout(self) -> None:
        """GET /<phone>/logout: the phone goes back to the QR screen."""
        await self._call("GET", "/logout", what="logout")

    async def restart(self) -> None:
        """GET /<phone>/redeploy."""
        await self._call("GET", "/redeploy", what="redeploy")

    async def login_qr(self) -> LoginQr:
        """GET /<phone>/qrCode answers with the PNG itself."""
        response = await self._raw_call("GET", "/qrCode", what="QR code")
        if response.status == 200 and response.body.startswith(PNG_SIGNATURE):
            return LoginQr(image=response.body)
        if response.status >= 400 or response.body.lstrip().startswith(b"{"):
            answer = response.json("QR code")
            message = p.get_str(answer, "message") or f"HTTP {response.status}"
            raise GatewayResponseError(f"Maytapi has no QR code for this phone: {message}")
        raise GatewayResponseError("Maytapi answered the QR code request with something not a PNG")

    # Sending

    async def _send(
        self, to: str, fields: dict[str, Any], *, what: str, reply_to: str | None = None
    ) -> SentMessage:
        chat = parse_chat_id(to)
        body = {"to_number": _wire_target(chat), **fields}
        if reply_to:
            body["reply_to"] = reply_to
        answer = await self._call("POST", "/sendMessage", what=what, body=body)
        data = p.get_dict(answer, "data")
        chat_id = p.get_str(data, "chatId")
        return SentMessage(
            message_id=p.require_str(data, "msgId", what=f"{what} answer"),
            chat_id=canonical_jid(chat_id) if chat_id else chat.jid("c.us"),
        )

    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """sendMessage type text."""
        return await self._send(
            to, {"type": "text", "message": text}, what="send text", reply_to=reply_to
        )

    async def send_media(
        self,
        to: str,
        media: OutgoingMedia,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
    ) -> SentMessage:
        """sendMessage type media with a data URL; Maytapi infers image/video/audio/document."""
        if media.kind is MediaKind.STICKER:
            raise self._unsupported("stickers")
        fields: dict[str, Any] = {
            "type": "media",
            "message": to_data_url(media.data, media.mime_type),
            "filename": media.filename,
        }
        if caption:
            fields["text"] = caption
        return await self._send(to, fields, what=f"send {media.kind}", reply_to=reply_to)

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """sendMessage type location (coordinates as strings, as the API documents)."""
        fields = {
            "type": "location",
            "latitude": str(latitude),
            "longitude": str(longitude),
            "text": name or "",
        }
        return await self._send(to, fields, what="send location")

    async def send_contact(self, to: str, name: str, vcard: str) -> SentMessage:
        """sendMessage type vcard."""
        fields = {"type": "vcard", "message": {"displayName": name, "vcard": vcard}}
        return await self._send(to, fields, what="send contact")

    async def edit_message(self, to: str, message_id: str, text: str) -> None:
        """sendMessage type edit: the new text, the message in reply_to."""
        await self._send(
            to, {"type": "edit", "message": text}, what="edit message", reply_to=message_id
        )

    async def delete_message(self, to: str, message_id: str) -> None:
        """sendMessage type delete, the message's id as the message."""
        await self._send(to, {"type": "delete", "message": message_id}, what="delete message")

    async def send_reaction(
        self, to: str, message_id: str, emoji: str, *, from_me: bool = False
    ) -> SentMessage:
        """sendMessage type reaction, pointing at the message with reply_to."""
        return await self._send(
            to, {"type": "reaction", "message": emoji}, what="send reaction", reply_to=message_id
        )

    # Inbound

    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """Per-phone webhook with acks on; Maytapi cannot sign, so the URL is the secret."""
        await self._call(
            "POST",
            "/config",
            what="set webhook",
            body={"webhook": {"webhook": url}, "ack_delivery": True},
        )

    async def get_webhook(self) -> str | None:
        """GET /<phone>/config."""
        answer = await self._call("GET", "/config", what="get webhook")
        webhook = p.get(p.get_dict(answer, "status"), "webhook")
        if isinstance(webhook, dict):  # the documented nested shape
            webhook = p.get(webhook, "webhook")
        return webhook if isinstance(webhook, str) and webhook else None

    async def missed_events(self, since: datetime) -> list[InboundEvent]:
        """Incoming messages of this phone from the product's webhook log (GET /logs).

        Maytapi logs every post with the body it carried, delivered or not, so what it posted
        while Home Assistant was down can be read back.
        """
        answer = await self._call("GET", "/logs", what="webhook log", phone=False)
        items = p.get(p.get_dict(answer, "data"), "list")
        events: list[InboundEvent] = []
        for item in items if isinstance(items, list) else []:
            phone = p.get_str(item, "phone")
            created = p.parse_timestamp(p.get(item, "created_at"))
            if (
                p.get_str(item, "type") != "incoming"
                or (phone is not None and self._phone_id is not None and phone != self._phone_id)
                or created is None
                or created < since
            ):
                continue
            body = p.get(p.get_dict(item, "data"), "body")
            try:
                # The log holds the body as posted: an object, or the JSON text of one.
                events += _events_from(
                    p.load_json(body, "logged webhook body") if isinstance(body, str) else body
                )
            except GatewayResponseError:
                continue  # one unreadable entry does not hide the others
        return events

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """Maytapi does not sign; reject bodies that name another product or phone."""
        try:
            answer = self._webhook_json(body, "Maytapi webhook body", keep=True)
        except GatewayResponseError:
            return True
        if not isinstance(answer, dict):
            return True
        product = p.get_str(answer, "product_id", "productId", "pid")
        phone = p.get_str(answer, "phone_id", "phoneId")
        if product is not None and product != self._product_id:
            return False
        return phone is None or self._phone_id is None or phone == str(self._phone_id)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """message, ack (batched or legacy bare array), status and error webhooks."""
        return _events_from(self._webhook_json(body, "Maytapi webhook body", keep=False))


def _events_from(answer: Any) -> list[InboundEvent]:
    """The events of one decoded webhook body (posted, or read back from the log)."""
    if isinstance(answer, list):
        return _acks_from(answer)
    if not isinstance(answer, dict):
        raise GatewayResponseError("The Maytapi webhook body is not a JSON object")
    event_type = p.require_str(answer, "type", what="webhook").lower()
    if event_type == "message":
        message = _message_from(answer)
        return [message] if message else []
    if event_type == "ack":
        data = p.get(answer, "data")
        return _acks_from(data if isinstance(data, list) else [data])
    if event_type == "status":
        status = p.get_str(answer, "status") or ""
        if status not in _PHONE_STATES:
            return []
        return [SessionEvent(_PHONE_STATES[status], reason=status)]
    if event_type == "error":
        return _acks_from([{**answer, "ackType": "failed"}])
    return []


def _refused_credential(answer: bytes) -> str | None:
    """Which credential Maytapi's refusal names, if its message says.

    The exact texts are not documented: a message naming neither is the whole form's error.
    """
    if b"product id" in answer:
        return "product_id"
    if b"token" in answer or b"key" in answer:
        return "api_key"
    return None


def _wire_target(chat: ChatId) -> str:
    """Maytapi takes bare digits for people and the full id for groups."""
    if chat.phone:
        return chat.phone
    if chat.is_group:
        return chat.jid()
    raise InvalidChatId(f"Maytapi cannot send to {chat}; use the phone number instead")


def _phone_from(item: Any) -> MaytapiPhone:
    return MaytapiPhone(
        id=p.require_str(item, "id", what="phone"),
        number=p.get_str(item, "number"),
        status=p.get_str(item, "status"),
    )


def _message_from(answer: dict[str, Any]) -> IncomingMessage | None:
    message = p.get_dict(answer, "message")
    message_type = (p.get_str(message, "type") or "").lower()
    kind = _MESSAGE_KINDS.get(message_type, MessageKind.OTHER)
    short_id = p.require_str(message, "id", what="message")
    chat = p.require_str(answer, "conversation", what="message")
    user = p.get_dict(answer, "user")
    sender_id = p.get_str(user, "id") or chat
    text: str | None = None
    caption: str | None = None
    media: InboundMedia | None = None
    location: Location | None = None
    contact: Contact | None = None
    if kind in (MessageKind.TEXT, MessageKind.REACTION, MessageKind.POLL):
        text = p.get_str(message, "text", "reaction", "message")
    elif kind in MEDIA_MESSAGE_KINDS:
        caption = p.get_str(message, "caption")
        media = InboundMedia(
            mime_type=p.get_str(message, "mime"),
            filename=p.get_str(message, "filename"),
            url=p.get_str(message, "url"),
        )
    elif kind is MessageKind.LOCATION:
        location = _location_from(p.get_str(message, "payload"))
    elif kind is MessageKind.CONTACT:
        cards = p.get(message, "vcardList")
        card = cards[0] if isinstance(cards, list) and cards else {}
        contact = Contact(p.get_str(card, "displayName"), p.get_str(card, "vcard"))
    return IncomingMessage(
        # The serialized id is what replies and reactions must quote.
        message_id=p.get_str(message, "_serialized") or short_id,
        chat_id=canonical_jid(chat),
        sender=p.get_str(user, "phone") or phone_of(sender_id),
        sender_id=sender_id,
        sender_name=p.get_str(user, "name"),
        is_group=chat.endswith("@g.us"),
        from_me=p.get_bool(message, "fromMe"),
        kind=kind,
        timestamp=p.parse_timestamp(p.get(answer, "timestamp")) or datetime.now(UTC),
        text=text,
        caption=caption,
        media=media,
        location=location,
        contact=contact,
        quoted_message_id=p.get_str(p.get_dict(answer, "quoted"), "_serialized", "id"),
        # Mentions are listed as WhatsApp Web ids (…@c.us); bare numbers are read too.
        mentions=people_of(p.get(message, "mentions")),
        raw=answer,
    )


def _location_from(text: str | None) -> Location | None:
    latitude, _, longitude = (text or "").partition(",")
    try:
        return Location(float(latitude), float(longitude))
    except ValueError:
        return None


def _acks_from(items: list[Any]) -> list[InboundEvent]:
    updates: list[InboundEvent] = []
    for item in items:
        message_id = p.get_str(item, "msgId")
        code = p.get(item, "ackCode")
        status = _ACK_TYPES.get((p.get_str(item, "ackType") or "").lower())
        if status is None and isinstance(code, int):
            status = _ACK_CODES.get(code)
        if message_id is None or status is None:
            continue
        chat = p.get_str(item, "chatId")
        updates.append(
            MessageStatusUpdate(
                message_ids=(message_id,),
                chat_id=canonical_jid(chat) if chat else None,
                status=status,
                timestamp=p.parse_timestamp(p.get(item, "time")),
            )
        )
    return updates


@dataclass(frozen=True, slots=True, kw_only=True)
class MaytapiOptions(GatewayOptions):
    """The product's credentials (console → Settings → Token) and the phone's id."""

    url: str = DEFAULT_URL
    product_id: str = field(metadata=PRIVATE)
    api_key: str = field(metadata=PRIVATE)
    phone_id: str | None = None


def _phone_choice(phone: MaytapiPhone) -> AccountChoice:
    return AccountChoice(phone.id, phone.state, {"phone_id": phone.id}, phone.number)


DESCRIPTOR: Final = GatewayDescriptor(
    gateway=MaytapiGateway,
    name="Maytapi",
    cloud=True,
    options=MaytapiOptions,
    credentials=(
        CredentialField("product_id"),
        CredentialField("api_key", FieldType.PASSWORD),
        CredentialField("url", FieldType.URL, required=False, default=DEFAULT_URL),
    ),
    build=lambda session, options: MaytapiGateway(
        session,
        product_id=options.product_id,
        api_key=options.api_key,
        phone_id=options.phone_id,
        base_url=options.url,
    ),
    accounts=AccountPicking(
        noun="phone",
        option="phone_id",
        fetch=MaytapiGateway.list_phones,
        create=MaytapiGateway.add_phone,
        choice=_phone_choice,
    ),
)

"""Evolution API (v2, also the bodies of v1): a self-hosted server of Baileys instances.

An account is one instance, named by the user; the key in `apikey` is the server's global key
(which may create instances) or the instance's own token. Messages are Baileys' `WebMessageInfo`
with Evolution's additions (`messageType`, `message.base64` when the webhook asks for media).
Evolution does not sign its posts: the webhook's secret address protects them, and the instance
token a post names (`apikey`) is checked against the one the instance has.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hmac
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from . import payload as p
from .base import Gateway, Response
from .chat_id import ChatId, canonical_jid, lid_of, parse_chat_id, phone_of
from .descriptor import PRIVATE, CredentialField, FieldType, GatewayDescriptor, GatewayOptions
from .errors import GatewayAuthError, GatewayResponseError, NotTheGateway
from .media import from_data_url
from .models import (
    Capability,
    ChatPresence,
    DeliveryStatus,
    InboundEvent,
    InboundMedia,
    IncomingCall,
    IncomingMessage,
    LoginQr,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    PhoneCheck,
    Poll,
    SentMessage,
    SessionEvent,
    SessionState,
    SessionStatus,
)
from .proto import MessageContent, baileys_message, described_media

WEBHOOK_EVENTS: Final = (
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "CONNECTION_UPDATE",
    "QRCODE_UPDATED",
    "CALL",
)
# messages.update `status` (Baileys' WAMessageStatus by name).
_STATUSES: Final = {
    "ERROR": DeliveryStatus.FAILED,
    "SERVER_ACK": DeliveryStatus.SENT,
    "DELIVERY_ACK": DeliveryStatus.DELIVERED,
    "READ": DeliveryStatus.READ,
    "PLAYED": DeliveryStatus.PLAYED,
}
# Baileys' DisconnectReason.loggedOut: the phone removed the linked device.
LOGGED_OUT_REASON: Final = 401
_MEDIA_TYPES: Final = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.DOCUMENT: "document",
}
_PRESENCES: Final = {
    ChatPresence.TYPING: "composing",
    ChatPresence.RECORDING: "recording",
    ChatPresence.PAUSED: "paused",
}
# How long Evolution shows the presence (it waits this long before answering).
PRESENCE_MS: Final = 1000


class EvolutionGateway(Gateway):
    """Client for one instance of an Evolution API server."""

    kind = "evolution"
    capabilities = frozenset(
        {
            Capability.REPLY,
            Capability.RECEIPTS,
            Capability.PAIRING_CODE,
            Capability.WEBHOOK,
            Capability.LOCATION,
            Capability.REACTION,
            Capability.STICKER,
            Capability.VOICE,
            Capability.MARK_READ,
            Capability.EDIT,
            Capability.DELETE,
            Capability.TYPING,
            Capability.POLL,
            Capability.POLL_VOTES,
            Capability.CALLS,
            Capability.MENTIONS,
            Capability.CHECK_PHONE,
            Capability.MEDIA_DOWNLOAD,
        }
    )

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, *, api_key: str, instance: str
    ) -> None:
        """A client for the named instance of the server at `base_url`."""
        super().__init__(session, base_url)
        self._api_key = api_key
        self._instance = instance
        # The instance's own token, which its posts carry; learnt from the instance list.
        self._instance_token: str | None = None

    @property
    def _name(self) -> str:
        return quote(self._instance, safe="")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One API call; the answer's JSON, its errors mapped."""
        response = await self._request(
            method,
            path,
            what=what,
            headers={"apikey": self._api_key},
            json_body=body,
            params=params,
        )
        if response.status in (401, 403):
            raise GatewayAuthError("Evolution API refused the API key", credential="api_key")
        if response.status >= 400:
            raise _refusal(response, what)
        return response.json(what) if response.body.strip() else None

    # Session

    async def _instance_row(self) -> dict[str, Any] | None:
        """The instance as fetchInstances lists it; None when the server has none of that name.

        v2 lists rows of the instance table, v1 `instance` objects: both are read.
        """
        try:
            rows = await self._call(
                "GET",
                "/instance/fetchInstances",
                what="status",
                params={"instanceName": self._instance},
            )
        except _InstanceNotFound:
            return None
        if not isinstance(rows, list):
            raise NotTheGateway.lacking("Evolution API", "instance list")
        for row in rows:
            inner = p.get_dict(row, "instance") or row
            if p.get_str(inner, "name", "instanceName") == self._instance:
                if token := p.get_str(inner, "token", "apikey"):
                    self._instance_token = token
                return inner
        return None

    async def status(self) -> SessionStatus:
        """open is linked and connected; connecting without an owner waits for the phone."""
        row = await self._instance_row()
        if row is None:
            return SessionStatus(SessionState.DISCONNECTED, detail="no instance", stopped=True)
        state = p.get_str(row, "connectionStatus", "status") or "close"
        owner = p.get_str(row, "ownerJid", "owner")
        if state == "open":
            return SessionStatus(
                SessionState.CONNECTED,
                phone=phone_of(owner),
                jid=canonical_jid(owner) if owner else None,
                name=p.get_str(row, "profileName"),
                detail=state,
            )
        if state == "connecting":
            linked = SessionState.CONNECTING if owner else SessionState.PAIRING
            return SessionStatus(linked, detail=state)
        # close: no socket; connecting starts one (a QR code if it is not linked).
        return SessionStatus(SessionState.DISCONNECTED, detail=state, stopped=True)

    async def connect(self) -> None:
        """Create the instance when the server has none, else connect it."""
        if await self._instance_row() is None:
            body = {
                "instanceName": self._instance,
                "qrcode": True,
                "integration": "WHATSAPP-BAILEYS",
            }
            await self._call("POST", "/instance/create", what="create instance", body=body)
            await self._instance_row()
            return
        await self._connect()

    async def _connect(self, number: str | None = None) -> dict[str, Any]:
        params = {"number": number} if number else None
        answer = await self._call(
            "GET", f"/instance/connect/{self._name}", what="connect", params=params
        )
        if p.get_bool(answer, "error"):
            message = p.get_str(answer, "message") or "it gave no reason"
            raise GatewayResponseError(f"Evolution API could not connect the instance: {message}")
        return answer if isinstance(answer, dict) else {}

    async def logout(self) -> None:
        """DELETE /instance/logout/{instance}."""
        await self._call("DELETE", f"/instance/logout/{self._name}", what="logout")

    async def restart(self) -> None:
        """POST /instance/restart/{instance}."""
        await self._call("POST", f"/instance/restart/{self._name}", what="restart instance")

    async def login_qr(self) -> LoginQr:
        """GET /instance/connect/{instance}: the QR as a data URL."""
        answer = await self._connect()
        image = p.get_str(answer, "base64") or p.get_str(p.get_dict(answer, "qrcode"), "base64")
        if not image:
            raise GatewayResponseError("Evolution API has no QR code for this instance")
        return LoginQr(image=from_data_url(image, "QR code"), payload=p.get_str(answer, "code"))

    async def request_pairing_code(self, phone: str) -> str:
        """GET /instance/connect/{instance}?number=…: the pairing code."""
        number = parse_chat_id(phone).phone
        if number is None:
            raise GatewayResponseError("A pairing code needs a phone number")
        answer = await self._connect(number)
        code = p.get_str(answer, "pairingCode")
        if not code:
            raise GatewayResponseError("Evolution API gave no pairing code")
        return code

    # Sending

    async def _send(
        self, endpoint: str, chat: ChatId, body: dict[str, Any], *, what: str
    ) -> SentMessage:
        answer = await self._call(
            "POST",
            f"/message/{endpoint}/{self._name}",
            what=what,
            body={"number": _number(chat), **body},
        )
        key = p.get_dict(answer, "key")
        return SentMessage(
            message_id=p.require_str(key, "id", what=f"{what} answer"),
            chat_id=canonical_jid(p.get_str(key, "remoteJid") or chat.jid()),
        )

    @staticmethod
    def _quoted(reply_to: str | None) -> dict[str, Any]:
        return {"quoted": {"key": {"id": reply_to}}} if reply_to else {}

    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """POST /message/sendText/{instance}."""
        body = {"text": text, **self._quoted(reply_to)}
        return await self._send("sendText", parse_chat_id(to), body, what="send text")

    async def send_media(
        self,
        to: str,
        media: OutgoingMedia,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
    ) -> SentMessage:
        """sendMedia (base64), sendWhatsAppAudio for voice notes, sendSticker."""
        chat = parse_chat_id(to)
        data = base64.b64encode(media.data).decode()
        quoted = self._quoted(reply_to)
        if media.kind is MediaKind.VOICE:
            body = {"audio": data, **quoted}
            return await self._send("sendWhatsAppAudio", chat, body, what="send voice")
        if media.kind is MediaKind.STICKER:
            return await self._send("sendSticker", chat, {"sticker": data}, what="send sticker")
        body = {
            "mediatype": _MEDIA_TYPES[media.kind],
            "mimetype": media.mime_type,
            "fileName": media.filename,
            "media": data,
            **quoted,
        }
        if caption:
            body["caption"] = caption
        return await self._send("sendMedia", chat, body, what=f"send {media.kind}")

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """POST /message/sendLocation/{instance}."""
        body: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if name:
            body["name"] = name
        return await self._send("sendLocation", parse_chat_id(to), body, what="send location")

    async def send_reaction(
        self, to: str, message_id: str, emoji: str, *, from_me: bool = False
    ) -> SentMessage:
        """POST /message/sendReaction/{instance} with the reacted message's key."""
        chat = parse_chat_id(to)
        key = {"remoteJid": chat.jid(), "fromMe": from_me, "id": message_id}
        answer = await self._call(
            "POST",
            f"/message/sendReaction/{self._name}",
            what="send reaction",
            body={"key": key, "reaction": emoji},
        )
        sent = p.get_str(p.get_dict(answer, "key"), "id") or message_id
        return SentMessage(message_id=sent, chat_id=chat.jid())

    async def edit_message(self, to: str, message_id: str, text: str) -> None:
        """POST /chat/updateMessage/{instance}."""
        chat = parse_chat_id(to)
        body = {
            "number": _number(chat),
            "key": {"remoteJid": chat.jid(), "fromMe": True, "id": message_id},
            "text": text,
        }
        await self._call(
            "POST", f"/chat/updateMessage/{self._name}", what="edit message", body=body
        )

    async def delete_message(self, to: str, message_id: str) -> None:
        """DELETE /chat/deleteMessageForEveryone/{instance}."""
        chat = parse_chat_id(to)
        body = {"id": message_id, "fromMe": True, "remoteJid": chat.jid()}
        path = f"/chat/deleteMessageForEveryone/{self._name}"
        await self._call("DELETE", path, what="delete message", body=body)

    async def send_presence(self, to: str, presence: ChatPresence) -> None:
        """POST /chat/sendPresence/{instance} (Evolution shows it for `delay` ms)."""
        body = {
            "number": _number(parse_chat_id(to)),
            "presence": _PRESENCES[presence],
            "delay": PRESENCE_MS,
        }
        await self._call("POST", f"/chat/sendPresence/{self._name}", what="send typing", body=body)

    async def send_poll(
        self, to: str, question: str, options: Sequence[str], *, multiple: bool = False
    ) -> SentMessage:
        """POST /message/sendPoll/{instance}."""
        body = {
            "name": question,
            "selectableCount": len(options) if multiple else 1,
            "values": list(options),
        }
        return await self._send("sendPoll", parse_chat_id(to), body, what="send poll")

    async def mark_read(
        self, chat_id: str, message_ids: Sequence[str], *, sender: str | None = None
    ) -> None:
        """POST /chat/markMessageAsRead/{instance} with the messages' keys."""
        chat = parse_chat_id(chat_id).jid()
        keys = [
            {"id": message_id, "fromMe": False, "remoteJid": chat} for message_id in message_ids
        ]
        path = f"/chat/markMessageAsRead/{self._name}"
        await self._call("POST", path, what="mark read", body={"readMessages": keys})

    async def check_phones(self, phones: Sequence[str]) -> list[PhoneCheck]:
        """POST /chat/whatsappNumbers/{instance}."""
        numbers = [parse_chat_id(phone).phone or phone for phone in phones]
        answer = await self._call(
            "POST",
            f"/chat/whatsappNumbers/{self._name}",
            what="check numbers",
            body={"numbers": numbers},
        )
        items = answer if isinstance(answer, list) else []
        found = {p.get_str(item, "number"): item for item in items if isinstance(item, dict)}
        results = []
        for number in numbers:
            item = found.get(number, {})
            jid = p.get_str(item, "jid")
            results.append(
                PhoneCheck(number, p.get_bool(item, "exists"), canonical_jid(jid) if jid else None)
            )
        return results

    # Inbound

    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """POST /webhook/set/{instance}: our URL, one path for every event, media inlined."""
        await self._instance_row()  # the instance's token, which its posts carry
        hook = {
            "enabled": True,
            "url": url,
            "byEvents": False,
            "base64": True,
            "events": list(WEBHOOK_EVENTS),
        }
        await self._call(
            "POST", f"/webhook/set/{self._name}", what="set webhook", body={"webhook": hook}
        )

    async def _webhook(self) -> dict[str, Any]:
        answer = await self._call("GET", f"/webhook/find/{self._name}", what="get webhook")
        return answer if isinstance(answer, dict) else {}

    async def get_webhook(self) -> str | None:
        """GET /webhook/find/{instance}: the URL, when the webhook is enabled."""
        hook = await self._webhook()
        return p.get_str(hook, "url") if p.get_bool(hook, "enabled") else None

    async def webhook_matches(self, url: str, secret: str | None) -> bool:
        """Enabled, our URL, one path for all events, media inlined, and messages."""
        hook = await self._webhook()
        events = p.get(hook, "events")
        return (
            p.get_bool(hook, "enabled")
            and p.get_str(hook, "url") == url
            and not p.get_bool(hook, "webhookByEvents", "byEvents")
            and p.get_bool(hook, "webhookBase64", "base64")
            and isinstance(events, list)
            and "MESSAGES_UPSERT" in events
        )

    @property
    def webhook_auth(self) -> str:
        """The secret URL, and the instance token each post names."""
        return "secret_url"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """A post must name our instance, and carry our key or the instance's token.

        A server that does not expose tokens puts none in its posts: those pass on the URL.
        """
        try:
            envelope = self._webhook_json(body, "Evolution API webhook body", keep=True)
        except GatewayResponseError:
            return True  # parse_webhook says what is wrong with it
        instance = p.get_str(envelope, "instance")
        if instance is not None and not _same(instance, self._instance):
            return False
        key = p.get_str(envelope, "apikey")
        if not key:
            return True  # the server does not expose tokens in its posts
        return _same(key, self._api_key) or (
            self._instance_token is not None and _same(key, self._instance_token)
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """`{event, instance, data, apikey, …}`; event names dotted (v2) or upper case (v1)."""
        envelope = self._webhook_json(body, "Evolution API webhook body", keep=False)
        if not isinstance(envelope, dict):
            raise GatewayResponseError("The Evolution API webhook body is not a JSON object")
        event = (p.get_str(envelope, "event") or "").lower().replace("_", ".")
        data = p.get(envelope, "data")
        items = data if isinstance(data, list) else [data]
        found = (_event_from(event, item) for item in items if isinstance(item, dict))
        return [item for item in found if item is not None]

    async def download_media(self, media: InboundMedia) -> InboundMedia:
        """POST /chat/getBase64FromMediaMessage/{instance} with the message's key."""
        if media.download is None:
            raise GatewayResponseError("The message's media has nothing to download")
        answer = await self._call(
            "POST",
            f"/chat/getBase64FromMediaMessage/{self._name}",
            what="download media",
            body={"message": {"key": media.download["key"]}},
        )
        data = _decoded(p.get_str(answer, "base64"))
        if data is None:
            raise GatewayResponseError("Evolution API sent no media for the message")
        return InboundMedia(
            mime_type=media.mime_type or p.get_str(answer, "mimetype"),
            filename=media.filename or p.get_str(answer, "fileName"),
            url=media.url,
            data=data,
        )


class _InstanceNotFound(GatewayResponseError):
    """The server holds no instance of that name (404)."""


def _refusal(response: Response, what: str) -> GatewayResponseError:
    """Evolution's error: `{status, error, response: {message}}`; message may be a list."""
    answer = response.json_or_none(what)
    message = p.get(p.get_dict(answer, "response"), "message")
    if isinstance(message, list):
        message = "; ".join(str(item) for item in message)
    text = str(message or p.get_str(answer, "error") or f"HTTP {response.status}")
    if response.status == 404 and "instance" in text.lower() and "not found" in text.lower():
        return _InstanceNotFound(f"Evolution API has no such instance: {text}")
    if response.status == 404 and answer is None:
        return NotTheGateway.not_found("Evolution API", what)
    return GatewayResponseError(f"Evolution API refused the {what} request: {text}")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _number(chat: ChatId) -> str:
    """Evolution takes bare digits for people, the full id for groups and LIDs."""
    return chat.phone or chat.jid()


def _decoded(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        return base64.b64decode(text.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        return None


def _event_from(event: str, data: dict[str, Any]) -> InboundEvent | None:
    if event == "messages.upsert":
        return baileys_message(data, lambda content: _media_of(data, content))
    if event == "messages.update":
        return _status_from(data)
    if event == "messages.delete":
        return _deletion_from(data)
    if event == "connection.update":
        return _connection_from(data)
    if event == "qrcode.updated":
        qrcode = p.get_dict(data, "qrcode")
        image = p.get_str(qrcode, "base64")
        try:
            qr = LoginQr(image=from_data_url(image, "QR code")) if image else None
        except GatewayResponseError:
            qr = None
        return SessionEvent(SessionState.PAIRING, reason="qr", qr=qr)
    if event == "call":
        return _call_from(data)
    return None


def _media_of(data: dict[str, Any], content: MessageContent) -> InboundMedia:
    """The file: inlined as `message.base64` when the webhook asks for it, else fetched."""
    described = described_media(content.part)
    inline = _decoded(p.get_str(p.get_dict(data, "message"), "base64"))
    key = p.get_dict(data, "key")
    return InboundMedia(
        mime_type=described.mime_type,
        filename=described.filename,
        data=inline,
        download=None if inline is not None else {"key": {"id": p.get_str(key, "id")}},
    )


def _vote_from(data: dict[str, Any], tally: list[Any]) -> IncomingMessage | None:
    """A vote in a direct chat, where the voter is the chat's contact.

    Evolution sends the poll's tally (`pollUpdates`: each option with its voters).
    """
    poll_id, chat = p.get_str(data, "keyId"), p.get_str(data, "remoteJid")
    if poll_id is None or chat is None or chat.endswith("@g.us"):
        return None  # in a group the tally does not tell who just voted
    voter = canonical_jid(chat)
    selected = tuple(
        name
        for option in tally
        if (name := p.get_str(option, "name")) is not None
        and voter in {canonical_jid(v) for v in p.get_list(option, "voters") if isinstance(v, str)}
    )
    return IncomingMessage(
        message_id=f"{poll_id}:vote:{voter}:{','.join(selected)}",
        chat_id=voter,
        sender=phone_of(chat),
        sender_lid=lid_of(chat),
        sender_id=chat,
        sender_name=None,
        is_group=False,
        from_me=False,
        kind=MessageKind.POLL_VOTE,
        timestamp=datetime.now(UTC),
        quoted_message_id=poll_id,
        poll=Poll(selected=selected),
        raw=data,
    )


def _status_from(data: dict[str, Any]) -> InboundEvent | None:
    tally = p.get(data, "pollUpdates")
    if isinstance(tally, list) and tally:
        return _vote_from(data, tally)
    status = _STATUSES.get(p.get_str(data, "status") or "")
    message_id = p.get_str(data, "keyId") or p.get_str(p.get_dict(data, "key"), "id")
    if status is None or message_id is None or not p.get_bool(data, "fromMe"):
        return None
    chat = p.get_str(data, "remoteJid")
    return MessageStatusUpdate((message_id,), canonical_jid(chat) if chat else None, status)


def _deletion_from(key: dict[str, Any]) -> IncomingMessage | None:
    """messages.delete carries the deleted message's key."""
    message_id, chat = p.get_str(key, "id"), p.get_str(key, "remoteJid")
    if message_id is None or chat is None:
        return None
    sender_id = p.get_str(key, "participant") or chat
    return IncomingMessage(
        message_id=f"deleted:{message_id}",
        chat_id=canonical_jid(chat),
        sender=phone_of(sender_id),
        sender_lid=lid_of(sender_id),
        sender_id=sender_id,
        sender_name=None,
        is_group=chat.endswith("@g.us"),
        from_me=p.get_bool(key, "fromMe"),
        kind=MessageKind.DELETE,
        timestamp=datetime.now(UTC),
        quoted_message_id=message_id,
        raw=key,
    )


def _connection_from(data: dict[str, Any]) -> SessionEvent | None:
    state = p.get_str(data, "state")
    reason = p.get(data, "statusReason")
    if state == "open":
        return SessionEvent(
            SessionState.CONNECTED, reason="open", phone=phone_of(p.get_str(data, "wuid"))
        )
    if state == "connecting":
        return SessionEvent(SessionState.CONNECTING, reason="connecting")
    if state == "close" and reason == LOGGED_OUT_REASON:
        return SessionEvent(SessionState.LOGGED_OUT, reason="logged out from the phone")
    if state in ("close", "refused"):
        return SessionEvent(SessionState.DISCONNECTED, reason=state)
    return None


def _call_from(data: dict[str, Any]) -> IncomingCall | None:
    call_id, caller = p.get_str(data, "id"), p.get_str(data, "from")
    if call_id is None or caller is None:
        return None
    return IncomingCall(
        call_id=call_id,
        caller=phone_of(caller),
        caller_id=canonical_jid(caller),
        ended=p.get_str(data, "status") != "offer",
        timestamp=p.parse_timestamp(p.get(data, "date")),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EvolutionOptions(GatewayOptions):
    """The server's address and key, and the instance that is the account."""

    api_key: str = field(metadata=PRIVATE)
    instance: str

    def configuration_url(self) -> str | None:
        """Evolution's manager."""
        return f"{self.url}/manager"


DESCRIPTOR: Final = GatewayDescriptor(
    gateway=EvolutionGateway,
    name="Evolution API",
    cloud=False,
    options=EvolutionOptions,
    credentials=(
        CredentialField("url", FieldType.URL),
        CredentialField("api_key", FieldType.PASSWORD),
        CredentialField("instance", default="home-assistant"),
    ),
    build=lambda session, options: EvolutionGateway(
        session, options.url, api_key=options.api_key, instance=options.instance
    ),
)

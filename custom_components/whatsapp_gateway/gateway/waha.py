"""WAHA (devlikeapro/waha): a self-hosted HTTP API over one of three engines.

WEBJS drives WhatsApp Web in a browser, NOWEB speaks the protocol through Baileys and GOWS
through whatsmeow. WAHA gives every engine the same API and the same webhook envelope; only the
raw message it adds (`_data`) and the answers to sends differ, and both are read here. One WAHA
server holds sessions by name; an account is one session. The API key goes in `X-Api-Key`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import hmac
from typing import Any, Final
from urllib.parse import quote

import aiohttp
from yarl import URL

from . import payload as p
from .base import Gateway, Response
from .chat_id import ChatId, canonical_jid, lid_of, parse_chat_id, phone_of
from .descriptor import (
    PRIVATE,
    CredentialField,
    FieldType,
    GatewayDescriptor,
    GatewayOptions,
)
from .errors import GatewayAuthError, GatewayResponseError, NotTheGateway
from .media import from_data_url, sniff_image
from .models import (
    MEDIA_MESSAGE_KINDS,
    Capability,
    ChatPresence,
    DeliveryStatus,
    InboundEvent,
    InboundMedia,
    IncomingCall,
    IncomingMessage,
    Location,
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
from .proto import MessageContent, read_content

DEFAULT_SESSION: Final = "default"
API_KEY_HEADER: Final = "X-Api-Key"
SIGNATURE_HEADER: Final = "X-Webhook-Hmac"
# The events every WAHA release knows, and the one newer releases add (older ones refuse it).
WEBHOOK_EVENTS: Final = (
    "message.any",
    "message.ack",
    "message.reaction",
    "message.revoked",
    "session.status",
    "poll.vote",
    "call.received",
)
NEWER_EVENTS: Final = ("message.edited",)
_STATES: Final = {
    "WORKING": SessionState.CONNECTED,
    "STARTING": SessionState.CONNECTING,
    "SCAN_QR_CODE": SessionState.PAIRING,
    "STOPPED": SessionState.DISCONNECTED,
    "FAILED": SessionState.DISCONNECTED,
}
# message.ack's `ack`: ERROR -1, PENDING 0, SERVER 1, DEVICE 2, READ 3, PLAYED 4.
_ACKS: Final = {
    -1: DeliveryStatus.FAILED,
    1: DeliveryStatus.SENT,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.READ,
    4: DeliveryStatus.PLAYED,
}
_MEDIA_ENDPOINTS: Final = {
    MediaKind.IMAGE: "/api/sendImage",
    MediaKind.VIDEO: "/api/sendVideo",
    MediaKind.VOICE: "/api/sendVoice",
    MediaKind.AUDIO: "/api/sendFile",
    MediaKind.DOCUMENT: "/api/sendFile",
}
# WhatsApp Web's message types (WEBJS `_data.type`), for messages without a protobuf.
_WEB_KINDS: Final = {
    "chat": MessageKind.TEXT,
    "image": MessageKind.IMAGE,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.AUDIO,
    "ptt": MessageKind.VOICE,
    "document": MessageKind.DOCUMENT,
    "sticker": MessageKind.STICKER,
    "location": MessageKind.LOCATION,
    "vcard": MessageKind.CONTACT,
    "multi_vcard": MessageKind.CONTACT,
    "poll_creation": MessageKind.POLL,
}
_PRESENCES: Final = {
    ChatPresence.TYPING: "typing",
    ChatPresence.RECORDING: "recording",
    ChatPresence.PAUSED: "paused",
}


class WahaGateway(Gateway):
    """Client for one session of a WAHA server."""

    kind = "waha"
    capabilities = frozenset(
        {
            Capability.REPLY,
            Capability.RECEIPTS,
            Capability.PAIRING_CODE,
            Capability.WEBHOOK,
            Capability.HMAC,
            Capability.LOCATION,
            Capability.CONTACT,
            Capability.REACTION,
            Capability.VOICE,
            Capability.MARK_READ,
            Capability.EDIT,
            Capability.DELETE,
            Capability.TYPING,
            Capability.POLL,
            Capability.POLL_VOTES,
            Capability.CALLS,
            Capability.CHECK_PHONE,
            Capability.MEDIA_DOWNLOAD,
        }
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        api_key: str | None = None,
        session_name: str = DEFAULT_SESSION,
    ) -> None:
        """A client for the named session of the WAHA server at `base_url`."""
        super().__init__(session, base_url)
        self._api_key = api_key
        self._name = session_name
        # Whether the server signs its webhook posts: WAHA Plus does, WAHA Core cannot.
        self._signs: bool | None = None

    @property
    def session_name(self) -> str:
        """The WAHA session this client speaks for."""
        return self._name

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One API call; the answer's JSON (None when empty), its errors mapped."""
        response = await self._send(method, path, what=what, body=body, params=params)
        if not response.body.strip():
            return None
        return response.json(what)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        accept: str = "application/json",
    ) -> Response:
        headers = {"Accept": accept}
        if self._api_key:
            headers[API_KEY_HEADER] = self._api_key
        response = await self._request(
            method, path, what=what, headers=headers, json_body=body, params=params
        )
        if response.status in (401, 403):
            raise GatewayAuthError("WAHA refused the API key", credential="api_key")
        if response.status >= 400:
            raise _refusal(response, what)
        return response

    def _session_path(self, suffix: str = "") -> str:
        return f"/api/sessions/{quote(self._name, safe='')}{suffix}"

    # Session

    async def _session_info(self) -> dict[str, Any] | None:
        """GET /api/sessions/{name}; None when the server holds no such session."""
        try:
            info = await self._call("GET", self._session_path(), what="status")
        except _SessionNotFound:
            return None
        if not isinstance(info, dict) or "status" not in info:
            raise NotTheGateway.lacking("WAHA", "session")
        return info

    async def status(self) -> SessionStatus:
        """The session's state; WORKING is linked and connected."""
        info = await self._session_info()
        if info is None:
            return SessionStatus(SessionState.DISCONNECTED, detail="no session", stopped=True)
        name = p.get_str(info, "status") or ""
        state = _STATES.get(name, SessionState.DISCONNECTED)
        me = p.get_dict(info, "me")
        jid = p.get_str(me, "id")
        return SessionStatus(
            state=state,
            phone=phone_of(jid) if state is SessionState.CONNECTED else None,
            jid=canonical_jid(jid) if jid and state is SessionState.CONNECTED else None,
            name=p.get_str(me, "pushName"),
            detail=name.lower() or None,
            # WAHA runs nothing for a stopped (or missing) session: starting it is safe.
            stopped=name == "STOPPED",
        )

    async def connect(self) -> None:
        """Create the session if the server has none, else start it (FAILED: restart it)."""
        info = await self._session_info()
        if info is None:
            body = {"name": self._name, "start": True}
            await self._call("POST", "/api/sessions", what="create session", body=body)
        elif p.get_str(info, "status") == "FAILED":
            await self._call("POST", self._session_path("/restart"), what="restart session")
        elif p.get_str(info, "status") == "STOPPED":
            await self._call("POST", self._session_path("/start"), what="start session")

    async def logout(self) -> None:
        """POST /api/sessions/{name}/logout (WAHA starts it again, showing a new QR)."""
        await self._call("POST", self._session_path("/logout"), what="logout")

    async def restart(self) -> None:
        """POST /api/sessions/{name}/restart."""
        await self._call("POST", self._session_path("/restart"), what="restart session")

    async def login_qr(self) -> LoginQr:
        """GET /api/{session}/auth/qr as a PNG (some releases answer base64 in JSON)."""
        path = f"/api/{quote(self._name, safe='')}/auth/qr"
        response = await self._send(
            "GET", path, what="QR code", params={"format": "image"}, accept="image/png"
        )
        if sniff_image(response.body):
            return LoginQr(image=response.body)
        data = p.get_str(response.json("QR code"), "data")
        if not data:
            raise GatewayResponseError("WAHA answered the QR code request without an image")
        return LoginQr(image=from_data_url(data, "QR code"))

    async def request_pairing_code(self, phone: str) -> str:
        """POST /api/{session}/auth/request-code: a code such as ABCD-EFGH."""
        number = parse_chat_id(phone).phone
        if number is None:
            raise GatewayResponseError("A pairing code needs a phone number")
        data = await self._call(
            "POST",
            f"/api/{quote(self._name, safe='')}/auth/request-code",
            what="pairing code",
            body={"phoneNumber": number},
        )
        return p.require_str(data, "code", what="pairing code answer")

    # Sending

    def _sent(self, answer: Any, chat: ChatId) -> SentMessage:
        return SentMessage(message_id=sent_id_of(answer), chat_id=_wire(chat))

    def _message_body(self, chat: ChatId, reply_to: str | None, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"session": self._name, "chatId": _wire(chat), **fields}
        if reply_to:
            body["reply_to"] = reply_to
        return body

    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """POST /api/sendText."""
        chat = parse_chat_id(to)
        body = self._message_body(chat, reply_to, text=text)
        return self._sent(
            await self._call("POST", "/api/sendText", what="send text", body=body), chat
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
        """POST /api/sendImage|sendVideo|sendVoice|sendFile with the file as base64."""
        if (endpoint := _MEDIA_ENDPOINTS.get(media.kind)) is None:
            raise self._unsupported("stickers")
        chat = parse_chat_id(to)
        file = {
            "mimetype": media.mime_type,
            "filename": media.filename,
            "data": base64.b64encode(media.data).decode(),
        }
        fields: dict[str, Any] = {"file": file}
        if caption and media.kind is not MediaKind.VOICE:
            fields["caption"] = caption
        body = self._message_body(chat, reply_to, **fields)
        answer = await self._call("POST", endpoint, what=f"send {media.kind}", body=body)
        return self._sent(answer, chat)

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """POST /api/sendLocation."""
        chat = parse_chat_id(to)
        body = self._message_body(
            chat, None, latitude=latitude, longitude=longitude, title=name or ""
        )
        answer = await self._call("POST", "/api/sendLocation", what="send location", body=body)
        return self._sent(answer, chat)

    async def send_contact(self, to: str, name: str, vcard: str) -> SentMessage:
        """POST /api/sendContactVcard."""
        chat = parse_chat_id(to)
        body = self._message_body(chat, None, contacts=[{"vcard": vcard}])
        answer = await self._call("POST", "/api/sendContactVcard", what="send contact", body=body)
        return self._sent(answer, chat)

    async def send_reaction(
        self, to: str, message_id: str, emoji: str, *, from_me: bool = False
    ) -> SentMessage:
        """PUT /api/reaction; WAHA's message ids already name the chat and the author."""
        chat = parse_chat_id(to)
        body = {"session": self._name, "messageId": message_id, "reaction": emoji}
        await self._call("PUT", "/api/reaction", what="send reaction", body=body)
        return SentMessage(message_id=message_id, chat_id=_wire(chat))

    def _message_path(self, chat: ChatId, message_id: str) -> str:
        return (
            f"/api/{quote(self._name, safe='')}/chats/{quote(_wire(chat), safe='')}"
            f"/messages/{quote(message_id, safe='')}"
        )

    async def edit_message(self, to: str, message_id: str, text: str) -> None:
        """PUT /api/{session}/chats/{chat}/messages/{id}."""
        path = self._message_path(parse_chat_id(to), message_id)
        await self._call("PUT", path, what="edit message", body={"text": text})

    async def delete_message(self, to: str, message_id: str) -> None:
        """DELETE /api/{session}/chats/{chat}/messages/{id}: for everyone."""
        path = self._message_path(parse_chat_id(to), message_id)
        await self._call("DELETE", path, what="delete message")

    async def send_presence(self, to: str, presence: ChatPresence) -> None:
        """POST /api/{session}/presence."""
        body = {"chatId": _wire(parse_chat_id(to)), "presence": _PRESENCES[presence]}
        path = f"/api/{quote(self._name, safe='')}/presence"
        await self._call("POST", path, what="send typing", body=body)

    async def send_poll(
        self, to: str, question: str, options: Sequence[str], *, multiple: bool = False
    ) -> SentMessage:
        """POST /api/sendPoll."""
        chat = parse_chat_id(to)
        poll = {"name": question, "options": list(options), "multipleAnswers": multiple}
        body = self._message_body(chat, None, poll=poll)
        answer = await self._call("POST", "/api/sendPoll", what="send poll", body=body)
        return self._sent(answer, chat)

    async def mark_read(
        self, chat_id: str, message_ids: Sequence[str], *, sender: str | None = None
    ) -> None:
        """POST /api/sendSeen, once per message (NOWEB needs each one marked)."""
        chat = parse_chat_id(chat_id)
        for message_id in message_ids:
            body: dict[str, Any] = self._message_body(chat, None, messageId=message_id)
            if sender:
                body["participant"] = _wire(parse_chat_id(sender))
            await self._call("POST", "/api/sendSeen", what="mark read", body=body)

    async def check_phones(self, phones: Sequence[str]) -> list[PhoneCheck]:
        """GET /api/checkNumberStatus, one number at a time."""
        results = []
        for phone in phones:
            number = parse_chat_id(phone).phone or phone
            data = await self._call(
                "GET",
                "/api/checkNumberStatus",
                what="check number",
                params={"phone": number, "session": self._name},
            )
            exists = p.get_bool(data, "numberExists")
            chat = p.get_str(data, "chatId")
            results.append(PhoneCheck(number, exists, canonical_jid(chat) if chat else None))
        return results

    # Inbound

    async def _server_signs(self) -> bool:
        """GET /api/version: only WAHA Plus signs its posts (its `tier`)."""
        if self._signs is None:
            data = await self._call("GET", "/api/version", what="version")
            self._signs = (p.get_str(data, "tier") or "").upper() == "PLUS"
        return self._signs

    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """Put our webhook into the session's config (other webhooks stay); WAHA Plus signs.

        Changing a running session's config restarts it (it stays linked). Releases that
        do not know an event refuse the whole config: then without the newer ones.
        """
        signs = await self._server_signs()
        info = await self._session_info()
        config = dict(p.get_dict(info, "config")) if info else {}
        hook: dict[str, Any] = {
            "url": url,
            "events": [*WEBHOOK_EVENTS, *NEWER_EVENTS],
            # WAHA Plus posts again what Home Assistant did not take (a restart, a reload).
            "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 10},
        }
        if secret and signs:
            hook["hmac"] = {"key": secret}
        # Ours, also under an earlier address of Home Assistant: the same path (webhook id).
        path = URL(url).path
        others = [
            other
            for other in p.get_list(config, "webhooks")
            if isinstance(other, dict) and URL(p.get_str(other, "url") or "").path != path
        ]
        choices = (hook["events"], list(WEBHOOK_EVENTS))
        current = [h for h in p.get_list(config, "webhooks") if h not in others]
        if any(current == [{**hook, "events": events}] for events in choices):
            return  # as wanted already: saving it again would restart the session
        for events in choices:
            config["webhooks"] = [*others, {**hook, "events": events}]
            try:
                await self._save_config(config, exists=info is not None)
            except GatewayResponseError as err:
                if "event" not in str(err).lower() or events is not hook["events"]:
                    raise
                continue
            return

    async def _save_config(self, config: dict[str, Any], *, exists: bool) -> None:
        if exists:
            body: dict[str, Any] = {"config": config}
            await self._call("PUT", self._session_path(), what="set webhook", body=body)
        else:
            # Created stopped: connect starts it.
            body = {"name": self._name, "start": False, "config": config}
            await self._call("POST", "/api/sessions", what="set webhook", body=body)

    def _our_hook(self, info: dict[str, Any] | None, url: str | None) -> dict[str, Any] | None:
        hooks = [
            h for h in p.get_list(p.get_dict(info, "config"), "webhooks") if isinstance(h, dict)
        ]
        if url is not None:
            hooks = [h for h in hooks if p.get_str(h, "url") == url]
        return hooks[0] if hooks else None

    async def get_webhook(self) -> str | None:
        """The first webhook of the session's config."""
        return p.get_str(self._our_hook(await self._session_info(), None), "url")

    async def webhook_matches(self, url: str, secret: str | None) -> bool:
        """Our URL is among the session's webhooks, with messages, and (Plus) our HMAC key."""
        hook = self._our_hook(await self._session_info(), url)
        if hook is None:
            return False
        events = p.get(hook, "events")
        if not isinstance(events, list) or not {"message.any", "message"} & set(events):
            return False
        if secret and await self._server_signs():
            key = p.get_str(p.get_dict(hook, "hmac"), "key")
            return key is not None and hmac.compare_digest(key.encode(), secret.encode())
        return True

    @property
    def webhook_auth(self) -> str:
        """Signed posts (WAHA Plus), or the secret URL (WAHA Core cannot sign)."""
        return "hmac" if self._signs else "secret_url"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """HMAC-SHA512 of the raw body where the server signs; always the session's name."""
        if secret and self._signs:
            signature = p.get_header(headers, SIGNATURE_HEADER) or ""
            expected = hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()
            if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
                return False
        try:
            envelope = self._webhook_json(body, "WAHA webhook body", keep=True)
        except GatewayResponseError:
            return True  # parse_webhook says what is wrong with it
        session = p.get_str(envelope, "session")
        return session is None or hmac.compare_digest(session.encode(), self._name.encode())

    def signature_missing(self, headers: Mapping[str, str], secret: str | None) -> bool:
        """A post without a signature from a server that signs."""
        return bool(secret) and bool(self._signs) and not p.get_header(headers, SIGNATURE_HEADER)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """The event of one envelope: `{id, timestamp, session, engine, event, payload, me}`."""
        envelope = self._webhook_json(body, "WAHA webhook body", keep=False)
        if not isinstance(envelope, dict):
            raise GatewayResponseError("The WAHA webhook body is not a JSON object")
        event = p.get_str(envelope, "event") or ""
        payload = p.get_dict(envelope, "payload")
        found = _event_from(event, payload, p.get_dict(envelope, "me"))
        return [found] if found is not None else []

    async def download_media(self, media: InboundMedia) -> InboundMedia:
        """GET the file WAHA saved, from its files URL, with the API key."""
        if media.download is None:
            raise GatewayResponseError("The message's media has nothing to download")
        # WAHA writes its files URL with the host it was told (often localhost): keep only
        # the path, and ask the address Home Assistant knows.
        target = URL(str(media.download["url"]))
        path = target.raw_path_qs if target.is_absolute() else str(target)
        response = await self._send("GET", path, what="download media", accept="*/*")
        return InboundMedia(
            mime_type=media.mime_type or response.headers.get("Content-Type"),
            filename=media.filename,
            url=media.url,
            data=response.body,
        )


class _SessionNotFound(GatewayResponseError):
    """WAHA holds no session of that name (404)."""


def _refusal(response: Response, what: str) -> GatewayResponseError:
    """WAHA's error: NestJS's `{statusCode, message, error}`, where message may be a list."""
    answer = response.json_or_none(what)
    message = p.get(answer, "message")
    if isinstance(message, list):
        message = "; ".join(str(item) for item in message)
    text = str(message or p.get_str(answer, "error") or f"HTTP {response.status}")
    if response.status == 404 and "session" in text.lower():
        return _SessionNotFound(f"WAHA has no session for the {what} request: {text}")
    if response.status == 404 and answer is None:
        return NotTheGateway.not_found("WAHA", what)
    return GatewayResponseError(f"WAHA refused the {what} request: {text}")


def _wire(chat: ChatId) -> str:
    """WAHA names people `…@c.us` (groups and LIDs keep their server)."""
    return chat.jid("c.us")


def sent_id_of(answer: Any) -> str:
    """The id of a message WAHA sent, whatever its engine answered.

    WAHA's own shape has `id`; WEBJS answers WhatsApp Web's message (`id._serialized`), NOWEB
    Baileys' (`key`), from which WAHA builds the same id: fromMe_chat_id[_participant].
    """
    found = p.get(answer, "id")
    if isinstance(found, str) and found:
        return found
    if isinstance(found, dict) and (serialized := p.get_str(found, "_serialized")):
        return serialized
    key = p.get_dict(answer, "key")
    short = p.get_str(key, "id")
    chat = p.get_str(key, "remoteJid")
    if short is None or chat is None:
        raise GatewayResponseError("WAHA's answer to the send names no message id")
    serialized = f"{str(p.get_bool(key, 'fromMe')).lower()}_{_c_us(chat)}_{short}"
    if participant := p.get_str(key, "participant"):
        serialized += f"_{_c_us(participant)}"
    return serialized


def _c_us(jid: str) -> str:
    return jid.replace("@s.whatsapp.net", "@c.us")


def _event_from(event: str, payload: dict[str, Any], me: dict[str, Any]) -> InboundEvent | None:
    if event in ("message", "message.any"):
        return _message_from(payload)
    if event == "message.ack":
        return _ack_from(payload)
    if event == "session.status":
        return _session_event_from(payload, me)
    if event == "message.reaction":
        return _reaction_from(payload)
    if event == "message.revoked":
        return _revoke_from(payload)
    if event == "message.edited":
        return _edit_from(payload)
    if event == "poll.vote":
        return _vote_from(payload)
    if event == "call.received":
        return _call_from(payload)
    return None


def _session_event_from(payload: dict[str, Any], me: dict[str, Any]) -> SessionEvent | None:
    name = p.get_str(payload, "status") or ""
    if name not in _STATES:
        return None
    state = _STATES[name]
    phone = phone_of(p.get_str(me, "id")) if state is SessionState.CONNECTED else None
    return SessionEvent(state, reason=name.lower(), phone=phone)


def _ack_from(payload: dict[str, Any]) -> MessageStatusUpdate | None:
    ack = p.get(payload, "ack")
    status = _ACKS.get(ack) if isinstance(ack, int) and not isinstance(ack, bool) else None
    message_id = p.get_str(payload, "id")
    if status is None or message_id is None:
        return None
    # The chat is the serialized id's second part (fromMe_chat_id[_participant]); engines
    # disagree on what `from` and `to` of an ack are.
    parts = message_id.split("_")
    chat = parts[1] if len(parts) >= 3 and "@" in parts[1] else None
    return MessageStatusUpdate((message_id,), canonical_jid(chat) if chat else None, status)


@dataclass(frozen=True, slots=True)
class _Party:
    """Where a message was written and by whom, as WAHA's payload tells it."""

    chat: str
    sender_id: str
    sender: str | None
    sender_lid: str | None
    from_me: bool
    is_group: bool
    raw: dict[str, Any] = field(repr=False)


def _party_of(payload: dict[str, Any]) -> _Party:
    from_me = p.get_bool(payload, "fromMe")
    chat = p.require_str(payload, "to" if from_me else "from", what="message")
    sender_id = p.get_str(payload, "participant", "author") or (
        p.get_str(payload, "from") if not from_me else chat
    )
    sender_id = sender_id or chat
    data = p.get_dict(payload, "_data")
    # The number behind a LID: NOWEB's key, GOWS' Info.
    key, info = p.get_dict(data, "key"), p.get_dict(data, "Info")
    alternative = p.get_str(key, "participantAlt", "remoteJidAlt", "senderPn") or p.get_str(
        info, "SenderAlt"
    )
    return _Party(
        chat=canonical_jid(chat),
        sender_id=sender_id,
        sender=phone_of(sender_id) or phone_of(alternative),
        sender_lid=lid_of(sender_id, alternative),
        from_me=from_me,
        is_group=chat.endswith("@g.us"),
        raw=payload,
    )


def _content_of(payload: dict[str, Any]) -> MessageContent | None:
    """What the message says: from its protobuf (NOWEB, GOWS), else WhatsApp Web's type."""
    data = p.get_dict(payload, "_data")
    proto = p.get_dict(data, "message") or p.get_dict(data, "Message")
    if proto:
        return read_content(proto)
    body = p.get_str(payload, "body")
    web_type = p.get_str(data, "type")
    if web_type is not None:
        kind = _WEB_KINDS.get(web_type)
        if kind is None:
            return None  # notifications, e2e notices and the like
    elif p.get_bool(payload, "hasMedia"):
        kind = MessageKind.DOCUMENT
    elif p.get_dict(payload, "location"):
        kind = MessageKind.LOCATION
    elif body:
        kind = MessageKind.TEXT
    else:
        return None
    quoted = p.get_str(p.get_dict(payload, "replyTo"), "id")
    if kind in MEDIA_MESSAGE_KINDS:
        return MessageContent(kind, data, caption=body or None, quoted_message_id=quoted)
    return MessageContent(kind, data, text=body, quoted_message_id=quoted)


def _message_from(payload: dict[str, Any]) -> IncomingMessage | None:
    content = _content_of(payload)
    if content is None:
        return None
    party = _party_of(payload)
    location = content.location
    if location is None and (place := p.get_dict(payload, "location")):
        latitude, longitude = p.get_float(place, "latitude"), p.get_float(place, "longitude")
        if latitude is not None and longitude is not None:
            location = Location(latitude, longitude, p.get_str(place, "description"))
    kind = content.kind
    if location is not None and kind is MessageKind.TEXT:
        kind = MessageKind.LOCATION
    return _incoming(payload, party, kind, content, location)


def _incoming(
    payload: dict[str, Any],
    party: _Party,
    kind: MessageKind,
    content: MessageContent,
    location: Location | None = None,
) -> IncomingMessage:
    return IncomingMessage(
        message_id=p.require_str(payload, "id", what="message"),
        chat_id=party.chat,
        sender=party.sender,
        sender_lid=party.sender_lid,
        sender_id=party.sender_id,
        sender_name=_sender_name(p.get_dict(payload, "_data")),
        is_group=party.is_group,
        from_me=party.from_me,
        kind=kind,
        timestamp=p.parse_timestamp(p.get(payload, "timestamp")) or datetime.now(UTC),
        text=content.text,
        caption=content.caption,
        media=_media_of(payload, content) if kind in MEDIA_MESSAGE_KINDS else None,
        location=location or content.location,
        contact=content.contact,
        quoted_message_id=p.get_str(p.get_dict(payload, "replyTo"), "id")
        or content.quoted_message_id,
        mentions=content.mentions,
        poll=content.poll,
        raw=payload,
    )


def _sender_name(data: dict[str, Any]) -> str | None:
    """The profile name: NOWEB's pushName, WEBJS' notifyName, GOWS' Info.PushName."""
    return p.get_str(data, "pushName", "notifyName") or p.get_str(
        p.get_dict(data, "Info"), "PushName"
    )


def _media_of(payload: dict[str, Any], content: MessageContent) -> InboundMedia:
    media = p.get_dict(payload, "media")
    url = p.get_str(media, "url")
    return InboundMedia(
        mime_type=p.get_str(media, "mimetype") or p.get_str(content.part, "mimetype"),
        filename=p.get_str(media, "filename") or p.get_str(content.part, "fileName"),
        url=url,
        download={"url": url} if url else None,
    )


def _reaction_from(payload: dict[str, Any]) -> IncomingMessage | None:
    reaction = p.get_dict(payload, "reaction")
    target = p.get_str(reaction, "messageId")
    if target is None:
        return None
    content = MessageContent(
        MessageKind.REACTION,
        reaction,
        text=p.get_str(reaction, "text") or "",
        quoted_message_id=target,
    )
    return _incoming(payload, _party_of(payload), MessageKind.REACTION, content)


def _revoke_from(payload: dict[str, Any]) -> IncomingMessage | None:
    """A deletion for everyone.

    `after` is the revoke itself; `revokedMessageId` (or `before`) names the message deleted.
    """
    after = p.get_dict(payload, "after")
    deleted = p.get_str(payload, "revokedMessageId") or p.get_str(
        p.get_dict(payload, "before"), "id"
    )
    if not after or deleted is None:
        return None
    content = MessageContent(MessageKind.DELETE, after, quoted_message_id=deleted)
    return _incoming(after, _party_of(after), MessageKind.DELETE, content)


def _edit_from(payload: dict[str, Any]) -> IncomingMessage | None:
    edited = p.get_str(payload, "editedMessageId")
    if edited is None:
        return None
    content = MessageContent(
        MessageKind.EDIT, payload, text=p.get_str(payload, "body"), quoted_message_id=edited
    )
    return _incoming(payload, _party_of(payload), MessageKind.EDIT, content)


def _vote_from(payload: dict[str, Any]) -> IncomingMessage | None:
    """poll.vote: `vote` (who, which options, by name) and `poll` (the poll voted on)."""
    vote, poll = p.get_dict(payload, "vote"), p.get_dict(payload, "poll")
    poll_id = p.get_str(poll, "id")
    if not vote or poll_id is None:
        return None
    chosen = p.get(vote, "selectedOptions")
    selected = tuple(o for o in chosen if isinstance(o, str)) if isinstance(chosen, list) else ()
    content = MessageContent(
        MessageKind.POLL_VOTE, vote, quoted_message_id=poll_id, poll=Poll(selected=selected)
    )
    return _incoming(vote, _party_of(vote), MessageKind.POLL_VOTE, content)


def _call_from(payload: dict[str, Any]) -> IncomingCall | None:
    call_id = p.get_str(payload, "id")
    caller = p.get_str(payload, "from")
    if call_id is None or caller is None:
        return None
    return IncomingCall(
        call_id=call_id,
        caller=phone_of(caller),
        caller_id=canonical_jid(caller),
        timestamp=p.parse_timestamp(p.get(payload, "timestamp")),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WahaOptions(GatewayOptions):
    """The server's address and API key, and the session that is the account."""

    api_key: str | None = field(default=None, metadata=PRIVATE)
    session: str = DEFAULT_SESSION

    def configuration_url(self) -> str | None:
        """WAHA's dashboard."""
        return f"{self.url}/dashboard"


DESCRIPTOR: Final = GatewayDescriptor(
    gateway=WahaGateway,
    name="WAHA",
    cloud=False,
    options=WahaOptions,
    credentials=(
        CredentialField("url", FieldType.URL),
        CredentialField("api_key", FieldType.PASSWORD, required=False),
        CredentialField("session", required=False, default=DEFAULT_SESSION),
    ),
    build=lambda session, options: WahaGateway(
        session, options.url, api_key=options.api_key, session_name=options.session
    ),
)

"""GREEN-API: a hosted WhatsApp instance, reached at `{apiUrl}/waInstance{id}/{method}/{token}`.

Its notifications come either to a webhook (with the `webhookUrlToken` as the Authorization
header) or, while no webhook URL is set, wait in a queue for 24 hours: `receiveNotification`
gives the oldest, `deleteNotification` removes it. The queue needs no way into Home Assistant,
and a notification is deleted only once its event fired, so none is lost across restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hmac
from typing import Any, Final

import aiohttp
from yarl import URL

from . import payload as p
from .base import Gateway, Response
from .chat_id import ChatId, canonical_jid, parse_chat_id, phone_of
from .descriptor import PRIVATE, CredentialField, FieldType, GatewayDescriptor, GatewayOptions
from .errors import GatewayAuthError, GatewayResponseError, NotTheGateway
from .media import from_data_url
from .models import (
    MEDIA_MESSAGE_KINDS,
    Capability,
    Contact,
    DeliveryStatus,
    InboundEvent,
    InboundMedia,
    IncomingCall,
    IncomingMessage,
    Location,
    LoginQr,
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

DEFAULT_URL: Final = "https://api.green-api.com"
_STATES: Final = {
    "authorized": SessionState.CONNECTED,
    "notAuthorized": SessionState.PAIRING,
    "starting": SessionState.CONNECTING,
    "blocked": SessionState.FAILED,
    "sleepMode": SessionState.DISCONNECTED,
    "yellowCard": SessionState.CONNECTED,
    "pendingCode": SessionState.PAIRING,
}
_STATUSES: Final = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "noAccount": DeliveryStatus.FAILED,
    "notInGroup": DeliveryStatus.FAILED,
    "yellowCard": DeliveryStatus.FAILED,
}
_FILE_KINDS: Final = {
    "imageMessage": MessageKind.IMAGE,
    "videoMessage": MessageKind.VIDEO,
    "audioMessage": MessageKind.AUDIO,
    "documentMessage": MessageKind.DOCUMENT,
    "stickerMessage": MessageKind.STICKER,
}
# The notifications Home Assistant wants, by setting; own messages from the phone are events
# too (the option for own messages decides whether they fire).
WEBHOOK_SETTINGS: Final = {
    "incomingWebhook": "yes",
    "outgoingWebhook": "yes",
    "outgoingMessageWebhook": "yes",
    "stateWebhook": "yes",
    "incomingCallWebhook": "yes",
    "pollMessageWebhook": "yes",
    "editedMessageWebhook": "yes",
    "deletedMessageWebhook": "yes",
}
# How long receiveNotification waits for a notification (GREEN-API allows 5 to 60 s).
RECEIVE_TIMEOUT: Final = 5


class GreenApiGateway(Gateway):
    """Client for one GREEN-API instance."""

    kind = "greenapi"
    capabilities = frozenset(
        {
            Capability.REPLY,
            Capability.RECEIPTS,
            Capability.PAIRING_CODE,
            Capability.WEBHOOK,
            Capability.POLLING,
            Capability.LOCATION,
            Capability.MARK_READ,
            Capability.POLL,
            Capability.POLL_VOTES,
            Capability.CALLS,
            Capability.CHECK_PHONE,
            Capability.MEDIA_DOWNLOAD,
        }
    )
    # Automatic inbound: the webhook where GREEN-API can reach Home Assistant, else the queue.
    polls_unless_reachable = True
    receipts_when_polled = True

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        id_instance: str,
        api_token: str,
        base_url: str = DEFAULT_URL,
    ) -> None:
        """The instance's id and token, at the API address of its account."""
        super().__init__(session, base_url)
        self._id = id_instance
        self._token = api_token

    def _path(self, method: str, suffix: str = "") -> str:
        return f"/waInstance{self._id}/{method}/{self._token}{suffix}"

    @property
    def media_url(self) -> str:
        """Where files are uploaded: GREEN-API's media host beside the API host."""
        url = URL(self._base_url)
        host = url.host or ""
        if ".api." in host:
            host = host.replace(".api.", ".media.", 1)
        elif host.startswith("api."):
            host = "media." + host.removeprefix("api.")
        return str(url.with_host(host)).rstrip("/")

    async def _call(
        self,
        http_method: str,
        method: str,
        *,
        what: str,
        body: Any = None,
        form: aiohttp.FormData | None = None,
        params: Mapping[str, str] | None = None,
        suffix: str = "",
    ) -> Any:
        """One API call; its JSON answer, errors mapped."""
        response = await self._request(
            http_method,
            self._path(method, suffix),
            what=what,
            json_body=body,
            form=form,
            params=params,
        )
        return self._answer(response, what)

    @staticmethod
    def _answer(response: Response, what: str) -> Any:
        """The JSON of an answer (None for GREEN-API's `null`), its errors mapped."""
        if response.status in (401, 403):
            raise GatewayAuthError(
                "GREEN-API refused the instance id or its token", credential="api_token"
            )
        if response.status >= 400:
            raise _refusal(response, what)
        return response.json(what) if response.body.strip() else None

    # Session

    async def status(self) -> SessionStatus:
        """getStateInstance; the number from the settings' `wid` once authorized."""
        answer = await self._call("GET", "getStateInstance", what="status")
        name = p.get_str(answer, "stateInstance")
        if name is None:
            raise NotTheGateway.lacking("GREEN-API", "instance state")
        state = _STATES.get(name, SessionState.DISCONNECTED)
        if state is not SessionState.CONNECTED:
            return SessionStatus(state, detail=name)
        wid = p.get_str(await self._call("GET", "getSettings", what="settings"), "wid")
        return SessionStatus(
            state, phone=phone_of(wid), jid=canonical_jid(wid) if wid else None, detail=name
        )

    async def connect(self) -> None:
        """A hosted instance runs by itself; a sleeping one is woken by a reboot."""
        if (await self.status()).detail == "sleepMode":
            await self.restart()

    async def logout(self) -> None:
        """GET logout."""
        await self._call("GET", "logout", what="logout")

    async def restart(self) -> None:
        """GET reboot."""
        await self._call("GET", "reboot", what="reboot")

    async def login_qr(self) -> LoginQr:
        """GET qr: `{type: qrCode, message: <base64 PNG>}` (it changes every 20 s or so)."""
        answer = await self._call("GET", "qr", what="QR code")
        kind = p.get_str(answer, "type")
        message = p.get_str(answer, "message") or ""
        if kind != "qrCode":
            raise GatewayResponseError(f"GREEN-API has no QR code for the instance: {message}")
        return LoginQr(image=from_data_url(message, "QR code"))

    async def request_pairing_code(self, phone: str) -> str:
        """POST getAuthorizationCode with the number; the code is valid for minutes."""
        number = parse_chat_id(phone).phone
        if number is None:
            raise GatewayResponseError("A pairing code needs a phone number")
        answer = await self._call(
            "POST",
            "getAuthorizationCode",
            what="pairing code",
            body={"phoneNumber": int(number)},
        )
        code = p.get_str(answer, "code")
        if not p.get_bool(answer, "status") or not code:
            raise GatewayResponseError("GREEN-API gave no pairing code")
        return code

    # Sending

    def _sent(self, answer: Any, chat: ChatId, what: str) -> SentMessage:
        return SentMessage(
            message_id=p.require_str(answer, "idMessage", what=f"{what} answer"),
            chat_id=canonical_jid(_wire(chat)),
        )

    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """POST sendMessage."""
        chat = parse_chat_id(to)
        body: dict[str, Any] = {"chatId": _wire(chat), "message": text}
        if reply_to:
            body["quotedMessageId"] = reply_to
        return self._sent(
            await self._call("POST", "sendMessage", what="send text", body=body), chat, "send"
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
        """POST sendFileByUpload (multipart); WhatsApp shows the file by its type."""
        chat = parse_chat_id(to)
        form = aiohttp.FormData()
        form.add_field("file", media.data, filename=media.filename, content_type=media.mime_type)
        form.add_field("chatId", _wire(chat))
        form.add_field("fileName", media.filename)
        if caption:
            form.add_field("caption", caption)
        if reply_to:
            form.add_field("quotedMessageId", reply_to)
        response = await self._request(
            "POST",
            self._path("sendFileByUpload"),
            what="send file",
            form=form,
            base_url=self.media_url,
        )
        return self._sent(self._answer(response, "send file"), chat, "send file")

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """POST sendLocation."""
        chat = parse_chat_id(to)
        body = {
            "chatId": _wire(chat),
            "latitude": latitude,
            "longitude": longitude,
            "nameLocation": name or "",
        }
        answer = await self._call("POST", "sendLocation", what="send location", body=body)
        return self._sent(answer, chat, "send location")

    async def send_poll(
        self, to: str, question: str, options: Sequence[str], *, multiple: bool = False
    ) -> SentMessage:
        """POST sendPoll."""
        chat = parse_chat_id(to)
        body = {
            "chatId": _wire(chat),
            "message": question,
            "options": [{"optionName": option} for option in options],
            "multipleAnswers": multiple,
        }
        answer = await self._call("POST", "sendPoll", what="send poll", body=body)
        return self._sent(answer, chat, "send poll")

    async def mark_read(
        self, chat_id: str, message_ids: Sequence[str], *, sender: str | None = None
    ) -> None:
        """POST readChat, once per message."""
        chat = _wire(parse_chat_id(chat_id))
        for message_id in message_ids:
            body = {"chatId": chat, "idMessage": message_id}
            await self._call("POST", "readChat", what="mark read", body=body)

    async def check_phones(self, phones: Sequence[str]) -> list[PhoneCheck]:
        """POST checkWhatsapp, one number at a time."""
        results = []
        for phone in phones:
            number = parse_chat_id(phone).phone or phone
            answer = await self._call(
                "POST",
                "checkWhatsapp",
                what="check number",
                body={"phoneNumber": int(number) if number.isdigit() else number},
            )
            exists = p.get_bool(answer, "existsWhatsapp")
            results.append(PhoneCheck(number, exists, f"{number}@c.us" if exists else None))
        return results

    # Inbound

    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """setSettings: our URL and token, and the notifications we use."""
        body: dict[str, Any] = {
            "webhookUrl": url,
            "webhookUrlToken": secret or "",
            **WEBHOOK_SETTINGS,
        }
        await self._save_settings(body)

    async def prepare_polling(self) -> None:
        """Notifications stay in the queue only while no webhook URL is set."""
        await self._save_settings({"webhookUrl": "", **WEBHOOK_SETTINGS})

    async def polling_ready(self) -> bool:
        """Only while no webhook URL is set: one set in the console takes the notifications."""
        answer = await self._call("GET", "getSettings", what="settings")
        return not p.get_str(answer, "webhookUrl")

    async def _save_settings(self, body: dict[str, Any]) -> None:
        answer = await self._call("POST", "setSettings", what="set webhook", body=body)
        if not p.get_bool(answer, "saveSettings"):
            raise GatewayResponseError("GREEN-API did not save the settings")

    async def get_webhook(self) -> str | None:
        """getSettings' `webhookUrl` ("" means the queue)."""
        answer = await self._call("GET", "getSettings", what="get webhook")
        return p.get_str(answer, "webhookUrl") or None

    async def webhook_matches(self, url: str, secret: str | None) -> bool:
        """Our URL, and incoming messages switched on."""
        answer = await self._call("GET", "getSettings", what="get webhook")
        return p.get_str(answer, "webhookUrl") == url and p.get_str(answer, "incomingWebhook") == (
            "yes"
        )

    @property
    def webhook_auth(self) -> str:
        """The webhook token in each post's Authorization header."""
        return "token"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """The Authorization header carries our token (`Bearer <token>`).

        The post must also name our instance.
        """
        if secret:
            given = p.get_header(headers, "Authorization") or ""
            token = given.removeprefix("Bearer ").strip()
            if not hmac.compare_digest(token.encode(), secret.encode()):
                return False
        try:
            notification = self._webhook_json(body, "GREEN-API webhook body", keep=True)
        except GatewayResponseError:
            return True  # parse_webhook says what is wrong with it
        instance = p.get(p.get_dict(notification, "instanceData"), "idInstance")
        return instance is None or str(instance) == self._id

    def signature_missing(self, headers: Mapping[str, str], secret: str | None) -> bool:
        """A post without the token we gave."""
        return bool(secret) and not p.get_header(headers, "Authorization")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """One notification (`typeWebhook` and its fields)."""
        notification = self._webhook_json(body, "GREEN-API webhook body", keep=False)
        if not isinstance(notification, dict):
            raise GatewayResponseError("The GREEN-API webhook body is not a JSON object")
        found = notification_event(notification)
        return [found] if found is not None else []

    async def poll_events(self, cursor: str | None) -> tuple[list[InboundEvent], str | None]:
        """Delete the notification the cursor names (its event fired), then take the next.

        The queue gives its oldest notification until it is deleted; so one per call, and
        the cursor is the receipt to delete next time.
        """
        if cursor is not None:
            await self._call(
                "DELETE", "deleteNotification", what="delete notification", suffix=f"/{cursor}"
            )
        answer = await self._call(
            "GET",
            "receiveNotification",
            what="receive notification",
            params={"receiveTimeout": str(RECEIVE_TIMEOUT)},
        )
        if answer is None:
            return [], None
        receipt = p.get_str(answer, "receiptId")
        if receipt is None:
            raise GatewayResponseError("GREEN-API's notification has no receiptId")
        found = notification_event(p.get_dict(answer, "body"))
        return ([found] if found is not None else []), receipt

    async def download_media(self, media: InboundMedia) -> InboundMedia:
        """GET the file's downloadUrl (GREEN-API's storage; the URL itself is the key)."""
        if media.download is None:
            raise GatewayResponseError("The message's media has nothing to download")
        data = await self._fetch_file(str(media.download["url"]))
        return InboundMedia(
            mime_type=media.mime_type, filename=media.filename, url=media.url, data=data
        )


def _refusal(response: Response, what: str) -> GatewayResponseError:
    answer = response.json_or_none(what)
    text = p.get_str(answer, "message", "error") or f"HTTP {response.status}"
    if response.status == 404 and answer is None:
        return NotTheGateway.not_found("GREEN-API", what)
    return GatewayResponseError(f"GREEN-API refused the {what} request: {text}")


def _wire(chat: ChatId) -> str:
    """GREEN-API names people `…@c.us`."""
    return chat.jid("c.us")


def notification_event(notification: dict[str, Any]) -> InboundEvent | None:
    """The event of a notification, whether it came by webhook or from the queue."""
    kind = p.get_str(notification, "typeWebhook")
    if kind in ("incomingMessageReceived", "outgoingMessageReceived", "outgoingAPIMessageReceived"):
        return _message_from(notification, from_me=kind != "incomingMessageReceived")
    if kind == "outgoingMessageStatus":
        status = _STATUSES.get(p.get_str(notification, "status") or "")
        message_id = p.get_str(notification, "idMessage")
        if status is None or message_id is None:
            return None
        chat = p.get_str(notification, "chatId")
        return MessageStatusUpdate((message_id,), canonical_jid(chat) if chat else None, status)
    if kind == "stateInstanceChanged":
        name = p.get_str(notification, "stateInstance") or ""
        state = _STATES.get(name)
        return SessionEvent(state, reason=name) if state is not None else None
    if kind == "incomingCall":
        caller, call_id = p.get_str(notification, "from"), p.get_str(notification, "idMessage")
        if caller is None or call_id is None:
            return None
        return IncomingCall(
            call_id=call_id,
            caller=phone_of(caller),
            caller_id=canonical_jid(caller),
            ended=p.get_str(notification, "status") not in (None, "offer"),
            timestamp=p.parse_timestamp(p.get(notification, "timestamp")),
        )
    return None


@dataclass(frozen=True, slots=True)
class _Content:
    kind: MessageKind
    text: str | None = None
    caption: str | None = None
    media: InboundMedia | None = None
    location: Location | None = None
    contact: Contact | None = None
    quoted: str | None = None
    poll: Poll | None = None


def _text(data: dict[str, Any]) -> _Content:
    extended = p.get_dict(data, "extendedTextMessageData")
    text = p.get_str(p.get_dict(data, "textMessageData"), "textMessage") or p.get_str(
        extended, "text"
    )
    quoted = p.get_str(p.get_dict(data, "quotedMessage"), "stanzaId")
    return _Content(MessageKind.TEXT, text=text, quoted=quoted)


def _file(data: dict[str, Any], kind: MessageKind) -> _Content:
    file = p.get_dict(data, "fileMessageData")
    url = p.get_str(file, "downloadUrl")
    media = InboundMedia(
        mime_type=p.get_str(file, "mimeType"),
        filename=p.get_str(file, "fileName"),
        url=url,
        download={"url": url} if url else None,
    )
    quoted = p.get_str(p.get_dict(data, "quotedMessage"), "stanzaId")
    return _Content(kind, caption=p.get_str(file, "caption") or None, media=media, quoted=quoted)


def _location(data: dict[str, Any]) -> _Content:
    place = p.get_dict(data, "locationMessageData")
    latitude, longitude = p.get_float(place, "latitude"), p.get_float(place, "longitude")
    location = (
        Location(latitude, longitude, p.get_str(place, "nameLocation"))
        if latitude is not None and longitude is not None
        else None
    )
    return _Content(MessageKind.LOCATION, location=location)


def _contact(data: dict[str, Any]) -> _Content:
    card = p.get_dict(data, "contactMessageData")
    return _Content(
        MessageKind.CONTACT,
        contact=Contact(p.get_str(card, "displayName"), p.get_str(card, "vcard")),
    )


def _reaction(data: dict[str, Any]) -> _Content:
    emoji = p.get_str(p.get_dict(data, "extendedTextMessageData"), "text") or ""
    target = p.get_str(p.get_dict(data, "quotedMessage"), "stanzaId")
    return _Content(MessageKind.REACTION, text=emoji, quoted=target)


def _edit(data: dict[str, Any]) -> _Content:
    edited = p.get_dict(data, "editedMessageData")
    return _Content(
        MessageKind.EDIT,
        text=p.get_str(edited, "textMessage"),
        quoted=p.get_str(edited, "stanzaId"),
    )


def _deletion(data: dict[str, Any]) -> _Content:
    deleted = p.get_dict(data, "deletedMessageData")
    return _Content(MessageKind.DELETE, quoted=p.get_str(deleted, "stanzaId"))


def _poll(data: dict[str, Any]) -> _Content:
    poll = p.get_dict(data, "pollMessageData")
    options = tuple(
        name
        for option in p.get_list(poll, "options")
        if (name := p.get_str(option, "optionName")) is not None
    )
    question = p.get_str(poll, "name")
    return _Content(MessageKind.POLL, text=question, poll=Poll(question, options))


_CONTENT: Final[dict[str, Callable[[dict[str, Any]], _Content]]] = {
    "textMessage": _text,
    "extendedTextMessage": _text,
    "quotedMessage": _text,
    "locationMessage": _location,
    "contactMessage": _contact,
    "reactionMessage": _reaction,
    "editedMessage": _edit,
    "deletedMessage": _deletion,
    "pollMessage": _poll,
}


def _vote(data: dict[str, Any], voter: str) -> _Content:
    """pollUpdateMessage: the tally by option; the sender voted for the options listing them."""
    poll = p.get_dict(data, "pollMessageData")
    selected = tuple(
        name
        for option in p.get_list(poll, "votes")
        if (name := p.get_str(option, "optionName")) is not None
        and voter in [v for v in p.get_list(option, "optionVoters") if isinstance(v, str)]
    )
    return _Content(
        MessageKind.POLL_VOTE,
        quoted=p.get_str(poll, "stanzaId"),
        poll=Poll(selected=selected),
    )


def _message_from(notification: dict[str, Any], *, from_me: bool) -> IncomingMessage | None:
    sender_data = p.get_dict(notification, "senderData")
    chat = p.get_str(sender_data, "chatId")
    message_id = p.get_str(notification, "idMessage")
    if chat is None or message_id is None:
        return None
    sender_id = p.get_str(sender_data, "sender") or chat
    data = p.get_dict(notification, "messageData")
    type_message = p.get_str(data, "typeMessage") or ""
    if type_message == "pollUpdateMessage":
        content = _vote(data, sender_id)
    elif (file_kind := _FILE_KINDS.get(type_message)) is not None:
        content = _file(data, file_kind)
    elif (reader := _CONTENT.get(type_message)) is not None:
        content = reader(data)
    else:
        content = _Content(MessageKind.OTHER)
    return IncomingMessage(
        message_id=message_id,
        chat_id=canonical_jid(chat),
        sender=phone_of(sender_id),
        sender_id=sender_id,
        sender_name=p.get_str(sender_data, "senderName") or None,
        is_group=chat.endswith("@g.us"),
        from_me=from_me,
        kind=content.kind,
        timestamp=p.parse_timestamp(p.get(notification, "timestamp")) or datetime.now(UTC),
        text=content.text,
        caption=content.caption,
        media=content.media if content.kind in MEDIA_MESSAGE_KINDS else None,
        location=content.location,
        contact=content.contact,
        quoted_message_id=content.quoted,
        poll=content.poll,
        raw=notification,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class GreenApiOptions(GatewayOptions):
    """The API address of the account, the instance's id and its token."""

    url: str = DEFAULT_URL
    id_instance: str = field(metadata=PRIVATE)
    api_token: str = field(metadata=PRIVATE)

    def configuration_url(self) -> str | None:
        """GREEN-API's console."""
        return "https://console.green-api.com"


DESCRIPTOR: Final = GatewayDescriptor(
    gateway=GreenApiGateway,
    name="GREEN-API",
    cloud=True,
    options=GreenApiOptions,
    credentials=(
        CredentialField("id_instance"),
        CredentialField("api_token", FieldType.PASSWORD),
        CredentialField("url", FieldType.URL, required=False, default=DEFAULT_URL),
    ),
    build=lambda session, options: GreenApiGateway(
        session,
        id_instance=options.id_instance,
        api_token=options.api_token,
        base_url=options.url,
    ),
)

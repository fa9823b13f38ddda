"""Chat-API style instances: `…/instance<ID>/<method>?token=…`, messages numbered for polling.

The original chat-api.com service is gone; self-hosted and resold look-alikes still speak its
API. Incoming messages can be pushed to a webhook, or fetched with `GET /messages`, whose
`lastMessageNumber` is a cursor that survives restarts of both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import re
from typing import Any, Final

import aiohttp

from . import payload as p
from .base import Gateway
from .chat_id import canonical_jid, parse_chat_id, phone_of
from .descriptor import PRIVATE, CredentialField, FieldType, GatewayDescriptor, GatewayOptions
from .errors import GatewayAuthError, GatewayResponseError
from .media import from_data_url, sniff_image, to_data_url
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
    SessionState,
    SessionStatus,
)

_ACCOUNT_STATES: Final = {
    "init": SessionState.CONNECTING,
    "loading": SessionState.CONNECTING,
    "got qr code": SessionState.PAIRING,
    "authenticated": SessionState.CONNECTED,
    "not_paid": SessionState.FAILED,
}
# Sub-states of an authenticated account in which WhatsApp Web is not actually running.
_DOWN_SUBSTATES: Final = frozenset({"offline", "timeout", "computer", "phone", "expired"})
_MESSAGE_KINDS: Final = {
    "chat": MessageKind.TEXT,
    "image": MessageKind.IMAGE,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.AUDIO,
    "ptt": MessageKind.VOICE,
    "document": MessageKind.DOCUMENT,
    "sticker": MessageKind.STICKER,
    "location": MessageKind.LOCATION,
    "vcard": MessageKind.CONTACT,
}
_ACK_STATES: Final = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "viewed": DeliveryStatus.READ,
    "read": DeliveryStatus.READ,
    "played": DeliveryStatus.PLAYED,
}
_INSTANCE_IN_URL: Final = re.compile(r"/instance(\w+)")
# One poll reads at most this many pages, so a long backlog cannot stall the poller.
MAX_PAGES_PER_POLL: Final = 10


class ChatApiGateway(Gateway):
    """Client for one Chat-API style instance."""

    kind = "chatapi"
    capabilities = frozenset(
        {
            Capability.REPLY,
            Capability.RECEIPTS,
            Capability.WEBHOOK,
            Capability.POLLING,
            Capability.LOCATION,
            Capability.VOICE,
        }
    )

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        """The instance URL (ending in `/instance<ID>`) and its token."""
        super().__init__(session, base_url)
        self._token = token
        match = _INSTANCE_IN_URL.search(self._base_url)
        self._instance_id = match.group(1) if match else None
        self._me: str | None = None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One call with the token in the query string; returns the decoded answer."""
        response = await self._request(
            method,
            path,
            what=what,
            params={"token": self._token, **(params or {})},
            json_body=body,
        )
        if response.status in (401, 403):
            raise GatewayAuthError("The Chat-API instance rejected the token", credential="token")
        answer = response.json(what)
        error = p.get_str(answer, "error")
        if response.status >= 400 or error:
            raise GatewayResponseError(
                f"The Chat-API instance refused the {what} request: {error or response.status}"
            )
        return answer

    # Session

    async def status(self) -> SessionStatus:
        """GET /status, and the account's own number once it is authenticated."""
        answer = await self._call("GET", "/status", what="status")
        account = (p.get_str(answer, "accountStatus") or "").lower()
        substatus = p.get_str(p.get_dict(answer, "statusData"), "substatus")
        state = _ACCOUNT_STATES.get(account, SessionState.DISCONNECTED)
        if state is SessionState.CONNECTED and substatus in _DOWN_SUBSTATES:
            state = SessionState.DISCONNECTED
        qr: LoginQr | None = None
        if state is SessionState.PAIRING and (qr_text := p.get_str(answer, "qrCode")):
            qr = LoginQr(image=from_data_url(qr_text, "QR code"))
        if state in (SessionState.CONNECTED, SessionState.DISCONNECTED):
            jid = await self._own_jid()
        else:
            jid = self._me = None
        return SessionStatus(
            state=state,
            phone=phone_of(jid),
            jid=jid,
            qr=qr,
            detail=substatus or account or None,
        )

    async def _own_jid(self) -> str | None:
        """GET /me names the linked account; older instances lack it, which is not an error."""
        if self._me is None:
            try:
                answer = await self._call("GET", "/me", what="own account")
            except GatewayResponseError:
                return None
            if jid := p.get_str(answer, "id"):
                self._me = canonical_jid(jid)
        return self._me

    async def connect(self) -> None:
        """The instance runs by itself; a session opened elsewhere or stalled is taken back."""
        status = await self.status()
        if status.state is not SessionState.DISCONNECTED:
            return
        method = "/takeover" if status.detail == "computer" else "/retry"
        await self._call("POST", method, what="reconnect")

    async def logout(self) -> None:
        """POST /logout: the instance shows a new QR code."""
        self._me = None
        await self._call("POST", "/logout", what="logout")

    async def restart(self) -> None:
        """POST /reboot."""
        await self._call("POST", "/reboot", what="reboot")

    async def login_qr(self) -> LoginQr:
        """GET /qr_code answers with the image itself."""
        response = await self._request(
            "GET", "/qr_code", what="QR code", params={"token": self._token}
        )
        if response.status in (401, 403):
            raise GatewayAuthError("The Chat-API instance rejected the token", credential="token")
        if response.status == 200 and sniff_image(response.body):
            return LoginQr(image=response.body)
        raise GatewayResponseError(
            f"The Chat-API instance has no QR code to show (HTTP {response.status})"
        )

    # Sending

    async def _send(
        self, path: str, to: str, fields: dict[str, Any], *, what: str, reply_to: str | None
    ) -> SentMessage:
        chat = parse_chat_id(to)
        chat_id = chat.jid("c.us")
        body = {"chatId": chat_id, **fields}
        if reply_to:
            body["quotedMsgId"] = reply_to
        answer = await self._call("POST", path, what=what, body=body)
        if p.get(answer, "sent") is False:
            reason = p.get_str(answer, "message") or "no reason given"
            raise GatewayResponseError(f"The Chat-API instance did not send the message: {reason}")
        # The oldest builds answer {"sent": true} without the id of the new message.
        return SentMessage(message_id=p.get_str(answer, "id") or "", chat_id=str(chat))

    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """POST /sendMessage."""
        return await self._send(
            "/sendMessage", to, {"body": text}, what="send text", reply_to=reply_to
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
        """POST /sendPTT for voice notes, POST /sendFile with a data URL for everything else."""
        if media.kind is MediaKind.STICKER:
            raise self._unsupported("stickers")
        data_url = to_data_url(media.data, media.mime_type)
        if media.kind is MediaKind.VOICE:
            return await self._send(
                "/sendPTT", to, {"audio": data_url}, what="send voice", reply_to=reply_to
            )
        fields: dict[str, Any] = {"body": data_url, "filename": media.filename}
        if caption:
            fields["caption"] = caption
        return await self._send(
            "/sendFile", to, fields, what=f"send {media.kind}", reply_to=reply_to
        )

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """POST /sendLocation."""
        fields = {"lat": latitude, "lng": longitude, "address": name or ""}
        return await self._send("/sendLocation", to, fields, what="send location", reply_to=None)

    # Inbound

    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """POST /webhook and turn delivery receipts on; the URL itself is the secret."""
        await self._call("POST", "/webhook", what="set webhook", body={"webhookUrl": url})
        await self._call(
            "POST",
            "/settings/ackNotificationsOn",
            what="turn on receipts",
            body={"ackNotificationsOn": 1},
        )

    async def get_webhook(self) -> str | None:
        """GET /webhook."""
        answer = await self._call("GET", "/webhook", what="get webhook")
        return p.get_str(answer, "webhookUrl")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """Chat-API cannot sign; refuse bodies that name another instance."""
        try:
            answer = self._webhook_json(body, "Chat-API webhook body", keep=True)
        except GatewayResponseError:
            return True  # parse_webhook answers that one
        instance = p.get_str(answer, "instanceId")
        return instance is None or self._instance_id is None or instance == self._instance_id

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """`messages`, `ack` and `chatUpdate` arrays, each optional."""
        answer = self._webhook_json(body, "Chat-API webhook body", keep=False)
        if not isinstance(answer, dict):
            raise GatewayResponseError("The Chat-API webhook body is not a JSON object")
        return [*_messages_from(answer), *_acks_from(answer)]

    async def poll_events(self, cursor: str | None) -> tuple[list[InboundEvent], str | None]:
        """Messages after the cursor (`lastMessageNumber`), oldest first.

        Without a cursor only the current position is taken: what came before is history.
        """
        if cursor is None:
            answer = await self._call("GET", "/messages", what="messages", params={"last": "1"})
            return [], _cursor_of(answer, None)
        events: list[InboundEvent] = []
        position = cursor
        for _ in range(MAX_PAGES_PER_POLL):
            answer = await self._call(
                "GET", "/messages", what="messages", params={"lastMessageNumber": position}
            )
            page = _messages_from(answer)
            events += page
            after = _cursor_of(answer, position) or position
            advanced, position = after != position, after
            if not page or not advanced:
                break
        return events, position


def _cursor_of(answer: Any, cursor: str | None) -> str | None:
    """The cursor after a page: the answer's own, else the highest message number in it."""
    if (number := p.get_str(answer, "lastMessageNumber")) is not None:
        return number
    numbers = [
        int(value)
        for item in p.get_list(answer, "messages")
        if (value := p.get_str(item, "messageNumber")) and value.isdigit()
    ]
    return str(max(numbers)) if numbers else cursor


def _messages_from(answer: Any) -> list[InboundEvent]:
    items = p.get(answer, "messages")
    if items is None:
        return []
    if not isinstance(items, list):
        raise GatewayResponseError("The Chat-API messages are not a list")
    return [web_message_from(item) for item in items if isinstance(item, dict)]


def web_message_from(item: dict[str, Any]) -> IncomingMessage:
    """A message in the flat shape of WhatsApp Web clients (Chat-API, wppconnect, venom)."""
    # wppconnect nests the id ({"_serialized": …}); Chat-API gives the string.
    serialized = p.get_str(p.get_dict(item, "id"), "_serialized")
    message_id = serialized or p.require_str(item, "id", what="message")
    chat = p.require_str(item, "chatId", "from", what="message")
    sender_id = p.get_str(item, "author") or p.get_str(p.get_dict(item, "sender"), "id") or chat
    kind = _MESSAGE_KINDS.get((p.get_str(item, "type") or "").lower(), MessageKind.OTHER)
    body = p.get_str(item, "body")
    text: str | None = None
    media: InboundMedia | None = None
    location: Location | None = None
    contact: Contact | None = None
    if kind is MessageKind.TEXT:
        text = body
    elif kind in MEDIA_MESSAGE_KINDS:
        # The body is a download URL, kept by the service for 30 days.
        media = InboundMedia(
            mime_type=p.get_str(item, "mimetype", "mimeType"),
            filename=p.get_str(item, "filename", "fileName"),
            url=body,
        )
    elif kind is MessageKind.LOCATION:
        latitude, _, longitude = (body or "").partition(";")
        try:
            location = Location(float(latitude), float(longitude))
        except ValueError:
            location = None
    elif kind is MessageKind.CONTACT:
        contact = Contact(None, body)
    return IncomingMessage(
        message_id=message_id,
        chat_id=canonical_jid(chat),
        sender=phone_of(sender_id),
        sender_id=canonical_jid(sender_id),
        sender_name=p.get_str(item, "senderName", "notifyName"),
        is_group=chat.endswith("@g.us"),
        from_me=p.get_bool(item, "fromMe"),
        kind=kind,
        timestamp=p.parse_timestamp(p.get(item, "time", "t", "timestamp")) or datetime.now(UTC),
        text=text,
        caption=p.get_str(item, "caption"),
        media=media,
        location=location,
        contact=contact,
        quoted_message_id=p.get_str(item, "quotedMsgId"),
        raw=item,
    )


def _acks_from(answer: dict[str, Any]) -> list[InboundEvent]:
    items = p.get(answer, "ack")
    updates: list[InboundEvent] = []
    for item in items if isinstance(items, list) else []:
        message_id = p.get_str(item, "id")
        status = _ACK_STATES.get((p.get_str(item, "status") or "").lower())
        if message_id is None or status is None:
            continue
        chat = p.get_str(item, "chatId")
        updates.append(
            MessageStatusUpdate(
                message_ids=(message_id,),
                chat_id=canonical_jid(chat) if chat else None,
                status=status,
            )
        )
    return updates


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatApiOptions(GatewayOptions):
    """The instance's URL (ending in `/instance<ID>`) and its token."""

    token: str = field(metadata=PRIVATE)


DESCRIPTOR: Final = GatewayDescriptor(
    gateway=ChatApiGateway,
    name="Chat-API",
    cloud=False,
    options=ChatApiOptions,
    credentials=(
        CredentialField("url", FieldType.URL),
        CredentialField("token", FieldType.PASSWORD),
    ),
    build=lambda session, options: ChatApiGateway(session, options.url, token=options.token),
)

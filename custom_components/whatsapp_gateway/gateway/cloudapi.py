"""The WhatsApp Cloud API: Meta's own API for a business phone number, on the Graph API.

No QR code: the number is registered in Meta's dashboard, and the access token reaches it by
its phone number id. Meta posts to the webhook configured in the app (it cannot be set with the
number's token): it first checks the address with a `GET` carrying our verify token, then signs
every post with the app secret (`X-Hub-Signature-256`). Outside the 24 hours after a customer
last wrote, only approved templates can be sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import hmac
from typing import Any, Final

import aiohttp

from . import payload as p
from .base import Gateway, Response
from .chat_id import parse_chat_id
from .descriptor import PRIVATE, CredentialField, FieldType, GatewayDescriptor, GatewayOptions
from .errors import GatewayAuthError, GatewayError, GatewayResponseError, NotTheGateway
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

DEFAULT_URL: Final = "https://graph.facebook.com/v21.0"
SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
_STATUSES: Final = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}
_MEDIA_KINDS: Final = {
    "image": MessageKind.IMAGE,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.AUDIO,
    "document": MessageKind.DOCUMENT,
    "sticker": MessageKind.STICKER,
}
_SEND_TYPES: Final = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.VOICE: "audio",  # an OGG/Opus audio shows as a voice message
    MediaKind.DOCUMENT: "document",
    MediaKind.STICKER: "sticker",
}
# Graph API error codes that mean the token is no good.
_TOKEN_ERRORS: Final = frozenset({190, 102, 463, 467})


class CloudApiGateway(Gateway):
    """Client for one business phone number of the WhatsApp Cloud API."""

    kind = "cloudapi"
    capabilities = frozenset(
        {
            Capability.REPLY,
            Capability.RECEIPTS,
            Capability.WEBHOOK,
            Capability.HMAC,
            Capability.LOCATION,
            Capability.REACTION,
            Capability.STICKER,
            Capability.VOICE,
            Capability.MARK_READ,
            Capability.MEDIA_DOWNLOAD,
            Capability.TEMPLATES,
        }
    )
    # Meta checks the webhook address with a GET before it posts there.
    webhook_handshake = True

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        access_token: str,
        phone_number_id: str,
        app_secret: str,
        base_url: str = DEFAULT_URL,
    ) -> None:
        """The number's id, a token allowed to use it, and the app's secret."""
        super().__init__(session, base_url)
        self._token = access_token
        self._number_id = phone_number_id
        self._app_secret = app_secret

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        form: aiohttp.FormData | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One Graph API call with the token; its JSON, Meta's errors mapped."""
        response = await self._request(
            method,
            path,
            what=what,
            headers={"Authorization": f"Bearer {self._token}"},
            json_body=body,
            form=form,
            params=params,
        )
        if response.status >= 400:
            raise _refusal(response, what)
        return response.json(what)

    # Session

    async def status(self) -> SessionStatus:
        """GET /{phone-number-id}: connected while the token reaches the number."""
        answer = await self._call(
            "GET",
            f"/{self._number_id}",
            what="status",
            params={"fields": "display_phone_number,verified_name,quality_rating"},
        )
        shown = p.get_str(answer, "display_phone_number")
        if shown is None:
            raise NotTheGateway.lacking("the Graph API", "phone number")
        phone = "".join(ch for ch in shown if ch.isdigit())
        return SessionStatus(
            SessionState.CONNECTED,
            phone=phone,
            jid=f"{phone}@s.whatsapp.net",
            name=p.get_str(answer, "verified_name"),
            detail=p.get_str(answer, "quality_rating"),
        )

    async def connect(self) -> None:
        """Nothing to start: Meta runs the number."""

    async def restart(self) -> None:
        """Nothing to restart."""

    async def logout(self) -> None:
        """The number is removed in Meta's dashboard, not here."""
        raise self._unsupported("unlinking (remove the number in Meta's dashboard)")

    async def login_qr(self) -> LoginQr:
        """The Cloud API links no phone."""
        raise self._unsupported("QR codes (the number is registered with Meta)")

    # Sending

    async def _send(self, to: str, body: dict[str, Any], *, what: str) -> SentMessage:
        chat = parse_chat_id(to)
        if chat.phone is None:
            raise self._unsupported("groups and LIDs (only phone numbers)")
        answer = await self._call(
            "POST",
            f"/{self._number_id}/messages",
            what=what,
            body={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": chat.phone,
                **body,
            },
        )
        messages = p.get(answer, "messages")
        first = messages[0] if isinstance(messages, list) and messages else {}
        return SentMessage(
            message_id=p.require_str(first, "id", what=f"{what} answer"),
            chat_id=_chat(chat.phone),
        )

    @staticmethod
    def _context(reply_to: str | None) -> dict[str, Any]:
        return {"context": {"message_id": reply_to}} if reply_to else {}

    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """A text message (within 24 hours of the customer's last message)."""
        body = {"type": "text", "text": {"body": text}, **self._context(reply_to)}
        return await self._send(to, body, what="send text")

    async def send_media(
        self,
        to: str,
        media: OutgoingMedia,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
    ) -> SentMessage:
        """Upload the file to /{phone-number-id}/media, then send it by its id."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", media.mime_type)
        form.add_field("file", media.data, filename=media.filename, content_type=media.mime_type)
        uploaded = await self._call(
            "POST", f"/{self._number_id}/media", what="upload media", form=form
        )
        kind = _SEND_TYPES[media.kind]
        part: dict[str, Any] = {"id": p.require_str(uploaded, "id", what="upload answer")}
        if caption and kind in ("image", "video", "document"):
            part["caption"] = caption
        if kind == "document":
            part["filename"] = media.filename
        body = {"type": kind, kind: part, **self._context(reply_to)}
        return await self._send(to, body, what=f"send {media.kind}")

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """A location message."""
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if name:
            location["name"] = name
        return await self._send(
            to, {"type": "location", "location": location}, what="send location"
        )

    async def send_reaction(
        self, to: str, message_id: str, emoji: str, *, from_me: bool = False
    ) -> SentMessage:
        """A reaction (an empty emoji takes it back)."""
        body = {"type": "reaction", "reaction": {"message_id": message_id, "emoji": emoji}}
        return await self._send(to, body, what="send reaction")

    async def send_template(
        self, to: str, name: str, language: str, parameters: Sequence[str] = ()
    ) -> SentMessage:
        """An approved template, the body's {{1}}, {{2}}… filled in: allowed at any time."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if parameters:
            template["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": p_} for p_ in parameters]}
            ]
        return await self._send(
            to, {"type": "template", "template": template}, what="send template"
        )

    async def mark_read(
        self, chat_id: str, message_ids: Sequence[str], *, sender: str | None = None
    ) -> None:
        """Mark each message read (the customer sees blue ticks)."""
        for message_id in message_ids:
            body = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
            await self._call("POST", f"/{self._number_id}/messages", what="mark read", body=body)

    # Inbound

    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """Meta's webhook is set in the app's dashboard: the user enters the URL there."""

    async def get_webhook(self) -> str | None:
        """The number's token cannot read the app's webhook."""
        return None

    async def webhook_matches(self, url: str, secret: str | None) -> bool:
        """Not readable with the number's token; Meta's handshake proved the address."""
        return True

    @property
    def webhook_auth(self) -> str:
        """Every post is signed with the app secret."""
        return "hmac"

    def verification_answer(self, query: Mapping[str, str], secret: str | None) -> str | None:
        """Meta's check of the address: the challenge when the verify token is ours."""
        token = query.get("hub.verify_token", "")
        if query.get("hub.mode") != "subscribe" or not secret:
            return None
        if not hmac.compare_digest(token.encode(), secret.encode()):
            return None
        return query.get("hub.challenge") or None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, app secret>`."""
        given = (p.get_header(headers, SIGNATURE_HEADER) or "").strip().lower()
        expected = "sha256=" + hmac.new(self._app_secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given.encode(), expected.encode())

    def signature_missing(self, headers: Mapping[str, str], secret: str | None) -> bool:
        """A post without Meta's signature."""
        return not p.get_header(headers, SIGNATURE_HEADER)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """The messages and statuses of our number in a `whatsapp_business_account` post."""
        post = self._webhook_json(body, "Cloud API webhook body", keep=False)
        if not isinstance(post, dict):
            raise GatewayResponseError("The Cloud API webhook body is not a JSON object")
        events: list[InboundEvent] = []
        for entry in p.get_list(post, "entry"):
            for change in p.get_list(entry, "changes"):
                value = p.get_dict(change, "value")
                number_id = p.get_str(p.get_dict(value, "metadata"), "phone_number_id")
                if number_id is not None and number_id != self._number_id:
                    continue  # another number of the same app
                events += _events_of(value)
        return events

    async def download_media(self, media: InboundMedia) -> InboundMedia:
        """GET /{media-id} for the file's URL, then the file itself with the token."""
        if media.download is None:
            raise GatewayResponseError("The message's media has nothing to download")
        described = await self._call("GET", f"/{media.download['id']}", what="media")
        url = p.require_str(described, "url", what="media answer")
        data = await self._fetch_file(url, headers={"Authorization": f"Bearer {self._token}"})
        return InboundMedia(
            mime_type=media.mime_type or p.get_str(described, "mime_type"),
            filename=media.filename,
            url=media.url,
            data=data,
        )


def _refusal(response: Response, what: str) -> GatewayError:
    """Meta's error: `{error: {message, type, code, error_data: {details}}}`."""
    answer = response.json_or_none(what)
    error = p.get_dict(answer, "error")
    code = p.get(error, "code")
    message = p.get_str(error, "message") or f"HTTP {response.status}"
    details = p.get_str(p.get_dict(error, "error_data"), "details")
    text = f"{message} ({details})" if details else message
    if response.status == 401 or code in _TOKEN_ERRORS:
        return GatewayAuthError(f"Meta refused the access token: {text}", credential="access_token")
    if response.status == 404 and answer is None:
        return NotTheGateway.not_found("the Graph API", what)
    return GatewayResponseError(f"Meta refused the {what} request: {text}")


def _chat(number: str) -> str:
    return f"{number}@s.whatsapp.net"


def _events_of(value: dict[str, Any]) -> list[InboundEvent]:
    names = {
        p.get_str(contact, "wa_id"): p.get_str(p.get_dict(contact, "profile"), "name")
        for contact in p.get_list(value, "contacts")
    }
    messages = (
        _message_from(message, names)
        for message in p.get_list(value, "messages")
        if isinstance(message, dict)
    )
    statuses = (
        _status_from(status) for status in p.get_list(value, "statuses") if isinstance(status, dict)
    )
    return [event for event in (*messages, *statuses) if event is not None]


def _status_from(status: dict[str, Any]) -> MessageStatusUpdate | None:
    state = _STATUSES.get(p.get_str(status, "status") or "")
    message_id = p.get_str(status, "id")
    if state is None or message_id is None:
        return None
    recipient = p.get_str(status, "recipient_id")
    errors = p.get(status, "errors")
    error = None
    if isinstance(errors, list) and errors:
        first = errors[0]
        details = p.get_str(p.get_dict(first, "error_data"), "details")
        error = details or p.get_str(first, "message", "title")
    return MessageStatusUpdate(
        (message_id,),
        _chat(recipient) if recipient and recipient.isdigit() else None,
        state,
        timestamp=p.parse_timestamp(p.get(status, "timestamp")),
        error=error,
    )


@dataclass(frozen=True, slots=True)
class _Content:
    kind: MessageKind
    text: str | None = None
    caption: str | None = None
    media: InboundMedia | None = None
    location: Location | None = None
    contact: Contact | None = None
    quoted: str | None = None


def _content_of(message: dict[str, Any]) -> _Content | None:
    kind = p.get_str(message, "type") or ""
    quoted = p.get_str(p.get_dict(message, "context"), "id")
    part = p.get_dict(message, kind)
    if kind == "text":
        return _Content(MessageKind.TEXT, text=p.get_str(part, "body"), quoted=quoted)
    if (media_kind := _MEDIA_KINDS.get(kind)) is not None:
        if media_kind is MessageKind.AUDIO and p.get_bool(part, "voice"):
            media_kind = MessageKind.VOICE
        media_id = p.get_str(part, "id")
        media = InboundMedia(
            mime_type=p.get_str(part, "mime_type"),
            filename=p.get_str(part, "filename"),
            download={"id": media_id} if media_id else None,
        )
        caption = p.get_str(part, "caption")
        return _Content(media_kind, caption=caption, media=media, quoted=quoted)
    if kind == "location":
        latitude, longitude = p.get_float(part, "latitude"), p.get_float(part, "longitude")
        if latitude is None or longitude is None:
            return None
        return _Content(
            MessageKind.LOCATION, location=Location(latitude, longitude, p.get_str(part, "name"))
        )
    if kind == "contacts":
        cards = p.get(message, "contacts")
        card = cards[0] if isinstance(cards, list) and cards else {}
        name = p.get_str(p.get_dict(card, "name"), "formatted_name")
        return _Content(MessageKind.CONTACT, contact=Contact(name, None))
    if kind == "reaction":
        return _Content(
            MessageKind.REACTION,
            text=p.get_str(part, "emoji") or "",
            quoted=p.get_str(part, "message_id"),
        )
    if kind == "interactive":
        # A button or a list row tapped: its title is the text, the message it answers quoted.
        reply = p.get_dict(part, "button_reply") or p.get_dict(part, "list_reply")
        return _Content(MessageKind.TEXT, text=p.get_str(reply, "title"), quoted=quoted)
    if kind == "button":  # a template's quick-reply button
        return _Content(MessageKind.TEXT, text=p.get_str(part, "text"), quoted=quoted)
    if kind == "edit":
        edited = _content_of(p.get_dict(part, "message"))
        text = (edited.text or edited.caption) if edited is not None else None
        return _Content(MessageKind.EDIT, text=text, quoted=p.get_str(part, "original_message_id"))
    if kind == "revoke":
        return _Content(MessageKind.DELETE, quoted=p.get_str(part, "original_message_id"))
    if kind in ("system", "ephemeral"):
        return None
    return _Content(MessageKind.OTHER)


def _message_from(
    message: dict[str, Any], names: Mapping[str | None, str | None]
) -> IncomingMessage | None:
    sender, message_id = p.get_str(message, "from"), p.get_str(message, "id")
    if sender is None or message_id is None or (content := _content_of(message)) is None:
        return None
    number = sender if sender.isdigit() else None
    return IncomingMessage(
        message_id=message_id,
        chat_id=_chat(number) if number else sender,
        sender=number,
        sender_id=_chat(number) if number else sender,
        sender_name=names.get(sender),
        is_group=False,
        from_me=False,
        kind=content.kind,
        timestamp=p.parse_timestamp(p.get(message, "timestamp")) or datetime.now(UTC),
        text=content.text,
        caption=content.caption,
        media=content.media if content.kind in MEDIA_MESSAGE_KINDS else None,
        location=content.location,
        contact=content.contact,
        quoted_message_id=content.quoted,
        raw=message,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudApiOptions(GatewayOptions):
    """The number's id, its token and the app's secret, on the Graph API."""

    url: str = DEFAULT_URL
    access_token: str = field(metadata=PRIVATE)
    phone_number_id: str = field(metadata=PRIVATE)
    app_secret: str = field(metadata=PRIVATE)

    def configuration_url(self) -> str | None:
        """Meta's business manager."""
        return "https://business.facebook.com/wa/manage/phone-numbers/"


DESCRIPTOR: Final = GatewayDescriptor(
    gateway=CloudApiGateway,
    name="WhatsApp Cloud API",
    cloud=True,
    options=CloudApiOptions,
    credentials=(
        CredentialField("access_token", FieldType.PASSWORD),
        CredentialField("phone_number_id"),
        CredentialField("app_secret", FieldType.PASSWORD),
        CredentialField("url", FieldType.URL, required=False, default=DEFAULT_URL),
    ),
    build=lambda session, options: CloudApiGateway(
        session,
        access_token=options.access_token,
        phone_number_id=options.phone_number_id,
        app_secret=options.app_secret,
        base_url=options.url,
    ),
)

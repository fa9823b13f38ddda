"""Typed models shared by every gateway product."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
import hashlib
import mimetypes
from typing import Any


class SessionState(StrEnum):
    """State of the WhatsApp session behind a gateway."""

    CONNECTED = "connected"
    CONNECTING = "connecting"
    PAIRING = "pairing"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"
    FAILED = "failed"


class Capability(StrEnum):
    """Optional features a gateway product may offer."""

    PAIRING_CODE = "pairing_code"
    WEBHOOK = "webhook"
    POLLING = "polling"
    HMAC = "hmac"
    LOCATION = "location"
    # A message can quote an earlier one (reply_to).
    REPLY = "reply"
    # The gateway reports when a message was delivered and read.
    RECEIPTS = "receipts"
    EDIT = "edit"
    DELETE = "delete"
    TYPING = "typing"
    POLL = "poll"
    # The gateway reports incoming calls.
    CALLS = "calls"
    # The gateway tells whom a message mentions (@someone).
    MENTIONS = "mentions"
    # The gateway reports votes on polls (which options were chosen).
    POLL_VOTES = "poll_votes"
    # Approved message templates can be sent (the only messages allowed at any time).
    TEMPLATES = "templates"
    CONTACT = "contact"
    REACTION = "reaction"
    STICKER = "sticker"
    VOICE = "voice"
    MARK_READ = "mark_read"
    CHECK_PHONE = "check_phone"
    # The client chooses the id of a message it sends, so a retry cannot send it twice.
    CLIENT_MESSAGE_ID = "client_message_id"
    # Media that was not inlined in the webhook can be fetched afterwards.
    MEDIA_DOWNLOAD = "media_download"
    # The gateway can tell what it posted while we could not receive it.
    CATCH_UP = "catch_up"


class MessageKind(StrEnum):
    """What an incoming message carries."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    VOICE = "voice"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACT = "contact"
    REACTION = "reaction"
    POLL = "poll"
    POLL_VOTE = "poll_vote"
    # An earlier message got a new text, or was deleted for everyone (quoted_message_id).
    EDIT = "edit"
    DELETE = "delete"
    OTHER = "other"


# Incoming message kinds that carry a file.
MEDIA_MESSAGE_KINDS = frozenset(
    {
        MessageKind.IMAGE,
        MessageKind.VIDEO,
        MessageKind.AUDIO,
        MessageKind.VOICE,
        MessageKind.DOCUMENT,
        MessageKind.STICKER,
    }
)


class MediaKind(StrEnum):
    """How an outgoing file is presented in WhatsApp."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    VOICE = "voice"
    DOCUMENT = "document"
    STICKER = "sticker"


class ChatPresence(StrEnum):
    """What the chat shows of us: typing, recording a voice message, or nothing."""

    TYPING = "typing"
    RECORDING = "recording"
    PAUSED = "paused"


class DeliveryStatus(StrEnum):
    """Delivery state of a message we sent."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LoginQr:
    """A pairing QR code: an image (PNG, or JPEG where the gateway sends that).

    `payload` is the QR's text, for a gateway that hands out the text instead of a picture.
    """

    payload: str | None = None
    image: bytes | None = None


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """What the gateway says about the session."""

    state: SessionState
    phone: str | None = None
    jid: str | None = None
    name: str | None = None
    qr: LoginQr | None = None
    detail: str | None = None
    # The gateway holds no client for the session: starting one cannot leak another.
    stopped: bool = False


@dataclass(frozen=True, slots=True)
class OutgoingMedia:
    """A file to send: its bytes, MIME type, file name and how to present it."""

    data: bytes
    mime_type: str
    filename: str
    kind: MediaKind

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        filename: str,
        mime_type: str | None = None,
        kind: MediaKind | None = None,
    ) -> OutgoingMedia:
        """Fill in the MIME type from the file name and the kind from the MIME type."""
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return cls(data, mime, filename, kind or media_kind_for(mime))


def media_kind_for(mime_type: str) -> MediaKind:
    """Pick how WhatsApp should present a file of this MIME type."""
    mime = mime_type.split(";")[0].strip().lower()
    if mime == "image/webp":
        return MediaKind.STICKER
    if mime in ("image/jpeg", "image/png"):
        return MediaKind.IMAGE
    if mime in ("video/mp4", "video/3gpp"):
        return MediaKind.VIDEO
    if mime.startswith("audio/"):
        return MediaKind.AUDIO
    return MediaKind.DOCUMENT


@dataclass(frozen=True, slots=True)
class SentMessage:
    """The gateway accepted a message."""

    message_id: str
    chat_id: str
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundMedia:
    """Media attached to an incoming message: inline bytes, a URL, or only its description.

    `download` is the gateway's own handle for fetching bytes that were not inlined
    (`Gateway.download_media`); None when there is nothing to fetch.
    """

    mime_type: str | None = None
    filename: str | None = None
    url: str | None = None
    data: bytes | None = field(default=None, repr=False)
    download: dict[str, Any] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Location:
    """A shared location."""

    latitude: float
    longitude: float
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """A shared contact card."""

    name: str | None
    vcard: str | None


@dataclass(frozen=True, slots=True)
class Poll:
    """A poll (kind poll), or a vote on one (kind poll_vote).

    A vote names the options chosen where the gateway could read them, and otherwise gives
    their SHA-256 hashes (base64), which whoever remembers the poll's options can match.
    """

    question: str | None = None
    options: tuple[str, ...] = ()
    selected: tuple[str, ...] = ()
    selected_hashes: tuple[str, ...] = ()

    def chosen_of(self, options: Sequence[str]) -> tuple[str, ...]:
        """The options a vote chose: as named, else those of `options` whose hash it gives.

        WhatsApp hashes an option as the SHA-256 of its text.
        """
        if self.selected or not self.selected_hashes:
            return self.selected
        hashes = set(self.selected_hashes)
        return tuple(option for option in options if _option_hash(option) in hashes)


def _option_hash(option: str) -> str:
    return base64.b64encode(hashlib.sha256(option.encode()).digest()).decode()


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A message that arrived in one of the account's chats."""

    message_id: str
    chat_id: str
    sender: str | None
    sender_id: str
    sender_name: str | None
    is_group: bool
    from_me: bool
    kind: MessageKind
    timestamp: datetime
    text: str | None = None
    caption: str | None = None
    media: InboundMedia | None = None
    location: Location | None = None
    contact: Contact | None = None
    quoted_message_id: str | None = None
    # The sender's LID (…@lid), where the gateway gives one beside or instead of the number.
    sender_lid: str | None = None
    # Whom the message mentions: phone digits, or a LID (…@lid) where no number was given.
    mentions: tuple[str, ...] = ()
    poll: Poll | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class MessageStatusUpdate:
    """Messages we sent changed their delivery state."""

    message_ids: tuple[str, ...]
    chat_id: str | None
    status: DeliveryStatus
    timestamp: datetime | None = None
    # Why it failed, where the gateway says.
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """The session changed state (paired, connected, dropped, logged out, new QR)."""

    state: SessionState
    reason: str | None = None
    phone: str | None = None
    qr: LoginQr | None = None
    # The account's own LID, where the gateway tells it (at pairing).
    lid: str | None = None


@dataclass(frozen=True, slots=True)
class PhoneCheck:
    """Whether a phone number has WhatsApp."""

    phone: str
    on_whatsapp: bool
    chat_id: str | None = None


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """Someone calls the account; `ended` once the call is over (taken or not)."""

    call_id: str
    caller: str | None
    caller_id: str
    ended: bool = False
    timestamp: datetime | None = None


type InboundEvent = IncomingMessage | MessageStatusUpdate | SessionEvent | IncomingCall

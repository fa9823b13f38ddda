"""Message content as WhatsApp's multi-device protobuf looks in JSON.

Engines built on whatsmeow (wuzapi) and on Baileys (Waabot) both hand the protobuf `Message`
through, with the same field names (only the case of a few keys differs, e.g. `stanzaID` and
`stanzaId`); this module reads what the user wrote out of it, whichever engine sent it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from . import payload as p
from .chat_id import canonical_jid, lid_of, people_of, phone_of
from .models import (
    MEDIA_MESSAGE_KINDS,
    Contact,
    InboundMedia,
    IncomingMessage,
    Location,
    MessageKind,
    Poll,
)

# Message keys that carry content, and the kind each stands for.
_CONTENT_KINDS: Final = {
    "conversation": MessageKind.TEXT,
    "extendedTextMessage": MessageKind.TEXT,
    "imageMessage": MessageKind.IMAGE,
    "videoMessage": MessageKind.VIDEO,
    "ptvMessage": MessageKind.VIDEO,
    "audioMessage": MessageKind.AUDIO,
    "documentMessage": MessageKind.DOCUMENT,
    "stickerMessage": MessageKind.STICKER,
    "locationMessage": MessageKind.LOCATION,
    "liveLocationMessage": MessageKind.LOCATION,
    "contactMessage": MessageKind.CONTACT,
    "contactsArrayMessage": MessageKind.CONTACT,
    "reactionMessage": MessageKind.REACTION,
    "pollCreationMessage": MessageKind.POLL,
    "pollCreationMessageV2": MessageKind.POLL,
    "pollCreationMessageV3": MessageKind.POLL,
}
# Wrappers whose inner `message` holds the real content.
_WRAPPERS: Final = tuple(
    name.lower()
    for name in (
        "ephemeralMessage",
        "viewOnceMessage",
        "viewOnceMessageV2",
        "viewOnceMessageV2Extension",
        "documentWithCaptionMessage",
    )
)
# Keys that only ever carry protocol bookkeeping, never something a user wrote.
_NOISE: Final = frozenset(
    key.lower()
    for key in (
        "protocolMessage",
        "senderKeyDistributionMessage",
        "messageContextInfo",
        "pollUpdateMessage",
        "keepInChatMessage",
        "encReactionMessage",
        "deviceSentMessage",
    )
)


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What a protobuf message says; `part` is the raw content object (media descriptions)."""

    kind: MessageKind
    part: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    caption: str | None = None
    location: Location | None = None
    contact: Contact | None = None
    quoted_message_id: str | None = None
    mentions: tuple[str, ...] = ()
    poll: Poll | None = None


# protocolMessage types (WhatsApp's enum; Baileys may write the names).
_REVOKE: Final = frozenset({0, "REVOKE"})
_MESSAGE_EDIT: Final = frozenset({14, "MESSAGE_EDIT"})


def read_content(message: dict[str, Any]) -> MessageContent | None:
    """The content of a protobuf `Message`; None for protocol noise and empty messages.

    Of the protocol messages, an edit (its new text) and a deletion for everyone count as
    content: they change a message the user saw.
    """
    content = _unwrap(message)
    # Both engines spell the key so: an exact lookup keeps the common path fast.
    protocol = content.get("protocolMessage")
    if isinstance(protocol, dict) and (change := _change_of(protocol)) is not None:
        return change
    found = _content_key(content)
    if found is None:
        return None
    key, kind = found
    body = p.get(content, key)
    part = body if isinstance(body, dict) else {}
    context = p.get_dict(part, "contextInfo")
    quoted = p.get_str(context, "stanzaID")
    if kind is MessageKind.AUDIO and p.get_bool(part, "PTT"):
        kind = MessageKind.VOICE
    if kind is MessageKind.TEXT:
        text = body if isinstance(body, str) else p.get_str(part, "text")
        mentions = people_of(p.get(context, "mentionedJID"))
        return MessageContent(kind, part, text=text, quoted_message_id=quoted, mentions=mentions)
    if kind is MessageKind.REACTION:
        reacted_to = p.get_str(p.get_dict(part, "key"), "ID")
        text = p.get_str(part, "text")
        return MessageContent(kind, part, text=text, quoted_message_id=reacted_to)
    if kind is MessageKind.LOCATION:
        return MessageContent(kind, part, location=_location_from(part), quoted_message_id=quoted)
    if kind is MessageKind.CONTACT:
        card = part
        if contacts := p.get(part, "contacts"):
            card = contacts[0] if isinstance(contacts, list) and contacts else {}
        contact = Contact(p.get_str(card, "displayName"), p.get_str(card, "vcard"))
        return MessageContent(kind, part, contact=contact, quoted_message_id=quoted)
    if kind is MessageKind.POLL:
        question = p.get_str(part, "name")
        listed = p.get(part, "options")
        options = tuple(
            name
            for option in (listed if isinstance(listed, list) else ())
            if (name := p.get_str(option, "optionName")) is not None
        )
        poll = Poll(question, options)
        return MessageContent(kind, part, text=question, quoted_message_id=quoted, poll=poll)
    if kind in MEDIA_MESSAGE_KINDS:
        # A caption can mention people too.
        mentions = people_of(p.get(context, "mentionedJID"))
        caption = p.get_str(part, "caption")
        return MessageContent(
            kind, part, caption=caption, quoted_message_id=quoted, mentions=mentions
        )
    return MessageContent(kind, part, quoted_message_id=quoted)


def _change_of(protocol: dict[str, Any]) -> MessageContent | None:
    """An edit or a deletion, pointing at the message changed; None for other bookkeeping."""
    changed = p.get_str(p.get_dict(protocol, "key"), "ID")
    kind = p.get(protocol, "type")
    if changed is None or isinstance(kind, bool) or not isinstance(kind, int | str):
        return None
    if kind in _REVOKE:
        return MessageContent(MessageKind.DELETE, protocol, quoted_message_id=changed)
    if kind in _MESSAGE_EDIT:
        edited = read_content(p.get_dict(protocol, "editedMessage"))
        text = (edited.text or edited.caption) if edited is not None else None
        return MessageContent(MessageKind.EDIT, protocol, text=text, quoted_message_id=changed)
    return None


def described_media(part: dict[str, Any]) -> InboundMedia:
    """A media message's type and file name, as its protobuf part gives them."""
    return InboundMedia(mime_type=p.get_str(part, "mimetype"), filename=p.get_str(part, "fileName"))


def baileys_message(
    item: dict[str, Any], media_of: Callable[[MessageContent], InboundMedia]
) -> IncomingMessage | None:
    """A Baileys `WebMessageInfo` (`key`, `message`, `pushName`, `messageTimestamp`).

    None for protocol noise. `media_of` describes a media message's file the way the
    gateway delivers it.
    """
    key = p.get_dict(item, "key")
    content = read_content(p.get_dict(item, "message"))
    if content is None:
        return None
    chat = p.require_str(key, "remoteJid", what="message key")
    sender_id = p.get_str(key, "participant") or chat
    # Baileys names the number of a sender it addresses by LID in these (newer builds).
    alternative = p.get_str(key, "participantPn", "senderPn", "remoteJidAlt", "participantAlt")
    return IncomingMessage(
        message_id=p.require_str(key, "id", what="message key"),
        chat_id=canonical_jid(chat),
        sender=phone_of(sender_id) or phone_of(alternative),
        sender_lid=lid_of(sender_id, alternative),
        sender_id=sender_id,
        sender_name=p.get_str(item, "pushName"),
        is_group=chat.endswith("@g.us"),
        from_me=p.get_bool(key, "fromMe"),
        kind=content.kind,
        timestamp=p.parse_timestamp(p.get(item, "messageTimestamp")) or datetime.now(UTC),
        text=content.text,
        caption=content.caption,
        media=media_of(content) if content.kind in MEDIA_MESSAGE_KINDS else None,
        location=content.location,
        contact=content.contact,
        quoted_message_id=content.quoted_message_id,
        mentions=content.mentions,
        poll=content.poll,
        raw=item,
    )


def _unwrap(content: dict[str, Any]) -> dict[str, Any]:
    """Look inside ephemeral, view-once and document-with-caption wrappers."""
    for _ in range(4):
        keys = {str(key).lower(): key for key in content}
        for wrapper in _WRAPPERS:
            if (key := keys.get(wrapper)) is not None and (
                inner := p.get_dict(p.get_dict(content, key), "message")
            ):
                content = inner
                break
        else:
            return content
    return content


def _content_key(content: dict[str, Any]) -> tuple[str, MessageKind] | None:
    """The key holding what the user wrote; None for protocol noise and empty messages."""
    lowered = {str(key).lower(): key for key in content}
    for name, kind in _CONTENT_KINDS.items():
        if name.lower() in lowered and content[lowered[name.lower()]] not in (None, "", {}):
            return lowered[name.lower()], kind
    other = [key for low, key in lowered.items() if low not in _NOISE and content[key]]
    return (other[0], MessageKind.OTHER) if other else None


def _location_from(part: dict[str, Any]) -> Location | None:
    latitude = p.get_float(part, "degreesLatitude")
    longitude = p.get_float(part, "degreesLongitude")
    if latitude is None or longitude is None:
        return None
    return Location(latitude, longitude, p.get_str(part, "name"))

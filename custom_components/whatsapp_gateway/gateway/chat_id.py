"""Phone numbers and chat ids: the one place where they are parsed and normalised."""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import Any

from .errors import InvalidChatId, NationalNumber

USER_SERVERS = frozenset({"s.whatsapp.net", "c.us"})
GROUP_SERVER = "g.us"
LID_SERVER = "lid"

_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
_PHONE_DIGITS = re.compile(r"\d{7,15}")
_GROUP_USER = re.compile(r"\d{7,20}(-\d{6,12})?")
_LID_USER = re.compile(r"\d{6,20}")


@dataclass(frozen=True, slots=True)
class ChatId:
    """A chat: a person (by phone number or LID) or a group."""

    user: str
    server: str

    @property
    def is_group(self) -> bool:
        """Whether this is a group chat."""
        return self.server == GROUP_SERVER

    @property
    def phone(self) -> str | None:
        """The phone number in international digits, when this is a person with a number."""
        return self.user if self.server in USER_SERVERS else None

    def jid(self, user_server: str = "s.whatsapp.net") -> str:
        """Full id as a gateway writes it; person chats use the given server suffix."""
        server = user_server if self.server in USER_SERVERS else self.server
        return f"{self.user}@{server}"

    def __str__(self) -> str:
        """Render the canonical WhatsApp JID."""
        return self.jid()


def parse_chat_id(value: str) -> ChatId:
    """Accept `+49 170 1234567`, `491701234567`, `…@s.whatsapp.net`, `…@c.us`, `…@g.us`, `…@lid`.

    Device suffixes (`491701234567:12@s.whatsapp.net`, `….0:52@…`) are dropped.
    """
    text = value.strip() if isinstance(value, str) else ""
    if "@" in text:
        user, _, server = text.partition("@")
        user = user.split(":", 1)[0]
        if user.endswith(".0"):
            user = user[:-2]
        server = server.lower()
        if server in USER_SERVERS and _PHONE_DIGITS.fullmatch(user):
            return ChatId(user, server)
        if server == GROUP_SERVER and _GROUP_USER.fullmatch(user):
            return ChatId(user, server)
        if server == LID_SERVER and _LID_USER.fullmatch(user):
            return ChatId(user, server)
        raise InvalidChatId(
            f"'{value}' is not a WhatsApp chat id (expected digits followed by "
            "@s.whatsapp.net, @c.us, @g.us or @lid)"
        )
    digits = _PHONE_PUNCTUATION.sub("", text)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("0") and _PHONE_DIGITS.fullmatch(digits):
        # No country code starts with 0: this is a number as dialled at home.
        raise NationalNumber(
            f"'{value}' is a national number: write it with its country code, "
            "for example +49 170 1234567"
        )
    if not _PHONE_DIGITS.fullmatch(digits):
        raise InvalidChatId(
            f"'{value}' is not a phone number in international format "
            "(for example +49 170 1234567) nor a chat id"
        )
    return ChatId(digits, "s.whatsapp.net")


def phone_of(jid: str | None) -> str | None:
    """The phone number behind a JID, or None when it is a group, a LID or not a JID."""
    if not jid:
        return None
    try:
        return parse_chat_id(jid).phone if "@" in jid else None
    except InvalidChatId:
        return None


def lid_of(*jids: str | None) -> str | None:
    """The first of the ids that is a LID (WhatsApp's number-less id), without its device."""
    for jid in jids:
        if jid and jid.endswith(f"@{LID_SERVER}"):
            return canonical_jid(jid)
    return None


def person_of(jid: str) -> str | None:
    """Who a JID (or bare number) names: phone digits, or the LID (…@lid) without a number."""
    if jid.isdigit():
        return jid
    return phone_of(jid) or lid_of(jid)


def people_of(jids: Any) -> tuple[str, ...]:
    """The people a list of JIDs names (a mention list), skipping what names nobody."""
    if not isinstance(jids, list):
        return ()
    return tuple(person for jid in jids if isinstance(jid, str) and (person := person_of(jid)))


def canonical_jid(jid: str) -> str:
    """A JID without its device suffix; left as is when it cannot be parsed."""
    try:
        chat = parse_chat_id(jid)
    except InvalidChatId:
        return jid
    return chat.jid(chat.server)

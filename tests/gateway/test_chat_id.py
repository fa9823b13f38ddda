"""Phone numbers and chat ids are normalised in one place."""

from __future__ import annotations

import pytest

from custom_components.whatsapp_gateway.gateway import (
    InvalidChatId,
    NationalNumber,
    parse_chat_id,
)
from custom_components.whatsapp_gateway.gateway.chat_id import canonical_jid, phone_of


@pytest.mark.parametrize(
    ("given", "jid", "phone", "group"),
    [
        ("+49 170 1234567", "491701234567@s.whatsapp.net", "491701234567", False),
        ("0049 (170) 123-4567", "491701234567@s.whatsapp.net", "491701234567", False),
        ("491701234567", "491701234567@s.whatsapp.net", "491701234567", False),
        ("491701234567@s.whatsapp.net", "491701234567@s.whatsapp.net", "491701234567", False),
        ("491701234567:12@s.whatsapp.net", "491701234567@s.whatsapp.net", "491701234567", False),
        (
            "5491155554444.0:52@s.whatsapp.net",
            "5491155554444@s.whatsapp.net",
            "5491155554444",
            False,
        ),
        ("905301234567@C.US", "905301234567@s.whatsapp.net", "905301234567", False),
        ("120363023605733675@g.us", "120363023605733675@g.us", None, True),
        ("905301234567-1574073754@g.us", "905301234567-1574073754@g.us", None, True),
        ("123456789012345@lid", "123456789012345@lid", None, False),
    ],
)
def test_accepted_forms(given: str, jid: str, phone: str | None, group: bool) -> None:
    chat = parse_chat_id(given)
    assert (str(chat), chat.phone, chat.is_group) == (jid, phone, group)


@pytest.mark.parametrize(
    "given", ["", "hello", "+49", "12345", "491701234567@example.com", "abc@g.us", "1@lid", "+"]
)
def test_rejected_forms(given: str) -> None:
    with pytest.raises(InvalidChatId, match=r"'.*'"):
        parse_chat_id(given)


@pytest.mark.parametrize("given", ["0170 1234567", "01701234567", "0170 123", "+0170 1234567"])
def test_national_numbers_are_refused_with_an_example(given: str) -> None:
    """A number as dialled at home (it starts with 0, no country code) is not a WhatsApp id."""
    with pytest.raises(NationalNumber, match=r"for example \+49 170 1234567"):
        parse_chat_id(given)


def test_helpers() -> None:
    assert phone_of("491511234567:20@s.whatsapp.net") == "491511234567"
    assert phone_of("123456789012345@lid") is None
    assert phone_of("garbage@nowhere") is None
    assert phone_of("491511234567") is None
    assert phone_of(None) is None
    assert canonical_jid("905301234567@c.us") == "905301234567@c.us"
    assert canonical_jid("491511234567:3@s.whatsapp.net") == "491511234567@s.whatsapp.net"
    assert canonical_jid("status@broadcast") == "status@broadcast"
    assert parse_chat_id("905301234567").jid("c.us") == "905301234567@c.us"

"""Edits and deletions inside protocol messages, as whatsmeow and Baileys write them."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.whatsapp_gateway.gateway import MessageKind
from custom_components.whatsapp_gateway.gateway.proto import read_content


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        # whatsmeow: the enum as a number, the key's id as "ID".
        ({"key": {"ID": "A1"}, "type": 0}, (MessageKind.DELETE, None, "A1")),
        (
            {"key": {"ID": "A1"}, "type": 14, "editedMessage": {"conversation": "new"}},
            (MessageKind.EDIT, "new", "A1"),
        ),
        # Baileys: the enum's name, "id", an edited text with its context.
        ({"key": {"id": "B2"}, "type": "REVOKE"}, (MessageKind.DELETE, None, "B2")),
        (
            {
                "key": {"id": "B2"},
                "type": "MESSAGE_EDIT",
                "editedMessage": {"extendedTextMessage": {"text": "fixed"}},
            },
            (MessageKind.EDIT, "fixed", "B2"),
        ),
        # A new caption for a picture.
        (
            {"key": {"ID": "C3"}, "type": 14, "editedMessage": {"imageMessage": {"caption": "c"}}},
            (MessageKind.EDIT, "c", "C3"),
        ),
    ],
)
def test_edits_and_deletions(protocol: dict[str, Any], expected: tuple[Any, ...]) -> None:
    content = read_content({"protocolMessage": protocol})
    assert content is not None
    assert (content.kind, content.text, content.quoted_message_id) == expected


@pytest.mark.parametrize(
    "protocol",
    [
        {"key": {"ID": "A1"}, "type": 5},  # a history sync notice: bookkeeping
        {"type": 0},  # no message to delete
        {"key": {"ID": "A1"}, "type": [0]},
        {"key": {"ID": "A1"}, "type": True},
    ],
)
def test_other_protocol_messages_are_no_content(protocol: dict[str, Any]) -> None:
    assert read_content({"protocolMessage": protocol}) is None

"""parse_webhook on hostile input: only models or GatewayResponseError, never a crash or a lie.

Each gateway gets at least 10,000 generated bodies: random bytes, random JSON, real payloads
with one node replaced or deleted, and odd values (timestamps such as "²" or a 400-digit
number, lone surrogates) put where the parsers read them.
"""

from __future__ import annotations

from datetime import datetime
import json
import logging
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.whatsapp_gateway.gateway import (
    Gateway,
    GatewayResponseError,
    InboundEvent,
    IncomingCall,
    IncomingMessage,
    MessageStatusUpdate,
    SessionEvent,
    create_gateway,
)

from ..conftest import FIXTURES

NO_SESSION = cast("aiohttp.ClientSession", None)
GATEWAYS: dict[str, Gateway] = {
    "wuzapi": create_gateway("wuzapi", NO_SESSION, {"url": "http://w", "token": "t"}),
    "maytapi": create_gateway(
        "maytapi", NO_SESSION, {"product_id": "p", "api_key": "k", "phone_id": "12"}
    ),
    "chatapi": create_gateway("chatapi", NO_SESSION, {"url": "http://c/instance1", "token": "t"}),
    "waabot": create_gateway(
        "waabot",
        NO_SESSION,
        {"email": "e", "password": "p", "session_id": "s", "access_token": "a"},
    ),
    "waha": create_gateway("waha", NO_SESSION, {"url": "http://waha:3000", "api_key": "k"}),
    "evolution": create_gateway(
        "evolution",
        NO_SESSION,
        {"url": "http://evolution:8080", "api_key": "k", "instance": "home-assistant"},
    ),
    "greenapi": create_gateway(
        "greenapi", NO_SESSION, {"id_instance": "1101000001", "api_token": "t"}
    ),
    "cloudapi": create_gateway(
        "cloudapi",
        NO_SESSION,
        {"access_token": "t", "phone_number_id": "106540352242922", "app_secret": "s"},
    ),
}
CHATAPI_PAYLOADS = [
    {
        "instanceId": "1",
        "messages": [
            {
                "id": "false_1202555@c.us_A",
                "body": "hello",
                "type": "chat",
                "senderName": "Ann",
                "fromMe": False,
                "author": "1202555@c.us",
                "time": 1768469445,
                "chatId": "1202555@c.us",
                "messageNumber": 7,
                "quotedMsgId": None,
            },
            {
                "id": "false_1202555@c.us_B",
                "body": "https://files.example/a.jpg",
                "type": "image",
                "caption": "door",
                "chatId": "1202555@c.us",
                "time": 1768469446,
            },
        ],
        "ack": [{"id": "true_1202555@c.us_C", "chatId": "1202555@c.us", "status": "viewed"}],
    }
]
WAABOT_PAYLOADS = [
    {
        "event": "onMessage",
        "session_id": "s",
        "data": {
            "key": {"remoteJid": "2348179803743@s.whatsapp.net", "fromMe": False, "id": "B1"},
            "message": {"extendedTextMessage": {"text": "hi", "contextInfo": {"stanzaId": "B0"}}},
            "messageTimestamp": "1768469445",
            "pushName": "Ada",
        },
    },
    {
        "messages": [
            {
                "id": {"_serialized": "false_2348179803743@c.us_F1"},
                "from": "2348179803743@c.us",
                "body": "flat hello",
                "type": "chat",
                "t": 1768469445,
            }
        ]
    },
]
CAPTURED = Path(__file__).parents[3] / "shared" / "fixtures" / "gateways" / "captured"
_WAHA_MESSAGE = {
    "id": "false_491700000002@c.us_W1",
    "timestamp": 1768469445,
    "from": "491700000002@c.us",
    "fromMe": False,
    "to": "31612345678@c.us",
    "participant": None,
    "body": "door",
    "hasMedia": True,
    "media": {"url": "http://localhost:3000/api/files/default/W1.png", "mimetype": "image/png"},
    "location": {"latitude": "52.5", "longitude": "13.4", "description": "Home"},
    "replyTo": {"id": "Q1", "body": "hi"},
    "_data": {
        "key": {"id": "W1", "remoteJidAlt": "491700000002@s.whatsapp.net"},
        "message": {"imageMessage": {"mimetype": "image/png", "caption": "door"}},
        "pushName": "Anna",
    },
}
WAHA_PAYLOADS = [
    *(json.loads(path.read_bytes()) for path in sorted(CAPTURED.glob("waha-*.json"))),
    {"event": "message.any", "session": "default", "payload": _WAHA_MESSAGE},
    {
        "event": "message",
        "session": "default",
        "payload": {**_WAHA_MESSAGE, "_data": {"type": "chat", "notifyName": "Anna"}},
    },
    {
        "event": "message",
        "session": "default",
        "payload": {
            **_WAHA_MESSAGE,
            "_data": {"Info": {"SenderAlt": "1@s.whatsapp.net"}, "Message": {"conversation": "x"}},
        },
    },
    {
        "event": "message.reaction",
        "payload": {**_WAHA_MESSAGE, "reaction": {"text": "👍", "messageId": "true_1@c.us_A"}},
    },
    {
        "event": "message.revoked",
        "payload": {"after": _WAHA_MESSAGE, "before": None, "revokedMessageId": "true_1@c.us_A"},
    },
    {"event": "message.edited", "payload": {**_WAHA_MESSAGE, "editedMessageId": "false_1@c.us_A"}},
    {
        "event": "poll.vote",
        "payload": {
            "vote": {**_WAHA_MESSAGE, "selectedOptions": ["yes"]},
            "poll": {"id": "true_1@c.us_P", "to": "1@c.us", "fromMe": True},
        },
    },
    {"event": "call.received", "payload": {"id": "C1", "from": "1@c.us", "timestamp": 1}},
    {"event": "message.ack", "payload": {"id": "true_1@c.us_A", "ack": 2}},
]
_EVOLUTION_MESSAGE = {
    "key": {
        "remoteJid": "120363000000000001@g.us",
        "fromMe": False,
        "id": "3EB0E1",
        "participant": "162495633350918@lid",
        "senderPn": "557321009983@s.whatsapp.net",
    },
    "pushName": "Ana",
    "message": {
        "imageMessage": {"mimetype": "image/png", "caption": "door", "contextInfo": {}},
        "base64": "iVBORw0KGgo=",
    },
    "messageType": "imageMessage",
    "messageTimestamp": 1768469445,
}
EVOLUTION_PAYLOADS = [
    *(json.loads(path.read_bytes()) for path in sorted(CAPTURED.glob("evolution-*.json"))),
    {"event": "messages.upsert", "instance": "home-assistant", "data": _EVOLUTION_MESSAGE},
    {
        "event": "MESSAGES_UPDATE",
        "instance": "home-assistant",
        "data": {
            "keyId": "3EB0A",
            "remoteJid": "1@s.whatsapp.net",
            "fromMe": True,
            "status": "READ",
        },
    },
    {
        "event": "messages.update",
        "instance": "home-assistant",
        "data": {
            "keyId": "3EB0P",
            "remoteJid": "557321009983@s.whatsapp.net",
            "fromMe": True,
            "status": "DELETED",
            "pollUpdates": [{"name": "yes", "voters": ["557321009983@s.whatsapp.net"]}],
        },
    },
    {
        "event": "messages.delete",
        "instance": "home-assistant",
        "data": {"remoteJid": "1@s.whatsapp.net", "fromMe": False, "id": "3EB0B"},
    },
    {
        "event": "qrcode.updated",
        "instance": "home-assistant",
        "data": {"qrcode": {"base64": "data:image/png;base64,iVBORw0KGgo=", "code": "2@x"}},
    },
    {
        "event": "connection.update",
        "instance": "home-assistant",
        "data": {"state": "open", "wuid": "5511912345678@s.whatsapp.net", "statusReason": 200},
    },
    {
        "event": "call",
        "instance": "home-assistant",
        "data": {"id": "C1", "from": "1@s.whatsapp.net", "status": "offer", "date": "2026-01-01"},
    },
]
GREENAPI_PAYLOADS = [
    *(json.loads(path.read_bytes()) for path in sorted(CAPTURED.glob("greenapi-*.json"))),
    {
        "typeWebhook": "incomingMessageReceived",
        "instanceData": {"idInstance": 1101000001},
        "timestamp": 1768469445,
        "idMessage": "BAE5V",
        "senderData": {"chatId": "120363000000000001@g.us", "sender": "79040865149@c.us"},
        "messageData": {
            "typeMessage": "pollUpdateMessage",
            "pollMessageData": {
                "stanzaId": "BAE5P",
                "name": "Pizza?",
                "votes": [{"optionName": "yes", "optionVoters": ["79040865149@c.us"]}],
            },
        },
    },
    {
        "typeWebhook": "incomingMessageReceived",
        "idMessage": "BAE5W",
        "senderData": {"chatId": "79040865149@c.us", "sender": "79040865149@c.us"},
        "messageData": {
            "typeMessage": "pollMessage",
            "pollMessageData": {"name": "When?", "options": [{"optionName": "now"}]},
        },
    },
    {
        "typeWebhook": "incomingMessageReceived",
        "idMessage": "BAE5X",
        "senderData": {"chatId": "79040865149@c.us", "sender": "79040865149@c.us"},
        "messageData": {
            "typeMessage": "contactMessage",
            "contactMessageData": {"displayName": "Bob", "vcard": "BEGIN:VCARD"},
        },
    },
]
CLOUDAPI_PAYLOADS = [
    *(json.loads(path.read_bytes()) for path in sorted(CAPTURED.glob("cloudapi-*.json"))),
]
for _payload in CLOUDAPI_PAYLOADS:  # the captures name other numbers: make them ours
    for _entry in _payload.get("entry", []):
        for _change in _entry.get("changes", []):
            _change["value"].setdefault("metadata", {})["phone_number_id"] = "106540352242922"
PAYLOADS: dict[str, list[Any]] = {
    "wuzapi": [json.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("wuzapi_*.json"))],
    "maytapi": [json.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("maytapi_*.json"))],
    "chatapi": CHATAPI_PAYLOADS,
    "waabot": WAABOT_PAYLOADS,
    "waha": WAHA_PAYLOADS,
    "evolution": EVOLUTION_PAYLOADS,
    "greenapi": GREENAPI_PAYLOADS,
    "cloudapi": CLOUDAPI_PAYLOADS,
}
EXAMPLES_PER_GATEWAY = 10_000

ODD_VALUES = st.sampled_from(
    [
        "²",
        "١٢٣",
        "1" * 400,
        10**400,
        -(10**30),
        1e308,
        -1.5,
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59+14:00",
        "not a date",
        "\ud800",
        "a\udfffb",
        "",
        [],
        {},
        None,
        True,
    ]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | ODD_VALUES,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
CONTENT_TYPES = st.sampled_from(
    [
        {},
        {"Content-Type": "application/json"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ]
)


def mutate(value: Any, path: list[int], replacement: Any, delete: bool) -> Any:
    """Replace (or delete) one node of a JSON document, chosen by the path of indexes."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    if delete and len(path) == 1:
        del copy[key]
    else:
        copy[key] = mutate(value[key], path[1:], replacement, delete)
    return copy


# Keys the parsers read timestamps, ids and text from, in one gateway or another.
NAMED_KEYS = st.sampled_from(
    [
        "Timestamp",
        "timestamp",
        "time",
        "t",
        "messageTimestamp",
        "conversation",
        "text",
        "body",
        "PushName",
        "pushName",
        "ID",
        "id",
        "Chat",
        "chatId",
        "remoteJid",
        "type",
        # WAHA's envelope and payloads
        "event",
        "payload",
        "from",
        "to",
        "ack",
        "status",
        "selectedOptions",
        "url",
        "data",
        "key",
        "message",
        "state",
        "base64",
        "typeWebhook",
        "typeMessage",
        "senderData",
        "messageData",
        "idMessage",
        "entry",
        "changes",
        "value",
        "messages",
        "statuses",
        "errors",
    ]
)


def replace_named(value: Any, name: str, replacement: Any) -> Any:
    """The document with the value of every key called `name` (at any depth) replaced."""
    if isinstance(value, list):
        return [replace_named(item, name, replacement) for item in value]
    if isinstance(value, dict):
        return {
            key: replacement if key == name else replace_named(item, name, replacement)
            for key, item in value.items()
        }
    return value


@st.composite
def bodies(draw: st.DrawFn, kind: str) -> tuple[dict[str, str], bytes]:
    """Headers and a body, as a gateway (or an attacker) could post them."""
    headers = draw(CONTENT_TYPES)
    shape = draw(st.sampled_from(["bytes", "json", "mutated", "mutated", "named", "named"]))
    if shape == "bytes":
        return headers, draw(st.binary(max_size=300))
    if shape == "json":
        value = draw(JSON_VALUES)
    elif shape == "named":
        value = replace_named(
            draw(st.sampled_from(PAYLOADS[kind])),
            draw(NAMED_KEYS),
            draw(ODD_VALUES | JSON_VALUES),
        )
    else:
        value = mutate(
            draw(st.sampled_from(PAYLOADS[kind])),
            draw(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=7)),
            draw(JSON_VALUES),
            draw(st.booleans()),
        )
    text = json.dumps(value)
    if kind == "wuzapi" and draw(st.booleans()):
        # wuzapi's default webhook format: the JSON in a form field.
        fields = {"jsonData": text, "token": draw(st.sampled_from(["t", "x", ""]))}
        return {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(fields).encode()
    return headers, text.encode()


def check_model(event: InboundEvent) -> None:
    """What comes out is a complete model whose text the event bus can serialise."""
    assert isinstance(event, IncomingMessage | MessageStatusUpdate | SessionEvent | IncomingCall)
    if isinstance(event, IncomingMessage):
        assert isinstance(event.timestamp, datetime)
        assert event.timestamp.tzinfo is not None
        assert event.message_id
        assert event.chat_id
        event.timestamp.isoformat()
    fields = {
        name: getattr(event, name)
        for name in event.__slots__  # type: ignore[attr-defined]
        if name != "raw"
    }
    # Raises on a lone surrogate, as Home Assistant's JSON encoder would.
    json.dumps(fields, default=str, ensure_ascii=False).encode()


@pytest.mark.parametrize("kind", sorted(GATEWAYS))
def test_fuzz_parse_webhook(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    gateway = GATEWAYS[kind]
    parsed = {"models": 0, "refused": 0}

    @settings(
        max_examples=EXAMPLES_PER_GATEWAY,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(post=bodies(kind))
    def run(post: tuple[dict[str, str], bytes]) -> None:
        headers, body = post
        gateway.verify_webhook(headers, body, None)
        gateway.verify_webhook(headers, body, "s" * 32)
        try:
            events = gateway.parse_webhook(headers, body)
        except GatewayResponseError:
            parsed["refused"] += 1
            return
        parsed["models"] += 1
        for event in events:
            check_model(event)

    with caplog.at_level(logging.DEBUG):
        run()
    assert sum(parsed.values()) >= EXAMPLES_PER_GATEWAY
    # Both outcomes occur: the generator reaches the parsers' happy paths, not only refusals.
    assert parsed["models"] and parsed["refused"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("value", ["²", "1" * 400, 10**400, -(10**30), "9999-99-99"])
def test_odd_timestamp_falls_back(value: Any) -> None:
    payload = json.loads((FIXTURES / "wuzapi_message_text.json").read_bytes())
    payload["event"]["Info"]["Timestamp"] = value
    body = json.dumps(payload).encode()
    [message] = GATEWAYS["wuzapi"].parse_webhook({"Content-Type": "application/json"}, body)
    assert isinstance(message, IncomingMessage)
    assert message.timestamp.tzinfo is not None
    assert message.text == "turn on the porch light"


def test_lone_surrogates_are_repaired() -> None:
    payload = json.loads((FIXTURES / "wuzapi_message_text.json").read_bytes())
    payload["event"]["Message"] = {"conversation": "a\ud800b\U0001f600"}
    payload["event"]["Info"]["PushName"] = "\udfff"
    for body in (
        json.dumps(payload).encode(),
        json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        urlencode({"jsonData": json.dumps(payload)}).encode(),
    ):
        [message] = GATEWAYS["wuzapi"].parse_webhook({}, body)
        assert isinstance(message, IncomingMessage)
        assert message.text == "a\ufffdb\U0001f600"
        assert message.sender_name == "\ufffd"


def test_forged_signatures_are_rejected() -> None:
    @settings(max_examples=500, deadline=None, database=None)
    @given(signature=st.text(max_size=70), body=st.binary())
    def run(signature: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "x-hmac-signature": signature}
        assert not GATEWAYS["wuzapi"].verify_webhook(headers, body, "k" * 32)

    run()


def test_every_fixture_is_exercised() -> None:
    assert len(PAYLOADS["wuzapi"]) + len(PAYLOADS["maytapi"]) >= 25

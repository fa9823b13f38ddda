"""Every example payload in tests/fixtures parses into the right model with the right values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
import json
from typing import Any, cast

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    Contact,
    DeliveryStatus,
    Gateway,
    IncomingMessage,
    Location,
    MessageKind,
    MessageStatusUpdate,
    SessionEvent,
    SessionState,
    create_gateway,
)
from custom_components.whatsapp_gateway.gateway.media import PNG_SIGNATURE

from ..conftest import HMAC_KEY, fixture_bytes

NO_SESSION = cast("aiohttp.ClientSession", None)  # parsing does no I/O
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CET = timezone(timedelta(hours=1))


@pytest.fixture
def wuzapi() -> Gateway:
    return create_gateway("wuzapi", NO_SESSION, {"url": "http://wuzapi", "token": "t"})


@pytest.fixture
def maytapi() -> Gateway:
    return create_gateway(
        "maytapi",
        NO_SESSION,
        {"product_id": "dc01968f-0000-0000-0000-7cfcf51aa423", "api_key": "k", "phone_id": "12"},
    )


def one(gateway: Gateway, name: str, headers: dict[str, str] = JSON) -> object:
    events = gateway.parse_webhook(headers, fixture_bytes(name))
    assert len(events) == 1, events
    return events[0]


def test_wuzapi_text(wuzapi: Gateway) -> None:
    message = one(wuzapi, "wuzapi_message_text.json")
    assert isinstance(message, IncomingMessage)
    assert message.message_id == "3EB0C5A1F2D3E4B5A6C7"
    assert message.chat_id == "491511234567@s.whatsapp.net"
    assert message.sender == "491511234567"
    assert message.sender_id == "491511234567@s.whatsapp.net"
    assert message.sender_name == "Alice"
    assert (message.is_group, message.from_me, message.kind) == (False, False, MessageKind.TEXT)
    assert message.text == "turn on the porch light"
    assert message.caption is None and message.media is None and message.quoted_message_id is None
    assert message.timestamp == datetime(2026, 1, 15, 10, 30, 45, tzinfo=CET)
    assert message.raw["userID"] == "eeb9c96d4ac15602fda4db3b759d12c0"


@pytest.mark.parametrize(
    ("name", "headers", "signature"),
    [
        (
            "wuzapi_message_text.form.txt",
            FORM,
            "e1dcba5b77ddf08e92be1428d9bac7ed3e58a0cee35cb1f6c13db5f73ac295da",
        ),
        (
            "wuzapi_message_text.json_body.txt",
            JSON,
            "0d0d31a0d0fb8c17b5bf9f546fa342c8171e04c8bb947a44d2592fd26eac847d",
        ),
    ],
)
def test_wuzapi_raw_bodies_and_hmac_vectors(
    wuzapi: Gateway, name: str, headers: dict[str, str], signature: str
) -> None:
    body = fixture_bytes(name)
    signed = {**headers, "X-Hmac-Signature": signature}
    assert wuzapi.verify_webhook(signed, body, HMAC_KEY)
    assert not wuzapi.verify_webhook(signed, body, HMAC_KEY + "x")
    assert not wuzapi.verify_webhook(headers, body, HMAC_KEY)
    assert not wuzapi.verify_webhook(signed, body.replace(b"porch", b"torch"), HMAC_KEY)
    message = one(wuzapi, name, headers)
    assert isinstance(message, IncomingMessage)
    assert (message.message_id, message.text, message.sender) == (
        "3EB0C5A1F2D3E4B5A6C7",
        "turn on the porch light",
        "491511234567",
    )
    # Without a Content-Type header the format is recognised from the body.
    assert wuzapi.parse_webhook({}, body) == [message]


def test_wuzapi_text_reply(wuzapi: Gateway) -> None:
    message = one(wuzapi, "wuzapi_message_text_reply.json")
    assert isinstance(message, IncomingMessage)
    assert (message.message_id, message.kind, message.text) == (
        "3EB0D1D2D3D4D5D6D7D8",
        MessageKind.TEXT,
        "yes please",
    )
    assert message.quoted_message_id == "3EB0131D16474B5A7E3C3B"


def test_wuzapi_group_image_reply(wuzapi: Gateway) -> None:
    message = one(wuzapi, "wuzapi_message_group_image_reply.json")
    assert isinstance(message, IncomingMessage)
    assert message.chat_id == "120363023605733675@g.us"
    assert message.is_group
    assert (message.sender, message.sender_name) == ("491701112233", "Bob")
    assert message.kind is MessageKind.IMAGE
    assert message.caption == "who is at the door?"
    assert message.text is None
    assert message.quoted_message_id == "3EB0C5A1F2D3E4B5A6C7"
    assert message.media is not None
    assert message.media.mime_type == "image/jpeg"
    assert message.media.filename == "3EB0AA11BB22CC33DD44.jpg"
    assert message.media.data is not None and message.media.data.startswith(b"\xff\xd8\xff")


def test_wuzapi_voice(wuzapi: Gateway) -> None:
    message = one(wuzapi, "wuzapi_message_voice.json")
    assert isinstance(message, IncomingMessage)
    assert message.kind is MessageKind.VOICE
    assert message.media is not None
    assert message.media.mime_type == "audio/ogg; codecs=opus"
    assert message.media.filename == "3EB0F1F2F3F4F5F6F7F8.ogg"
    assert message.media.data is not None and message.media.data.startswith(b"OggS")


def test_wuzapi_location(wuzapi: Gateway) -> None:
    message = one(wuzapi, "wuzapi_message_location.json")
    assert isinstance(message, IncomingMessage)
    assert message.kind is MessageKind.LOCATION
    assert message.location == Location(52.520008, 13.404954, "Home")


def test_wuzapi_reaction(wuzapi: Gateway) -> None:
    message = one(wuzapi, "wuzapi_message_reaction.json")
    assert isinstance(message, IncomingMessage)
    assert (message.kind, message.text, message.quoted_message_id) == (
        MessageKind.REACTION,
        "👍",
        "3EB0131D16474B5A7E3C3B",
    )


@pytest.mark.parametrize(
    "name",
    [
        "wuzapi_message_protocol_noise.json",
        "wuzapi_chat_presence.json",
        "wuzapi_presence.json",
    ],
)
def test_wuzapi_noise_is_dropped(wuzapi: Gateway, name: str) -> None:
    assert wuzapi.parse_webhook(JSON, fixture_bytes(name)) == []


@pytest.mark.parametrize(
    ("name", "status", "timestamp"),
    [
        (
            "wuzapi_receipt_delivered.json",
            DeliveryStatus.DELIVERED,
            datetime(2026, 1, 15, 10, 31, 59, tzinfo=CET),
        ),
        (
            "wuzapi_receipt_read.json",
            DeliveryStatus.READ,
            datetime(2026, 1, 15, 10, 32, 0, tzinfo=CET),
        ),
    ],
)
def test_wuzapi_receipts(
    wuzapi: Gateway, name: str, status: DeliveryStatus, timestamp: datetime
) -> None:
    assert one(wuzapi, name) == MessageStatusUpdate(
        message_ids=("3EB0131D16474B5A7E3C3B",),
        chat_id="491511234567@s.whatsapp.net",
        status=status,
        timestamp=timestamp,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wuzapi_connected.json", SessionEvent(SessionState.CONNECTED, reason="connected")),
        (
            "wuzapi_disconnected.json",
            SessionEvent(SessionState.DISCONNECTED, reason="disconnected"),
        ),
        ("wuzapi_logged_out.json", SessionEvent(SessionState.LOGGED_OUT, reason="0")),
        ("wuzapi_qr_timeout.json", SessionEvent(SessionState.DISCONNECTED, reason="qrtimeout")),
        (
            "wuzapi_pair_success.json",
            SessionEvent(
                SessionState.CONNECTING,
                reason="paired",
                phone="491511234567",
                lid="123456789012345@lid",
            ),
        ),
    ],
)
def test_wuzapi_session_events(wuzapi: Gateway, name: str, expected: SessionEvent) -> None:
    assert one(wuzapi, name) == expected


def test_wuzapi_qr(wuzapi: Gateway) -> None:
    event = one(wuzapi, "wuzapi_qr.json")
    assert isinstance(event, SessionEvent)
    assert event.state is SessionState.PAIRING
    assert event.qr is not None and event.qr.image is not None
    assert event.qr.image.startswith(PNG_SIGNATURE)


def test_maytapi_text(maytapi: Gateway) -> None:
    message = one(maytapi, "maytapi_message_text.json")
    assert isinstance(message, IncomingMessage)
    assert message.message_id == "false_905301234567@c.us_3EB081AF26FADE6416D8"
    assert message.chat_id == "905301234567@c.us"
    assert (message.sender, message.sender_id, message.sender_name) == (
        "905301234567",
        "905301234567@c.us",
        "Alice",
    )
    assert (message.is_group, message.from_me, message.kind) == (False, False, MessageKind.TEXT)
    assert message.text == "turn on the porch light"
    assert message.timestamp == datetime.fromtimestamp(1768469445, UTC)


def test_maytapi_quoted(maytapi: Gateway) -> None:
    message = one(maytapi, "maytapi_message_text_quoted.json")
    assert isinstance(message, IncomingMessage)
    assert (message.text, message.quoted_message_id) == ("yes please", "3EB065B353B9493D00C9")


def test_maytapi_group_image(maytapi: Gateway) -> None:
    message = one(maytapi, "maytapi_message_image_group.json")
    assert isinstance(message, IncomingMessage)
    assert message.message_id == "3EB0AA11BB22CC33DD44"  # no _serialized in this payload
    assert message.chat_id == "905301234567-1574073754@g.us"
    assert message.is_group
    assert (message.sender, message.sender_name) == ("905309998877", "Bob")
    assert (message.kind, message.caption) == (MessageKind.IMAGE, "who is at the door?")
    assert message.media is not None
    assert (message.media.url, message.media.mime_type, message.media.filename) == (
        "https://cdn.maytapi.com/flow/example.jpeg",
        "image/jpeg",
        "wa-media-example.jpeg",
    )


def test_maytapi_voice(maytapi: Gateway) -> None:
    message = one(maytapi, "maytapi_message_ptt.json")
    assert isinstance(message, IncomingMessage)
    assert message.kind is MessageKind.VOICE
    assert message.media is not None
    assert message.media.url == "https://cdn.maytapi.com/flow/example.oga"


def test_maytapi_location(maytapi: Gateway) -> None:
    message = one(maytapi, "maytapi_message_location.json")
    assert isinstance(message, IncomingMessage)
    assert message.location == Location(52.520008, 13.404954)


def test_maytapi_vcard(maytapi: Gateway) -> None:
    message = one(maytapi, "maytapi_message_vcard.json")
    assert isinstance(message, IncomingMessage)
    assert message.kind is MessageKind.CONTACT
    assert message.contact == Contact(
        "Maytapi",
        "BEGIN:VCARD\nVERSION:3.0\nFN:Maytapi\nTEL;type=CELL;waid=905301111111:+90 530 111 11 11"
        "\nEND:VCARD",
    )


def test_maytapi_group_notice(maytapi: Gateway) -> None:
    message = one(maytapi, "maytapi_message_group_info.json")
    assert isinstance(message, IncomingMessage)
    assert (message.kind, message.is_group, message.sender) == (
        MessageKind.OTHER,
        True,
        "905301234567",
    )
    assert message.raw["message"]["subtype"] == "group/add"


def test_maytapi_batched_acks(maytapi: Gateway) -> None:
    assert maytapi.parse_webhook(JSON, fixture_bytes("maytapi_ack.json")) == [
        MessageStatusUpdate(
            ("3EB065B353B9493D00C9",),
            "905301234567@c.us",
            DeliveryStatus.DELIVERED,
            datetime.fromtimestamp(1768469510, UTC),
        ),
        MessageStatusUpdate(
            ("3EB065B353B9493D00C9",),
            "905301234567@c.us",
            DeliveryStatus.READ,
            datetime.fromtimestamp(1768469520, UTC),
        ),
    ]


def test_maytapi_legacy_ack_array(maytapi: Gateway) -> None:
    assert one(maytapi, "maytapi_ack_legacy_array.json") == MessageStatusUpdate(
        ("3EB065B353B9493D00C9",), "905301234567@c.us", DeliveryStatus.SENT, None
    )


def test_maytapi_status_and_live_event(maytapi: Gateway) -> None:
    assert one(maytapi, "maytapi_status.json") == SessionEvent(
        SessionState.PAIRING, reason="qr-code"
    )
    assert maytapi.parse_webhook(JSON, fixture_bytes("maytapi_live_event.json")) == []
    assert maytapi.verify_webhook(JSON, fixture_bytes("maytapi_message_text.json"), None)


def wrapped(fixture: str, wrap: Any) -> bytes:
    """A wuzapi fixture whose message content is wrapped the way WhatsApp wraps it."""
    payload = json.loads(fixture_bytes(fixture))
    payload["event"]["Message"] = wrap(payload["event"]["Message"])
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda m: {"ephemeralMessage": {"message": m}}, id="disappearing"),
        pytest.param(lambda m: {"viewOnceMessageV2": {"message": m}}, id="view-once"),
        pytest.param(
            lambda m: {"ephemeralMessage": {"message": {"viewOnceMessage": {"message": m}}}},
            id="both",
        ),
        pytest.param(lambda m: {**m, "messageContextInfo": {"deviceListMetadata": {}}}, id="ctx"),
    ],
)
def test_wuzapi_wrapped_messages_are_unwrapped(wuzapi: Gateway, wrap: Any) -> None:
    (message,) = wuzapi.parse_webhook(JSON, wrapped("wuzapi_message_group_image_reply.json", wrap))
    assert isinstance(message, IncomingMessage)
    assert (message.kind, message.caption) == (MessageKind.IMAGE, "who is at the door?")


def test_wuzapi_contacts_array_and_unknown_content(wuzapi: Gateway) -> None:
    cards = {"contactsArrayMessage": {"contacts": [{"displayName": "Eve", "vcard": "BEGIN:VCARD"}]}}
    (message,) = wuzapi.parse_webhook(JSON, wrapped("wuzapi_message_text.json", lambda _: cards))
    assert isinstance(message, IncomingMessage)
    assert message.contact == Contact("Eve", "BEGIN:VCARD")
    invite = {"groupInviteMessage": {"groupJID": "1@g.us"}}
    (message,) = wuzapi.parse_webhook(JSON, wrapped("wuzapi_message_text.json", lambda _: invite))
    assert isinstance(message, IncomingMessage)
    assert message.kind is MessageKind.OTHER
    assert wuzapi.parse_webhook(JSON, wrapped("wuzapi_message_text.json", lambda _: {})) == []

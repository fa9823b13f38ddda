"""The Chat-API client against the simulated instance."""

from __future__ import annotations

import json

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    ChatApiGateway,
    DeliveryStatus,
    GatewayAuthError,
    GatewayResponseError,
    GatewayUnsupported,
    IncomingMessage,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    SessionState,
    create_gateway,
)
from custom_components.whatsapp_gateway.gateway.chatapi import MAX_PAGES_PER_POLL
from tests.conftest import CHATAPI_INSTANCE, SimulatorHandle, WebhookSink

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


async def link(simulator: SimulatorHandle, number: str = "12025550100") -> None:
    """The phone scans the instance's QR."""
    await simulator.control("chatapi/scan", {"number": number, "name": "Home"})


async def test_pairing_and_status(chatapi: ChatApiGateway, simulator: SimulatorHandle) -> None:
    """A fresh instance shows a QR; once scanned, it is connected with the account's number."""
    status = await chatapi.status()
    assert status.state is SessionState.PAIRING
    assert status.qr is not None and status.qr.image is not None
    assert status.qr.image.startswith(b"\x89PNG")
    assert (await chatapi.login_qr()).image == status.qr.image
    await chatapi.connect()  # nothing to start while pairing

    await link(simulator)
    status = await chatapi.status()
    assert (status.state, status.phone, status.jid) == (
        SessionState.CONNECTED,
        "12025550100",
        "12025550100@c.us",
    )
    with pytest.raises(GatewayResponseError, match="no QR code"):
        await chatapi.login_qr()

    await chatapi.logout()
    assert (await chatapi.status()).state is SessionState.PAIRING


@pytest.mark.parametrize(
    ("substatus", "repair"), [("computer", "/takeover"), ("offline", "/retry")]
)
async def test_stalled_session_is_taken_back(
    chatapi: ChatApiGateway, simulator: SimulatorHandle, substatus: str, repair: str
) -> None:
    """An authenticated account whose WhatsApp Web is not running counts as disconnected."""
    await link(simulator)
    await simulator.control(
        "chatapi/set_status", {"accountStatus": "authenticated", "substatus": substatus}
    )
    status = await chatapi.status()
    assert (status.state, status.detail) == (SessionState.DISCONNECTED, substatus)
    await chatapi.connect()
    assert (await chatapi.status()).state is SessionState.CONNECTED
    await chatapi.restart()


@pytest.mark.parametrize(
    ("account", "state"),
    [("loading", SessionState.CONNECTING), ("not_paid", SessionState.FAILED)],
)
async def test_other_account_states(
    chatapi: ChatApiGateway, simulator: SimulatorHandle, account: str, state: SessionState
) -> None:
    """Loading and unpaid instances map to their session states."""
    await simulator.control("chatapi/set_status", {"accountStatus": account})
    assert (await chatapi.status()).state is state


async def test_wrong_token(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> None:
    """A wrong token is an authentication error, for the QR image too."""
    gateway = create_gateway(
        "chatapi", session, {"url": f"{simulator.url}/instance{CHATAPI_INSTANCE}", "token": "x"}
    )
    with pytest.raises(GatewayAuthError):
        await gateway.status()
    with pytest.raises(GatewayAuthError):
        await gateway.login_qr()


async def test_instance_without_me(chatapi: ChatApiGateway, simulator: SimulatorHandle) -> None:
    """Old instances without GET /me are connected, just without a known number."""
    await link(simulator)
    await simulator.fault(status=404, times=1, path=f"/instance{CHATAPI_INSTANCE}/me")
    status = await chatapi.status()
    assert (status.state, status.phone) == (SessionState.CONNECTED, None)
    assert (await chatapi.status()).phone == "12025550100"  # asked again until it answers


async def test_sending(chatapi: ChatApiGateway, simulator: SimulatorHandle) -> None:
    """Text with a quote, files as data URLs, voice notes and locations reach their endpoints."""
    await link(simulator)
    text = await chatapi.send_text("+1 202 555 0111", "hello", reply_to="false_x@c.us_ABC")
    assert text.chat_id == "12025550111@s.whatsapp.net"
    assert text.message_id.startswith("true_12025550111@c.us_")
    image = OutgoingMedia.from_bytes(PNG, filename="door.png")
    await chatapi.send_media("120363012345678901@g.us", image, caption="door")
    voice = OutgoingMedia(b"OggS", "audio/ogg", "note.ogg", MediaKind.VOICE)
    await chatapi.send_media("12025550111", voice)
    await chatapi.send_location("12025550111", 52.5, 13.4, name="Home")
    sent = await simulator.get("chatapi/sent")
    assert [(r["endpoint"], r["body"]["chatId"]) for r in sent] == [
        ("sendMessage", "12025550111@c.us"),
        ("sendFile", "120363012345678901@g.us"),
        ("sendPTT", "12025550111@c.us"),
        ("sendLocation", "12025550111@c.us"),
    ]
    assert sent[0]["body"] == {
        "chatId": "12025550111@c.us",
        "body": "hello",
        "quotedMsgId": "false_x@c.us_ABC",
    }
    assert sent[1]["body"]["body"].startswith("data:image/png;base64,")
    assert (sent[1]["body"]["filename"], sent[1]["body"]["caption"]) == ("door.png", "door")
    assert sent[2]["body"]["audio"].startswith("data:audio/ogg;base64,")
    assert sent[3]["body"] == {
        "chatId": "12025550111@c.us",
        "lat": 52.5,
        "lng": 13.4,
        "address": "Home",
    }
    with pytest.raises(GatewayUnsupported):
        await chatapi.send_media(
            "12025550111", OutgoingMedia(b"RIFF", "image/webp", "s.webp", MediaKind.STICKER)
        )


async def test_refused_send(chatapi: ChatApiGateway, simulator: SimulatorHandle) -> None:
    """`sent: false` and error answers are errors with the gateway's reason."""
    with pytest.raises(GatewayResponseError, match="refused the send text request: body is"):
        await chatapi.send_text("12025550111", "")
    await simulator.control("chatapi/set_status", {"accountStatus": "not_paid"})
    with pytest.raises(GatewayResponseError, match="did not send the message: Instance is not"):
        await chatapi.send_text("12025550111", "x")


async def test_polling_from_now_on(chatapi: ChatApiGateway, simulator: SimulatorHandle) -> None:
    """The first poll only takes the position; later polls return what came after it, once."""
    await link(simulator)
    await simulator.control("chatapi/inbound", {"text": "old"})
    events, cursor = await chatapi.poll_events(None)
    assert (events, cursor) == ([], "1")

    await simulator.control("chatapi/inbound", {"text": "one", "name": "Ann", "id": "A1"})
    await chatapi.send_text("12025550111", "mine")
    await simulator.control(
        "chatapi/inbound",
        {"kind": "image", "group": "120363012345678901@g.us", "caption": "look", "reply_to": "Q1"},
    )
    await simulator.control(
        "chatapi/inbound", {"kind": "location", "latitude": 1.5, "longitude": 2}
    )
    events, cursor = await chatapi.poll_events(cursor)
    assert cursor == "5"
    assert all(isinstance(event, IncomingMessage) for event in events)
    one, mine, image, place = events
    assert isinstance(one, IncomingMessage)
    assert (one.message_id, one.text, one.sender, one.sender_name, one.kind) == (
        "false_12025550111@c.us_A1",
        "one",
        "12025550111",
        "Ann",
        MessageKind.TEXT,
    )
    assert isinstance(mine, IncomingMessage) and mine.from_me
    assert isinstance(image, IncomingMessage)
    assert (image.kind, image.is_group, image.caption, image.quoted_message_id) == (
        MessageKind.IMAGE,
        True,
        "look",
        "Q1",
    )
    assert image.media is not None and image.media.url
    assert isinstance(place, IncomingMessage) and place.location is not None
    assert (place.location.latitude, place.location.longitude) == (1.5, 2.0)
    assert await chatapi.poll_events(cursor) == ([], "5")


async def test_polling_pages_through_a_backlog(
    chatapi: ChatApiGateway, simulator: SimulatorHandle
) -> None:
    """A backlog longer than a page is read page by page, up to a limit per poll."""
    backlog = [
        {"id": f"M{number}", "type": "chat", "body": "x", "chatId": "1202555@c.us"}
        for number in range(1, 1 + 100 * (MAX_PAGES_PER_POLL + 1))
    ]
    await simulator.control("chatapi/log", {"messages": backlog})
    events, cursor = await chatapi.poll_events("0")
    assert len(events) == 100 * MAX_PAGES_PER_POLL
    assert cursor == str(100 * MAX_PAGES_PER_POLL)
    events, cursor = await chatapi.poll_events(cursor)
    assert (len(events), cursor) == (100, str(100 * (MAX_PAGES_PER_POLL + 1)))


async def test_webhook(
    chatapi: ChatApiGateway, simulator: SimulatorHandle, webhook_sink: WebhookSink
) -> None:
    """The instance posts messages and receipts to the configured webhook."""
    await link(simulator)
    await chatapi.configure_webhook(webhook_sink.url, None)
    assert await chatapi.get_webhook() == webhook_sink.url
    await simulator.control("chatapi/inbound", {"text": "hi"})
    message = await webhook_sink.next_of(chatapi, IncomingMessage)
    assert message.text == "hi"
    sent = await chatapi.send_text("12025550111", "ok")
    delivered = await webhook_sink.next_of(chatapi, MessageStatusUpdate)
    assert (delivered.message_ids, delivered.status) == (
        (sent.message_id,),
        DeliveryStatus.DELIVERED,
    )
    await simulator.control("chatapi/ack", {"ids": [sent.message_id], "status": "viewed"})
    received = await webhook_sink.next()
    assert chatapi.verify_webhook(received.headers, received.body, None)
    [viewed] = chatapi.parse_webhook(received.headers, received.body)
    assert isinstance(viewed, MessageStatusUpdate) and viewed.status is DeliveryStatus.READ


@pytest.mark.parametrize(
    ("body", "verified"),
    [
        (b'{"instanceId": "424242", "messages": []}', True),
        (b'{"instanceId": "999", "messages": []}', False),
        (b'{"messages": []}', True),
        (b"not json", True),  # refused by the parser instead
    ],
)
def test_verify_names_the_instance(chatapi: ChatApiGateway, body: bytes, verified: bool) -> None:
    """A post naming another instance is refused."""
    assert chatapi.verify_webhook({}, body, None) is verified


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"messages": {}}', b'{"messages": [{"id": "x"}]}']
)
def test_malformed_webhooks(chatapi: ChatApiGateway, body: bytes) -> None:
    """Malformed bodies raise the library's one parse error."""
    with pytest.raises(GatewayResponseError):
        chatapi.parse_webhook({}, body)


def test_tolerant_parsing(chatapi: ChatApiGateway) -> None:
    """Unknown types, bad locations and acks without ids are handled without errors."""
    body = {
        "messages": [
            {"id": "a", "chatId": "1202555@c.us", "type": "call_log", "body": ""},
            {"id": "b", "chatId": "1202555@c.us", "type": "location", "body": "north;south"},
            {"id": "c", "chatId": "1202555@c.us", "type": "vcard", "body": "BEGIN:VCARD"},
        ],
        "ack": [{"status": "viewed"}, {"id": "d", "status": "unknown"}],
        "chatUpdate": [{"old": {}, "new": {}}],
    }
    other, place, card = chatapi.parse_webhook({}, json.dumps(body).encode())
    assert isinstance(other, IncomingMessage) and other.kind is MessageKind.OTHER
    assert isinstance(place, IncomingMessage) and place.location is None
    assert isinstance(card, IncomingMessage) and card.contact is not None
    assert card.contact.vcard == "BEGIN:VCARD"

"""The Waabot client against the simulated account."""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    GatewayAuthError,
    GatewayResponseError,
    GatewayUnsupported,
    IncomingMessage,
    MediaKind,
    MessageKind,
    OutgoingMedia,
    SessionState,
    WaabotGateway,
    create_gateway,
)
from tests.conftest import SimulatorHandle, WebhookSink, waabot_options

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def instance_path(simulator: SimulatorHandle) -> str:
    """The control API path of the first instance."""
    return f"waabot/instances/{simulator.waabot_instance['session_id']}"


async def link(simulator: SimulatorHandle, number: str = "2349040613521") -> None:
    """The phone scans the instance's QR."""
    await simulator.control(f"{instance_path(simulator)}/scan", {"number": number, "name": "Shop"})


async def sent(simulator: SimulatorHandle) -> list[dict[str, Any]]:
    """What the first instance sent."""
    records: list[dict[str, Any]] = await simulator.get(f"{instance_path(simulator)}/sent")
    return records


async def test_lifecycle(waabot: WaabotGateway, simulator: SimulatorHandle) -> None:
    """Not started → started with a QR → linked → logged out, back to the QR."""
    status = await waabot.status()
    assert (status.state, status.detail) == (SessionState.DISCONNECTED, "invalid key supplied")
    await waabot.connect()
    assert (await waabot.status()).state is SessionState.PAIRING
    qr = await waabot.login_qr()
    assert qr.image is not None and qr.image.startswith(b"\x89PNG")

    await link(simulator)
    status = await waabot.status()
    assert (status.state, status.phone, status.jid, status.name) == (
        SessionState.CONNECTED,
        "2349040613521",
        "2349040613521@s.whatsapp.net",
        "Shop",
    )
    with pytest.raises(GatewayResponseError, match="no QR code"):
        await waabot.login_qr()
    await waabot.restart()
    assert (await waabot.status()).state is SessionState.CONNECTED
    await waabot.logout()
    assert (await waabot.status()).state is SessionState.PAIRING


async def test_logout_finds_the_instance(
    simulator: SimulatorHandle, session: aiohttp.ClientSession
) -> None:
    """Without the instance's database id, logout looks it up by the session id."""
    options = waabot_options(simulator)
    del options["instance_id"]
    gateway = create_gateway("waabot", session, options)
    await gateway.connect()
    await link(simulator)
    await gateway.logout()
    assert (await gateway.status()).state is SessionState.PAIRING
    options["session_id"] = "gone"
    with pytest.raises(GatewayResponseError):
        await create_gateway("waabot", session, options).logout()


async def test_account_and_instances(
    simulator: SimulatorHandle, session: aiohttp.ClientSession
) -> None:
    """With only the login, the account's instances can be listed and created."""
    options = waabot_options(simulator)
    gateway = create_gateway(
        "waabot", session, {key: options[key] for key in ("url", "email", "password")}
    )
    assert isinstance(gateway, WaabotGateway)
    [existing] = await gateway.list_instances()
    assert (existing.session_id, existing.access_token) == (
        options["session_id"],
        options["access_token"],
    )
    created = await gateway.create_instance()
    assert created.session_id != existing.session_id
    assert len(await gateway.list_instances()) == 2
    with pytest.raises(GatewayResponseError, match="No Waabot instance is selected"):
        await gateway.status()


async def test_wrong_login(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> None:
    """A wrong password or wrong instance credentials are authentication errors."""
    options = waabot_options(simulator)
    with pytest.raises(GatewayAuthError):
        await create_gateway("waabot", session, {**options, "password": "nope"}).status()
    with pytest.raises(GatewayAuthError):
        await create_gateway("waabot", session, {**options, "access_token": "nope"}).status()


async def test_expired_token_logs_in_again(
    waabot: WaabotGateway, simulator: SimulatorHandle
) -> None:
    """When the bearer token expires, the client logs in again and repeats the call."""
    await waabot.connect()
    await link(simulator)
    await simulator.control("waabot/expire_tokens")
    assert (await waabot.status()).state is SessionState.CONNECTED
    await simulator.control("waabot/expire_tokens")
    media = OutgoingMedia.from_bytes(PNG, filename="door.png")
    assert (await waabot.send_media("2348179803743", media)).message_id


async def test_sending(waabot: WaabotGateway, simulator: SimulatorHandle) -> None:
    """Text, files by multipart upload and locations; ids come from the Baileys answer."""
    await waabot.connect()
    await link(simulator)
    text = await waabot.send_text("+234 817 980 3743", "hello")
    assert text.chat_id == "2348179803743@s.whatsapp.net"
    image = OutgoingMedia.from_bytes(PNG, filename="door.png")
    photo = await waabot.send_media("120363012345678901@g.us", image, caption="door")
    document = OutgoingMedia.from_bytes(b"%PDF", filename="bill.pdf")
    await waabot.send_media("2348179803743", document, caption="ignored")
    voice = OutgoingMedia(b"OggS", "audio/ogg", "note.ogg", MediaKind.VOICE)
    await waabot.send_media("2348179803743", voice)
    await waabot.send_location("2348179803743", 6.55, 3.27, name="Office")
    records = await sent(simulator)
    assert [(r["id"], r["endpoint"]) for r in records] == [
        (text.message_id, "message"),
        (photo.message_id, "message/image"),
        (records[2]["id"], "message/doc"),
        (records[3]["id"], "message/audio"),
        (records[4]["id"], "message"),
    ]
    assert records[0]["body"]["chatId"] == "2348179803743"
    assert records[0]["body"]["message"] == "hello"
    assert records[1]["body"] == {"chatId": "120363012345678901@g.us", "caption": "door"}
    assert base64.b64decode(records[1]["file"]["base64"]) == PNG
    assert records[1]["file"]["content_type"] == "image/png"
    assert records[2]["body"] == {"chatId": "2348179803743", "filename": "bill.pdf"}
    assert records[4]["body"]["location"] == {"name": "Office", "lat": "6.55", "lng": "3.27"}


async def test_unsupported_sends(waabot: WaabotGateway) -> None:
    """Replies and stickers are refused before anything is sent."""
    with pytest.raises(GatewayUnsupported, match="replies"):
        await waabot.send_text("2348179803743", "x", reply_to="ABC")
    sticker = OutgoingMedia(b"RIFF", "image/webp", "s.webp", MediaKind.STICKER)
    with pytest.raises(GatewayUnsupported, match="stickers"):
        await waabot.send_media("2348179803743", sticker)


async def test_refused_send(waabot: WaabotGateway, simulator: SimulatorHandle) -> None:
    """An instance that is not linked refuses to send, with Waabot's reason."""
    await waabot.connect()
    with pytest.raises(GatewayResponseError, match="not connected to WhatsApp"):
        await waabot.send_text("2348179803743", "x")


async def test_webhook(
    waabot: WaabotGateway, simulator: SimulatorHandle, webhook_sink: WebhookSink
) -> None:
    """setWebhook subscribes new and own messages; the posts parse into messages."""
    await waabot.connect()
    await waabot.configure_webhook(webhook_sink.url, None)
    assert await waabot.get_webhook() == webhook_sink.url
    await waabot.connect()  # a restart keeps the webhook
    await link(simulator)
    await simulator.control(
        f"{instance_path(simulator)}/inbound",
        {"text": "hi", "name": "Ada", "id": "W1", "reply_to": "Q1", "from": "2348179803743"},
    )
    received = await webhook_sink.next()
    assert waabot.verify_webhook(received.headers, received.body, None)
    [message] = waabot.parse_webhook(received.headers, received.body)
    assert isinstance(message, IncomingMessage)
    assert (message.message_id, message.text, message.sender, message.sender_name) == (
        "W1",
        "hi",
        "2348179803743",
        "Ada",
    )
    assert message.quoted_message_id == "Q1"
    await simulator.control(
        f"{instance_path(simulator)}/inbound",
        {
            "kind": "image",
            "group": "120363012345678901@g.us",
            "caption": "look",
            "mime_type": "image/jpeg",
            "filename": "a.jpg",
        },
    )
    [image] = await _next_messages(waabot, webhook_sink)
    assert (image.kind, image.is_group, image.caption, image.sender) == (
        MessageKind.IMAGE,
        True,
        "look",
        "2348179803743",
    )
    assert image.media is not None
    assert (image.media.mime_type, image.media.filename, image.media.url) == (
        "image/jpeg",
        "a.jpg",
        None,
    )


async def _next_messages(waabot: WaabotGateway, sink: WebhookSink) -> list[IncomingMessage]:
    received = await sink.next()
    events = waabot.parse_webhook(received.headers, received.body)
    assert all(isinstance(event, IncomingMessage) for event in events)
    return [event for event in events if isinstance(event, IncomingMessage)]


def test_verify_names_the_session(waabot: WaabotGateway) -> None:
    """A post naming another instance's session id is refused."""
    mine = waabot._session_id
    assert mine is not None
    assert waabot.verify_webhook({}, json.dumps({"session_id": mine}).encode(), None)
    assert not waabot.verify_webhook({}, b'{"session_id": "other"}', None)
    assert waabot.verify_webhook({}, b'{"event": "onMessage"}', None)
    assert waabot.verify_webhook({}, b"not json", None)


BAILEYS = {
    "key": {"remoteJid": "2348179803743@s.whatsapp.net", "fromMe": False, "id": "B1"},
    "message": {"conversation": "hello"},
    "messageTimestamp": "1768469445",
    "pushName": "Ada",
}
FLAT = {
    "id": {"_serialized": "false_2348179803743@c.us_F1"},
    "from": "2348179803743@c.us",
    "body": "flat hello",
    "type": "chat",
    "notifyName": "Ada",
    "t": 1768469445,
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"event": "onMessage", "data": BAILEYS}, ["B1"]),
        ({"type": "message", "body": BAILEYS}, ["B1"]),
        (BAILEYS, ["B1"]),
        ([BAILEYS, FLAT], ["B1", "false_2348179803743@c.us_F1"]),
        ({"event": "messages.upsert", "data": {"messages": [BAILEYS]}}, ["B1"]),
        ({"event": "onAnyMessage", "message": FLAT}, ["false_2348179803743@c.us_F1"]),
        ({"event": "connection.update", "data": {"connection": "open"}}, []),
        ({"event": "onMessage", "data": {**BAILEYS, "message": {"protocolMessage": {}}}}, []),
        ({"event": "onMessage", "data": "text"}, []),
    ],
)
def test_defensive_parsing(waabot: WaabotGateway, body: Any, expected: list[str]) -> None:
    """Every envelope and message shape the engine family uses yields its messages."""
    events = waabot.parse_webhook({}, json.dumps(body).encode())
    assert [event.message_id for event in events if isinstance(event, IncomingMessage)] == expected


@pytest.mark.parametrize(
    "body",
    [b"not json", b'"text"', b'{"data": {"key": {"id": "x"}, "message": {"conversation": "x"}}}'],
)
def test_malformed_webhooks(waabot: WaabotGateway, body: bytes) -> None:
    """Malformed bodies raise the library's one parse error."""
    with pytest.raises(GatewayResponseError):
        waabot.parse_webhook({}, body)

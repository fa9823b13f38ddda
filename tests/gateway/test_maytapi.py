"""The Maytapi client against the simulated Maytapi API over loopback HTTP."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
import json
from typing import Any

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    Capability,
    DeliveryStatus,
    GatewayAuthError,
    GatewayResponseError,
    GatewayUnsupported,
    IncomingMessage,
    InvalidChatId,
    MaytapiGateway,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    SessionEvent,
    SessionState,
    create_gateway,
)
from custom_components.whatsapp_gateway.gateway.maytapi import _refused_credential
from custom_components.whatsapp_gateway.gateway.media import PNG_SIGNATURE
from simulator import MaytapiConfig

from ..conftest import API_KEY, PHONE_ID, PRODUCT_ID, SimulatorHandle, StartSimulator, WebhookSink

CONTROL = f"maytapi/phones/{PHONE_ID}"


async def sent(simulator: SimulatorHandle) -> list[dict[str, Any]]:
    """What the simulated phone recorded as sent."""
    records: list[dict[str, Any]] = await simulator.get(f"{CONTROL}/sent")
    return records


async def scan(simulator: SimulatorHandle, number: str = "905307654321") -> None:
    await simulator.control(f"{CONTROL}/scan", {"number": number})


async def test_product_phones(
    simulator: SimulatorHandle, session: aiohttp.ClientSession, maytapi: MaytapiGateway
) -> None:
    product = create_gateway(
        "maytapi", session, {"url": simulator.url, "product_id": PRODUCT_ID, "api_key": API_KEY}
    )
    assert isinstance(product, MaytapiGateway)
    assert product.phone_id is None
    (phone,) = await product.list_phones()
    assert (phone.id, phone.number, phone.status, phone.state) == (
        "12",
        None,
        "qr-code",
        SessionState.PAIRING,
    )
    added = await product.add_phone()
    assert added.id == "13"
    assert [p.id for p in await product.list_phones()] == ["12", "13"]
    with pytest.raises(GatewayResponseError, match="phone limit"):
        await product.add_phone()
    with pytest.raises(GatewayResponseError, match="No Maytapi phone is selected"):
        await product.status()


async def test_credentials_are_checked(
    simulator: SimulatorHandle, session: aiohttp.ClientSession
) -> None:
    for options, refused in (
        ({"product_id": PRODUCT_ID, "api_key": "wrong"}, "api_key"),
        ({"product_id": "other-product", "api_key": API_KEY}, "product_id"),
    ):
        gateway = create_gateway("maytapi", session, {"url": simulator.url, **options})
        with pytest.raises(GatewayAuthError, match="product id or the API key") as raised:
            await gateway.list_phones()  # type: ignore[attr-defined]
        assert raised.value.credential == refused


@pytest.mark.parametrize(
    ("answer", "credential"),
    [
        (b'{"message": "Product id is wrong!"}', "product_id"),
        (b'{"message": "Wrong token."}', "api_key"),
        (b'{"message": "Forbidden"}', None),  # a text naming neither: not guessed
        (b"", None),
    ],
)
def test_which_credential_a_refusal_names(answer: bytes, credential: str | None) -> None:
    assert _refused_credential(answer.lower()) == credential


async def test_unknown_phone_is_refused(
    simulator: SimulatorHandle, session: aiohttp.ClientSession
) -> None:
    gateway = create_gateway(
        "maytapi",
        session,
        {"url": simulator.url, "product_id": PRODUCT_ID, "api_key": API_KEY, "phone_id": "99"},
    )
    with pytest.raises(GatewayResponseError, match="Phone id 99 is not in your product"):
        await gateway.status()


async def test_session_lifecycle(simulator: SimulatorHandle, maytapi: MaytapiGateway) -> None:
    status = await maytapi.status()
    assert status.state is SessionState.PAIRING
    qr = await maytapi.login_qr()
    assert qr.image is not None and qr.image.startswith(PNG_SIGNATURE)

    await scan(simulator)
    status = await maytapi.status()
    assert (status.state, status.phone, status.jid) == (
        SessionState.CONNECTED,
        "905307654321",
        "905307654321@c.us",
    )
    with pytest.raises(GatewayResponseError, match="not on the QR screen"):
        await maytapi.login_qr()

    for phone_status, state in (
        ("loading", SessionState.CONNECTING),
        ("phone-error", SessionState.DISCONNECTED),
        ("idle", SessionState.DISCONNECTED),
    ):
        await simulator.control(f"{CONTROL}/set_status", {"status": phone_status})
        assert (await maytapi.status()).state is state

    # connect() redeploys a stuck phone, which comes back linked
    await maytapi.connect()
    assert (await maytapi.status()).state is SessionState.CONNECTED
    await maytapi.connect()  # running: nothing to do
    await maytapi.restart()
    assert (await maytapi.status()).state is SessionState.CONNECTED

    await maytapi.logout()
    assert (await maytapi.status()).state is SessionState.PAIRING


async def test_qr_answer_that_is_not_a_png(
    simulator: SimulatorHandle, maytapi: MaytapiGateway
) -> None:
    await simulator.fault(status=200, path=f"/api/{PRODUCT_ID}/{PHONE_ID}/qrCode")
    with pytest.raises(GatewayResponseError, match="not a PNG"):
        await maytapi.login_qr()


async def test_send_text_media_location_contact_reaction(
    simulator: SimulatorHandle, maytapi: MaytapiGateway
) -> None:
    await scan(simulator)
    result = await maytapi.send_text("+90 530 123 45 67", "Hello", reply_to="false_x@c.us_3EB0")
    assert result.chat_id == "905301234567@c.us"
    assert (await sent(simulator))[-1] == {
        "id": result.message_id,
        "chat_id": "905301234567@c.us",
        "body": {
            "to_number": "905301234567",
            "type": "text",
            "message": "Hello",
            "reply_to": "false_x@c.us_3EB0",
        },
    }

    image = OutgoingMedia.from_bytes(b"\x89PNGDATA", filename="snap.png")
    assert image.kind is MediaKind.IMAGE
    group = "905301234567-1574073754@g.us"
    result = await maytapi.send_media(group, image, caption="front door")
    assert result.chat_id == group
    assert (await sent(simulator))[-1]["body"] == {
        "to_number": group,
        "type": "media",
        "message": "data:image/png;base64," + base64.b64encode(b"\x89PNGDATA").decode(),
        "filename": "snap.png",
        "text": "front door",
    }

    await maytapi.send_location("905301234567", 41.093292, 29.061737, name="Bridge")
    assert (await sent(simulator))[-1]["body"] == {
        "to_number": "905301234567",
        "type": "location",
        "latitude": "41.093292",
        "longitude": "29.061737",
        "text": "Bridge",
    }
    await maytapi.send_contact("905301234567", "John", "BEGIN:VCARD\nEND:VCARD")
    assert (await sent(simulator))[-1]["body"]["message"] == {
        "displayName": "John",
        "vcard": "BEGIN:VCARD\nEND:VCARD",
    }
    await maytapi.send_reaction("905301234567", "false_905301234567@c.us_3EB0A", "😀")
    assert (await sent(simulator))[-1]["body"] == {
        "to_number": "905301234567",
        "type": "reaction",
        "message": "😀",
        "reply_to": "false_905301234567@c.us_3EB0A",
    }


async def test_send_errors(simulator: SimulatorHandle, maytapi: MaytapiGateway) -> None:
    with pytest.raises(GatewayResponseError, match="message is required"):
        await maytapi.send_text("905301234567", "")
    sticker = OutgoingMedia(b"RIFF", "image/webp", "s.webp", MediaKind.STICKER)
    with pytest.raises(GatewayUnsupported, match="stickers"):
        await maytapi.send_media("905301234567", sticker)
    with pytest.raises(InvalidChatId, match="phone number instead"):
        await maytapi.send_text("123456789012345@lid", "hi")
    with pytest.raises(GatewayUnsupported, match="phone number"):
        await maytapi.request_pairing_code("905301234567")
    with pytest.raises(GatewayUnsupported):
        await maytapi.mark_read("905301234567@c.us", ["x"])
    with pytest.raises(GatewayUnsupported):
        await maytapi.check_phones(["905301234567"])
    with pytest.raises(GatewayUnsupported):
        await maytapi.poll_events(None)
    assert Capability.PAIRING_CODE not in maytapi.capabilities


async def test_webhooks_messages_acks_and_status(
    simulator: SimulatorHandle, maytapi: MaytapiGateway, webhook_sink: WebhookSink
) -> None:
    await maytapi.configure_webhook(webhook_sink.url, "ignored")
    assert await maytapi.get_webhook() == webhook_sink.url
    [phone] = await simulator.get("maytapi/phones")
    assert phone["ack_delivery"] is True

    await scan(simulator)
    status = await webhook_sink.next_of(maytapi, SessionEvent)
    assert status == SessionEvent(SessionState.CONNECTED, reason="active")

    await simulator.control(
        f"{CONTROL}/inbound",
        {"from": "905301234567", "name": "Alice", "text": "ping", "reply_to": "3EB0PREV"},
    )
    received = await webhook_sink.next()
    assert maytapi.verify_webhook(received.headers, received.body, None)
    (message,) = maytapi.parse_webhook(received.headers, received.body)
    assert isinstance(message, IncomingMessage)
    assert message.message_id.startswith("false_905301234567@c.us_3EB0")
    assert (message.kind, message.text, message.sender, message.sender_name) == (
        MessageKind.TEXT,
        "ping",
        "905301234567",
        "Alice",
    )
    assert message.quoted_message_id == "3EB0PREV"
    assert not message.is_group

    await simulator.control(
        f"{CONTROL}/inbound",
        {
            "from": "905309998877",
            "group": "905301234567-1574073754@g.us",
            "kind": "image",
            "url": "https://cdn.maytapi.com/flow/x.jpeg",
            "mime_type": "image/jpeg",
            "caption": "door",
        },
    )
    image: IncomingMessage = await webhook_sink.next_of(maytapi, IncomingMessage)
    assert image.is_group and image.kind is MessageKind.IMAGE
    assert image.media is not None and image.media.url == "https://cdn.maytapi.com/flow/x.jpeg"

    sent_message = await maytapi.send_text("905301234567", "pong")
    await simulator.control("maytapi/flush_acks")
    received = await webhook_sink.next()
    updates = maytapi.parse_webhook(received.headers, received.body)
    assert [(u.message_ids, u.status) for u in updates if isinstance(u, MessageStatusUpdate)] == [
        ((sent_message.message_id,), DeliveryStatus.SENT),
        ((sent_message.message_id,), DeliveryStatus.DELIVERED),
        ((sent_message.message_id,), DeliveryStatus.READ),
    ]

    await simulator.control(f"{CONTROL}/fail_next_send")
    failing = await maytapi.send_text("905301234567", "lost")
    failed: MessageStatusUpdate = await webhook_sink.next_of(maytapi, MessageStatusUpdate)
    assert (failed.message_ids, failed.status) == ((failing.message_id,), DeliveryStatus.FAILED)

    await maytapi.logout()
    assert (await webhook_sink.next_of(maytapi, SessionEvent)).state is SessionState.PAIRING


async def test_verify_rejects_other_product_or_phone(maytapi: MaytapiGateway) -> None:
    def body(product: str, phone: object) -> bytes:
        return f'{{"type":"status","product_id":"{product}","phone_id":{phone}}}'.encode()

    assert maytapi.verify_webhook({}, body(PRODUCT_ID, 12), None)
    assert maytapi.verify_webhook({}, body(PRODUCT_ID, '"12"'), None)
    assert not maytapi.verify_webhook({}, body("someone-else", 12), None)
    assert not maytapi.verify_webhook({}, body(PRODUCT_ID, 13), None)
    assert maytapi.verify_webhook({}, b"[]", None)
    assert maytapi.verify_webhook({}, b"not json", None)


async def test_acks_arrive_in_batches_on_their_own(
    start_simulator: StartSimulator, session: aiohttp.ClientSession, webhook_sink: WebhookSink
) -> None:
    simulator = await start_simulator(maytapi=MaytapiConfig(ack_interval=0.05))
    gateway = create_gateway(
        "maytapi",
        session,
        {"url": simulator.url, "product_id": PRODUCT_ID, "api_key": API_KEY, "phone_id": PHONE_ID},
    )
    await gateway.configure_webhook(webhook_sink.url, None)
    await simulator.control(f"{CONTROL}/scan", {"number": "905307654321"})
    result = await gateway.send_text("905301234567", "hi")
    updates: list = []
    while not updates:  # the phone's status post comes first; then one batch of acks
        received = await webhook_sink.next()
        updates = [
            update
            for update in gateway.parse_webhook(received.headers, received.body)
            if isinstance(update, MessageStatusUpdate)
        ]
    assert {(update.message_ids, update.status) for update in updates} == {
        ((result.message_id,), DeliveryStatus.SENT),
        ((result.message_id,), DeliveryStatus.DELIVERED),
        ((result.message_id,), DeliveryStatus.READ),
    }


async def test_missed_events_from_the_webhook_log(
    simulator: SimulatorHandle, maytapi: MaytapiGateway
) -> None:
    """Only this phone's incoming messages since then, and a broken entry hides nothing."""
    message = {
        "type": "message",
        "conversation": "905551112233@c.us",
        "message": {"type": "text", "text": "hi", "id": "M1", "fromMe": False},
        "user": {"id": "905551112233@c.us", "phone": "905551112233"},
        "timestamp": 1768469445,
    }
    entry = {"pid": PRODUCT_ID, "phone": PHONE_ID, "type": "incoming", "created_at": ""}
    now = datetime.now(UTC)
    log = [
        {**entry, "created_at": (now - timedelta(hours=2)).isoformat(), "data": {"body": message}},
        {**entry, "phone": "13", "created_at": now.isoformat(), "data": {"body": message}},
        {**entry, "type": "outgoing", "created_at": now.isoformat(), "data": {"body": message}},
        {**entry, "created_at": now.isoformat(), "data": {"body": "{broken"}},
        {**entry, "created_at": "never", "data": {"body": message}},
        {**entry, "created_at": now.isoformat(), "data": {"body": json.dumps(message)}},
    ]
    await simulator.control("maytapi/logs", {"entries": log})
    events = await maytapi.missed_events(now - timedelta(minutes=5))
    assert [type(event).__name__ for event in events] == ["IncomingMessage"]

"""The Cloud API client against the simulated Graph API, and the bodies Meta posts."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    CloudApiGateway,
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
from simulator import CloudApiConfig

from ..conftest import (
    CLOUD,
    SINK_VERIFY_TOKEN,
    SimulatorHandle,
    StartSimulator,
    WebhookSink,
    cloudapi_options,
)

CAPTURED = Path(__file__).parents[3] / "shared" / "fixtures" / "gateways" / "captured"
ANNA = "491700000002"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def captured(name: str) -> bytes:
    """A body Meta posts (see SOURCES.md there)."""
    return (CAPTURED / name).read_bytes()


async def use_sink(simulator: SimulatorHandle, sink: WebhookSink) -> None:
    """The user enters the sink as the app's callback URL, with its verify token."""
    answer = await simulator.control(
        "cloudapi/dashboard",
        {"callback_url": sink.url, "verify_token": SINK_VERIFY_TOKEN, "verify": True},
    )
    assert answer == {"verified": True}


async def test_status(cloudapi: CloudApiGateway) -> None:
    """Connected while the token reaches the number; the number is the account."""
    status = await cloudapi.status()
    assert (status.state, status.phone, status.name) == (
        SessionState.CONNECTED,
        "15550953877",
        "Home Assistant",
    )
    await cloudapi.connect()
    await cloudapi.restart()
    with pytest.raises(GatewayUnsupported):
        await cloudapi.login_qr()
    with pytest.raises(GatewayUnsupported):
        await cloudapi.logout()


async def test_refusals(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> None:
    wrong_token = create_gateway(
        "cloudapi", session, {**cloudapi_options(simulator), "access_token": "x"}
    )
    with pytest.raises(GatewayAuthError) as refused:
        await wrong_token.status()
    assert refused.value.credential == "access_token"
    assert "Invalid OAuth access token" in str(refused.value)
    wrong_number = create_gateway(
        "cloudapi", session, {**cloudapi_options(simulator), "phone_number_id": "1"}
    )
    with pytest.raises(GatewayResponseError, match="Object with ID '1' does not exist"):
        await wrong_number.status()


async def test_sends(simulator: SimulatorHandle, cloudapi: CloudApiGateway) -> None:
    """Each send as Meta takes it; files are uploaded first and sent by their id."""
    text = await cloudapi.send_text(f"+{ANNA}", "hello", reply_to="wamid.Q")
    assert text.message_id.startswith("wamid.") and text.chat_id == f"{ANNA}@s.whatsapp.net"
    await cloudapi.send_media(
        ANNA, OutgoingMedia(PNG, "image/png", "a.png", MediaKind.IMAGE), caption="door"
    )
    await cloudapi.send_media(
        ANNA, OutgoingMedia(b"%PDF", "application/pdf", "bill.pdf", MediaKind.DOCUMENT)
    )
    await cloudapi.send_location(ANNA, 52.5, 13.4, name="Home")
    await cloudapi.send_reaction(ANNA, "wamid.THEIRS", "👍")
    await cloudapi.send_template(ANNA, "door_alert", "de", ["front door"])
    await cloudapi.mark_read(ANNA, ["wamid.A"])
    with pytest.raises(GatewayUnsupported, match="groups"):
        await cloudapi.send_text("120363000000000001@g.us", "hello")
    bodies = [record["body"] for record in await simulator.get("cloudapi/sent")]
    assert bodies[0] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": ANNA,
        "type": "text",
        "text": {"body": "hello"},
        "context": {"message_id": "wamid.Q"},
    }
    assert bodies[1]["image"]["caption"] == "door" and bodies[1]["image"]["id"]
    assert bodies[2]["document"]["filename"] == "bill.pdf"
    assert bodies[3]["location"] == {"latitude": 52.5, "longitude": 13.4, "name": "Home"}
    assert bodies[4]["reaction"] == {"message_id": "wamid.THEIRS", "emoji": "👍"}
    assert bodies[5]["template"] == {
        "name": "door_alert",
        "language": {"code": "de"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "front door"}]}],
    }
    assert bodies[6] == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A"}
    shown = (await simulator.get(f"phones/cloudapi/{CLOUD.phone_number_id}"))["chat"]
    assert shown[1]["media"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_the_handshake(cloudapi: CloudApiGateway) -> None:
    """Meta's check of the address: the challenge for our verify token, nothing otherwise."""
    query = {"hub.mode": "subscribe", "hub.verify_token": "ours", "hub.challenge": "1158201444"}
    assert cloudapi.verification_answer(query, "ours") == "1158201444"
    assert cloudapi.verification_answer({**query, "hub.verify_token": "theirs"}, "ours") is None
    assert cloudapi.verification_answer({**query, "hub.mode": "unsubscribe"}, "ours") is None
    assert cloudapi.verification_answer(query, None) is None


def test_the_signed_capture_verifies_with_its_secret_only(session: aiohttp.ClientSession) -> None:
    body = captured("cloudapi-pywa-signed-real-text.json")
    signature = "54edfa1d7259e0eb13c677cc7d73d1b5c86cfa12433d19156e058ab9251bc441"
    header = {"X-Hub-Signature-256": f"sha256={signature}"}
    options = {"access_token": "t", "phone_number_id": "106540352242922"}
    theirs = create_gateway(
        "cloudapi", session, {**options, "app_secret": "1222e786b144d0e85b9f365372d93676"}
    )
    other = create_gateway("cloudapi", session, {**options, "app_secret": "another-secret"})
    assert theirs.verify_webhook(header, body, None)
    assert not other.verify_webhook(header, body, None)
    assert not theirs.verify_webhook({}, body, None) and theirs.signature_missing({}, None)
    assert not theirs.verify_webhook(header, body + b" ", None)


async def test_inbound(
    simulator: SimulatorHandle, cloudapi: CloudApiGateway, webhook_sink: WebhookSink
) -> None:
    """Meta checks the sink first, then posts signed: messages of every kind, statuses."""
    await use_sink(simulator, webhook_sink)

    async def inbound(**body: object) -> IncomingMessage:
        await simulator.control("cloudapi/inbound", {"from": ANNA, "name": "Anna", **body})
        received = await webhook_sink.next()
        assert cloudapi.verify_webhook(received.headers, received.body, None)
        [message] = cloudapi.parse_webhook(received.headers, received.body)
        assert isinstance(message, IncomingMessage)
        return message

    text = await inbound(text="ping", id="wamid.T1", reply_to="wamid.Q")
    assert (text.kind, text.text, text.sender, text.sender_name, text.quoted_message_id) == (
        MessageKind.TEXT,
        "ping",
        ANNA,
        "Anna",
        "wamid.Q",
    )
    image = await inbound(kind="image", caption="door", mime_type="image/png", data="iVBORw0KGgo=")
    assert image.media is not None and image.media.download is not None
    fetched = await cloudapi.download_media(image.media)
    assert (fetched.data, fetched.mime_type) == (base64.b64decode("iVBORw0KGgo="), "image/png")
    voice = await inbound(kind="voice", mime_type="audio/ogg")
    assert voice.kind is MessageKind.VOICE
    button = await inbound(kind="button", text="Yes please", reply_to="wamid.ASK")
    assert (button.kind, button.text, button.quoted_message_id) == (
        MessageKind.TEXT,
        "Yes please",
        "wamid.ASK",
    )
    edit = await inbound(kind="edit", text="pong!", target_id="wamid.T1")
    assert (edit.kind, edit.text, edit.quoted_message_id) == (MessageKind.EDIT, "pong!", "wamid.T1")
    gone = await inbound(kind="delete", target_id="wamid.T1")
    assert (gone.kind, gone.quoted_message_id) == (MessageKind.DELETE, "wamid.T1")

    sent = await cloudapi.send_text(ANNA, "hello")
    await simulator.control("cloudapi/ack", {"ids": [sent.message_id], "status": "delivered"})
    received = await webhook_sink.next()
    [status] = cloudapi.parse_webhook(received.headers, received.body)
    assert status == MessageStatusUpdate(
        (sent.message_id,), f"{ANNA}@s.whatsapp.net", DeliveryStatus.DELIVERED, status.timestamp
    )


async def test_outside_the_24_hours_only_templates_get_through(
    start_simulator: StartSimulator, session: aiohttp.ClientSession, webhook_sink: WebhookSink
) -> None:
    """Meta takes a text to someone who has not written in 24 hours, then fails it with its
    reason; a template goes."""
    simulator = await start_simulator(cloudapi=CloudApiConfig(enforce_window=True))
    cloudapi = create_gateway("cloudapi", session, cloudapi_options(simulator))
    await use_sink(simulator, webhook_sink)
    sent = await cloudapi.send_text("491700000009", "hello")
    received = await webhook_sink.next()
    [failed] = cloudapi.parse_webhook(received.headers, received.body)
    assert isinstance(failed, MessageStatusUpdate)
    assert (failed.message_ids, failed.status) == ((sent.message_id,), DeliveryStatus.FAILED)
    assert failed.error is not None and "more than 24 hours have passed" in failed.error
    await cloudapi.send_template("491700000009", "door_alert", "en_US")
    assert webhook_sink.queue.empty()


async def test_a_wrong_verify_token_gets_nothing(
    simulator: SimulatorHandle, cloudapi: CloudApiGateway, webhook_sink: WebhookSink
) -> None:
    answer = await simulator.control(
        "cloudapi/dashboard",
        {"callback_url": webhook_sink.url, "verify_token": "typo", "verify": True},
    )
    assert answer == {"verified": False}
    await simulator.control("cloudapi/inbound", {"from": ANNA, "text": "ping"})
    assert webhook_sink.queue.empty()


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("cloudapi-pywa-signed-real-text.json", MessageKind.TEXT, "Hey there! I am using PyWa."),
        ("cloudapi-pywa-reply-context.json", MessageKind.TEXT, "replied text"),
        ("cloudapi-pywa-image.json", MessageKind.IMAGE, None),
        ("cloudapi-pywa-media-with-url.json", MessageKind.IMAGE, None),
        ("cloudapi-pywa-reaction.json", MessageKind.REACTION, "😮"),
        ("cloudapi-pywa-unreaction-empty.json", MessageKind.REACTION, ""),
        ("cloudapi-pywa-location-current.json", MessageKind.LOCATION, None),
        ("cloudapi-pywa-button-quick-reply.json", MessageKind.TEXT, "title"),
        ("cloudapi-pywa-interactive-callback.json", MessageKind.TEXT, "title"),
        ("cloudapi-pywa-edited-image.json", MessageKind.EDIT, "Updated image caption"),
        ("cloudapi-pywa-deleted-revoke.json", MessageKind.DELETE, None),
    ],
)
def test_captured_messages(
    session: aiohttp.ClientSession, name: str, kind: MessageKind, text: str | None
) -> None:
    """Every message capture parses (for any number of the app: these name others)."""
    gateway = create_gateway(
        "cloudapi", session, {"access_token": "t", "phone_number_id": "x", "app_secret": "s"}
    )
    body = json.loads(captured(name))
    for entry in body["entry"]:
        for change in entry["changes"]:
            change["value"].get("metadata", {}).pop("phone_number_id", None)
    [message] = gateway.parse_webhook({}, json.dumps(body).encode())
    assert isinstance(message, IncomingMessage)
    assert (message.kind, message.text) == (kind, text)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("cloudapi-pywa-status-sent.json", DeliveryStatus.SENT),
        ("cloudapi-pywa-status-delivered.json", DeliveryStatus.DELIVERED),
        ("cloudapi-pywa-status-read.json", DeliveryStatus.READ),
        ("cloudapi-pywa-status-failed-errors.json", DeliveryStatus.FAILED),
        ("cloudapi-pywa-status-group.json", DeliveryStatus.READ),
    ],
)
def test_captured_statuses(
    session: aiohttp.ClientSession, name: str, status: DeliveryStatus
) -> None:
    gateway = create_gateway(
        "cloudapi", session, {"access_token": "t", "phone_number_id": "x", "app_secret": "s"}
    )
    body = json.loads(captured(name))
    body["entry"][0]["changes"][0]["value"].get("metadata", {}).pop("phone_number_id", None)
    [update] = gateway.parse_webhook({}, json.dumps(body).encode())
    assert isinstance(update, MessageStatusUpdate) and update.status is status
    if "failed" in name:
        assert (
            update.error
            == "Failed to send message because this user's phone number is part of an experiment"
        )


def test_posts_for_another_number_and_echoes_are_not_ours(session: aiohttp.ClientSession) -> None:
    """A capture naming another number of the app gives nothing; so does an echo of a message
    sent from the WhatsApp Business app (no `messages`)."""
    gateway = create_gateway(
        "cloudapi", session, {"access_token": "t", "phone_number_id": "mine", "app_secret": "s"}
    )
    assert gateway.parse_webhook({}, captured("cloudapi-pywa-reply-context.json")) == []
    assert gateway.parse_webhook({}, captured("cloudapi-pywa-outgoing-echo-text.json")) == []
    with pytest.raises(GatewayResponseError):
        gateway.parse_webhook({}, b"[]")

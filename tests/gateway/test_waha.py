"""The WAHA client against the simulated server, and the real bodies WAHA posted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    ChatPresence,
    DeliveryStatus,
    GatewayAuthError,
    GatewayResponseError,
    IncomingCall,
    IncomingMessage,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    SessionEvent,
    SessionState,
    WahaGateway,
    create_gateway,
)
from custom_components.whatsapp_gateway.gateway.media import PNG_SIGNATURE
from custom_components.whatsapp_gateway.gateway.waha import sent_id_of
from simulator import WahaConfig

from ..conftest import WAHA_KEY, SimulatorHandle, StartSimulator, WebhookSink

CAPTURED = Path(__file__).parents[3] / "shared" / "fixtures" / "gateways" / "captured"
CONTROL = "waha/sessions/default"
ANNA = "491700000002"


def captured(name: str) -> bytes:
    """A real WAHA post (see SOURCES.md there)."""
    return (CAPTURED / name).read_bytes()


async def link(simulator: SimulatorHandle, waha: WahaGateway, sink: WebhookSink) -> None:
    """Create and start the session with our webhook, and scan its QR."""
    await waha.configure_webhook(sink.url, "hook-secret")
    await waha.connect()
    await simulator.control(f"{CONTROL}/scan", {"number": "31612345678", "name": "Home"})


async def test_session_lifecycle(
    simulator: SimulatorHandle, waha: WahaGateway, webhook_sink: WebhookSink
) -> None:
    """No session yet: stopped, and connect creates it; it shows a QR, then works once
    scanned, naming the number; logout shows a QR again."""
    status = await waha.status()
    assert (status.state, status.stopped, status.detail) == (
        SessionState.DISCONNECTED,
        True,
        "no session",
    )
    await waha.configure_webhook(webhook_sink.url, "hook-secret")
    assert (await waha.status()).stopped  # created, not started
    await waha.connect()
    assert (await waha.status()).state is SessionState.PAIRING
    qr = await waha.login_qr()
    assert qr.image is not None and qr.image.startswith(PNG_SIGNATURE)
    await simulator.control(f"{CONTROL}/scan", {"number": "31612345678", "name": "Home"})
    status = await waha.status()
    assert (status.state, status.phone, status.name) == (
        SessionState.CONNECTED,
        "31612345678",
        "Home",
    )
    await waha.connect()  # working: nothing to do
    assert (await waha.status()).state is SessionState.CONNECTED
    await waha.restart()
    assert (await waha.status()).state is SessionState.CONNECTED
    await waha.logout()
    assert (await waha.status()).state is SessionState.PAIRING
    # The session's changes were posted, signed (Plus).
    events = []
    while not webhook_sink.queue.empty():
        received = await webhook_sink.next()
        assert waha.verify_webhook(received.headers, received.body, "hook-secret")
        events += waha.parse_webhook(received.headers, received.body)
    states = [event.state for event in events if isinstance(event, SessionEvent)]
    assert SessionState.CONNECTED in states and states[-1] is SessionState.PAIRING


async def test_setting_the_same_webhook_again_does_not_restart_the_session(
    simulator: SimulatorHandle, waha: WahaGateway, webhook_sink: WebhookSink
) -> None:
    """Home Assistant sets its webhook at every start; WAHA restarts a session whose config
    changes, so an unchanged one is not saved again."""
    await link(simulator, waha, webhook_sink)
    while not webhook_sink.queue.empty():
        await webhook_sink.next()
    await waha.configure_webhook(webhook_sink.url, "hook-secret")
    assert webhook_sink.queue.empty()  # no session.status: nothing restarted
    await waha.configure_webhook(webhook_sink.url, "another-secret")
    received = await webhook_sink.next()
    assert json.loads(received.body)["payload"]["status"] == "STOPPED"


async def test_pairing_code(simulator: SimulatorHandle, waha: WahaGateway) -> None:
    await waha.connect()
    code = await waha.request_pairing_code("+31 6 12345670")
    assert len(code) == 9 and code[4] == "-"
    [session] = await simulator.get("waha/sessions")
    await simulator.control(f"phones/waha/{session['name']}/code", {"code": code, "name": "Home"})
    status = await waha.status()
    assert (status.state, status.phone) == (SessionState.CONNECTED, "31612345670")


async def test_a_failed_session_is_restarted(
    simulator: SimulatorHandle, waha: WahaGateway, webhook_sink: WebhookSink
) -> None:
    await link(simulator, waha, webhook_sink)
    await simulator.control(f"{CONTROL}/fail")
    status = await waha.status()
    assert (status.state, status.detail, status.stopped) == (
        SessionState.DISCONNECTED,
        "failed",
        False,
    )
    await waha.connect()
    assert (await waha.status()).state is SessionState.CONNECTED


async def test_wrong_api_key(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> None:
    gateway = create_gateway("waha", session, {"url": simulator.url, "api_key": "wrong"})
    with pytest.raises(GatewayAuthError) as refused:
        await gateway.status()
    assert refused.value.credential == "api_key"


async def test_sends(
    simulator: SimulatorHandle, waha: WahaGateway, webhook_sink: WebhookSink
) -> None:
    """Every send reaches its endpoint with the session and the chat as WAHA writes it."""
    await link(simulator, waha, webhook_sink)
    text = await waha.send_text(f"+{ANNA}", "hello", reply_to="false_x@c.us_Q1")
    assert text.message_id.startswith(f"true_{ANNA}@c.us_")
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    image = OutgoingMedia(png, "image/png", "a.png", MediaKind.IMAGE)
    await waha.send_media(ANNA, image, caption="door")
    voice = OutgoingMedia(b"OggS", "audio/ogg; codecs=opus", "v.ogg", MediaKind.VOICE)
    await waha.send_media(ANNA, voice, caption="ignored")
    await waha.send_location(ANNA, 52.5, 13.4, name="Home")
    await waha.send_contact(ANNA, "Bob", "BEGIN:VCARD\nEND:VCARD")
    await waha.send_poll(ANNA, "Pizza?", ["yes", "no"], multiple=True)
    await waha.send_reaction(ANNA, text.message_id, "👍")
    await waha.edit_message(ANNA, text.message_id, "hello again")
    await waha.send_presence(ANNA, ChatPresence.RECORDING)
    await waha.mark_read(ANNA, ["false_a", "false_b"], sender=None)
    await waha.delete_message(ANNA, text.message_id)
    sticker = OutgoingMedia(b"RIFF", "image/webp", "s.webp", MediaKind.STICKER)
    with pytest.raises(Exception, match="stickers"):
        await waha.send_media(ANNA, sticker)
    records = await simulator.get(f"{CONTROL}/sent")
    endpoints = [record["endpoint"] for record in records]
    assert endpoints == [
        "sendText",
        "sendImage",
        "sendVoice",
        "sendLocation",
        "sendContactVcard",
        "sendPoll",
        "reaction",
        "edit",
        "presence",
        "sendSeen",
        "sendSeen",
        "delete",
    ]
    first = records[0]["body"]
    assert first == {
        "session": "default",
        "chatId": f"{ANNA}@c.us",
        "text": "hello",
        "reply_to": "false_x@c.us_Q1",
    }
    assert records[1]["body"]["file"]["data"] == base64.b64encode(png).decode()
    assert records[1]["body"]["caption"] == "door"
    assert "caption" not in records[2]["body"]
    assert records[5]["body"]["poll"] == {
        "name": "Pizza?",
        "options": ["yes", "no"],
        "multipleAnswers": True,
    }
    assert records[8]["body"] == {"chatId": f"{ANNA}@c.us", "presence": "recording"}
    shown = (await simulator.get("phones/waha/default"))["chat"]
    assert (shown[0]["text"], shown[0]["edited"], shown[0]["deleted"]) == ("", True, True)
    [check] = await waha.check_phones([ANNA])
    assert (check.phone, check.on_whatsapp, check.chat_id) == (ANNA, True, f"{ANNA}@c.us")


async def test_sending_while_not_linked(simulator: SimulatorHandle, waha: WahaGateway) -> None:
    await waha.connect()
    with pytest.raises(GatewayResponseError, match="Session status is not as expected"):
        await waha.send_text(ANNA, "hello")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"id": "true_1@c.us_A"}, "true_1@c.us_A"),  # GOWS and WAHA's own shape
        ({"id": {"fromMe": True, "_serialized": "true_1@c.us_B"}}, "true_1@c.us_B"),  # WEBJS
        ({"key": {"remoteJid": "1@s.whatsapp.net", "fromMe": True, "id": "C"}}, "true_1@c.us_C"),
        (
            {
                "key": {
                    "remoteJid": "9@g.us",
                    "fromMe": True,
                    "id": "D",
                    "participant": "1@s.whatsapp.net",
                }
            },
            "true_9@g.us_D_1@c.us",
        ),
    ],
)
def test_sent_ids_of_every_engine(answer: dict[str, Any], expected: str) -> None:
    assert sent_id_of(answer) == expected


@pytest.mark.parametrize("engine", ["NOWEB", "WEBJS", "GOWS"])
async def test_inbound_of_every_engine(
    start_simulator: StartSimulator,
    session: aiohttp.ClientSession,
    webhook_sink: WebhookSink,
    engine: str,
) -> None:
    """Texts, media (fetched from WAHA's files URL), locations, polls, votes, reactions,
    edits, deletions, LID senders, acks and calls, whatever the engine's raw message."""
    simulator = await start_simulator(waha=WahaConfig(api_key=WAHA_KEY, engine=engine))
    waha = create_gateway("waha", session, {"url": simulator.url, "api_key": WAHA_KEY})
    assert isinstance(waha, WahaGateway)
    await link(simulator, waha, webhook_sink)
    while not webhook_sink.queue.empty():
        await webhook_sink.next()

    async def inbound(**body: object) -> IncomingMessage:
        await simulator.control(f"{CONTROL}/inbound", {"from": ANNA, "name": "Anna", **body})
        message: IncomingMessage = await webhook_sink.next_of(waha, IncomingMessage)
        return message

    text = await inbound(text="ping", id="T1", reply_to="Q0")
    assert (text.kind, text.text, text.chat_id, text.sender, text.sender_name) == (
        MessageKind.TEXT,
        "ping",
        f"{ANNA}@c.us",
        ANNA,
        "Anna",
    )
    assert (text.message_id, text.quoted_message_id) == (f"false_{ANNA}@c.us_T1", "Q0")
    image = await inbound(kind="image", caption="door", mime_type="image/png", data="iVBORw0KGgo=")
    assert (image.kind, image.caption) == (MessageKind.IMAGE, "door")
    assert image.media is not None and image.media.url is not None
    fetched = await waha.download_media(image.media)
    assert (fetched.data, fetched.mime_type) == (base64.b64decode("iVBORw0KGgo="), "image/png")
    voice = await inbound(kind="voice", mime_type="audio/ogg")
    assert voice.kind is MessageKind.VOICE
    place = await inbound(kind="location", latitude=52.5, longitude=13.4)
    assert place.location is not None and (place.location.latitude, place.location.longitude) == (
        52.5,
        13.4,
    )
    poll = await inbound(kind="poll", text="When?", options=["now", "later"])
    assert poll.kind is MessageKind.POLL
    group = await inbound(text="all", group="120363000000000001@g.us", id="G1")
    assert (group.is_group, group.chat_id, group.sender) == (True, "120363000000000001@g.us", ANNA)
    assert group.message_id == f"false_120363000000000001@g.us_G1_{ANNA}@c.us"
    if engine != "WEBJS":  # WhatsApp Web gives no number beside a LID
        lid = await inbound(text="hidden", lid=True)
        assert (lid.sender, lid.sender_lid) == (ANNA, f"{int(ANNA) % 10**15:015d}@lid")
    reaction = await inbound(kind="reaction", emoji="❤️", target_id="true_x@c.us_M1")
    assert (reaction.kind, reaction.text, reaction.quoted_message_id) == (
        MessageKind.REACTION,
        "❤️",
        "true_x@c.us_M1",
    )
    edit = await inbound(kind="edit", text="pong!", target_id="false_x@c.us_T1")
    assert (edit.kind, edit.text, edit.quoted_message_id) == (
        MessageKind.EDIT,
        "pong!",
        "false_x@c.us_T1",
    )
    gone = await inbound(kind="delete", target_id="false_x@c.us_T1")
    assert (gone.kind, gone.quoted_message_id) == (MessageKind.DELETE, "false_x@c.us_T1")
    vote = await inbound(kind="vote", poll_id="true_x@c.us_P1", options=["later"])
    assert (vote.kind, vote.quoted_message_id) == (MessageKind.POLL_VOTE, "true_x@c.us_P1")
    assert vote.poll is not None and vote.poll.selected == ("later",)

    sent = await waha.send_text(ANNA, "hello")
    await simulator.control(f"{CONTROL}/ack", {"ids": [sent.message_id], "ack": 2})
    ack: MessageStatusUpdate = await webhook_sink.next_of(waha, MessageStatusUpdate)
    assert (ack.message_ids, ack.status, ack.chat_id) == (
        (sent.message_id,),
        DeliveryStatus.DELIVERED,
        f"{ANNA}@c.us",
    )
    await simulator.control(f"{CONTROL}/call", {"from": ANNA, "id": "CALL1"})
    call: IncomingCall = await webhook_sink.next_of(waha, IncomingCall)
    assert (call.call_id, call.caller) == ("CALL1", ANNA)


async def test_core_does_not_sign(
    start_simulator: StartSimulator, session: aiohttp.ClientSession, webhook_sink: WebhookSink
) -> None:
    """WAHA Core cannot sign: its posts pass on the secret URL, if they name our session."""
    simulator = await start_simulator(waha=WahaConfig(api_key=WAHA_KEY, tier="CORE"))
    waha = create_gateway("waha", session, {"url": simulator.url, "api_key": WAHA_KEY})
    await waha.configure_webhook(webhook_sink.url, "hook-secret")
    assert waha.webhook_auth == "secret_url"
    [info] = await simulator.get("waha/sessions")
    assert "hmac" not in info["config"]["webhooks"][0]
    assert await waha.webhook_matches(webhook_sink.url, "hook-secret")
    other = json.dumps({"event": "message", "session": "other", "payload": {}}).encode()
    assert not waha.verify_webhook({}, other, "hook-secret")
    assert not waha.signature_missing({}, "hook-secret")


async def test_signed_posts_only(
    simulator: SimulatorHandle, waha: WahaGateway, webhook_sink: WebhookSink
) -> None:
    """WAHA Plus signs with HMAC-SHA512 (the documented vector verifies); an unsigned or
    wrongly signed post is refused, and the missing signature is told apart."""
    await waha.configure_webhook(webhook_sink.url, "my-secret-key")
    assert waha.webhook_auth == "hmac"
    body = captured("waha-docs-hmac-vector-body.json")
    signature = (
        "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
        "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"
    )
    assert hmac.new(b"my-secret-key", body, hashlib.sha512).hexdigest() == signature
    assert waha.verify_webhook({"X-Webhook-Hmac": signature}, body, "my-secret-key")
    assert not waha.verify_webhook({"X-Webhook-Hmac": "0" * 128}, body, "my-secret-key")
    assert not waha.verify_webhook({}, body, "my-secret-key")
    assert waha.signature_missing({}, "my-secret-key")
    assert waha.parse_webhook({}, body) == []


async def test_webhook_config_keeps_other_webhooks(
    simulator: SimulatorHandle, waha: WahaGateway, webhook_sink: WebhookSink
) -> None:
    await waha.configure_webhook(webhook_sink.url, "hook-secret")
    [info] = await simulator.get("waha/sessions")
    mine = info["config"]["webhooks"][0]
    await simulator.control(
        f"{CONTROL}/webhooks",
        {"webhooks": [{"url": "http://n8n.local/hook", "events": ["message"]}]},
    )
    assert not await waha.webhook_matches(webhook_sink.url, "hook-secret")
    await waha.configure_webhook(webhook_sink.url, "hook-secret")
    [info] = await simulator.get("waha/sessions")
    assert info["config"]["webhooks"] == [
        {"url": "http://n8n.local/hook", "events": ["message"]},
        mine,
    ]
    assert await waha.webhook_matches(webhook_sink.url, "hook-secret")
    assert mine["hmac"] == {"key": "hook-secret"}
    assert mine["retries"] == {"policy": "exponential", "delaySeconds": 2, "attempts": 10}
    assert "message.edited" in mine["events"]
    # Home Assistant at another address: our old webhook (the same path) is replaced.
    moved = webhook_sink.url.replace("127.0.0.1", "localhost")
    await waha.configure_webhook(moved, "hook-secret")
    [info] = await simulator.get("waha/sessions")
    assert [hook["url"] for hook in info["config"]["webhooks"]] == ["http://n8n.local/hook", moved]


async def test_an_older_release_without_message_edited(
    start_simulator: StartSimulator, session: aiohttp.ClientSession, webhook_sink: WebhookSink
) -> None:
    """A release that does not know an event refuses the config: it is set without it."""
    simulator = await start_simulator(waha=WahaConfig(api_key=WAHA_KEY, release="2024.10"))
    waha = create_gateway("waha", session, {"url": simulator.url, "api_key": WAHA_KEY})
    await waha.configure_webhook(webhook_sink.url, None)
    [info] = await simulator.get("waha/sessions")
    events = info["config"]["webhooks"][0]["events"]
    assert "message.any" in events and "message.edited" not in events


def test_captured_bodies(waha: WahaGateway) -> None:
    """Every real WAHA body parses into the right model."""
    [channel] = waha.parse_webhook({}, captured("waha-docs-channel-newsletter-noweb.json"))
    assert isinstance(channel, IncomingMessage)
    assert (channel.kind, channel.text, channel.chat_id) == (
        MessageKind.TEXT,
        "How are you all?! ❤️",
        "111111111111111111@newsletter",
    )
    [ack] = waha.parse_webhook({}, captured("waha-docs-message-ack-group-lid.json"))
    assert isinstance(ack, MessageStatusUpdate)
    assert (ack.status, ack.chat_id) == (DeliveryStatus.READ, "11284140980@g.us")
    [working] = waha.parse_webhook(
        {}, captured("waha-docs-session-status-statuses-normalized.json")
    )
    assert working == SessionEvent(SessionState.CONNECTED, reason="working", phone="7911111")
    [scan] = waha.parse_webhook({}, captured("waha-n8ntemplates-webjs-session-status-scanqr.json"))
    assert scan == SessionEvent(SessionState.PAIRING, reason="scan_qr_code")
    # Its author edited hasMedia/media onto a plain text: the protobuf says text, and wins.
    [media] = waha.parse_webhook({}, captured("waha-n8ntemplates-noweb-media-message.json"))
    assert isinstance(media, IncomingMessage)
    assert (media.kind, media.text, media.sender_name, media.sender) == (
        MessageKind.TEXT,
        "Hi there's!",
        "Person 6c70",
        "79334328550",
    )


@pytest.mark.parametrize("body", [b"[]", b"not json"])
def test_bodies_that_are_not_envelopes(waha: WahaGateway, body: bytes) -> None:
    with pytest.raises(GatewayResponseError):
        waha.parse_webhook({}, body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"event": "message", "payload": {"from": 1}}',
        b'{"event": "message.ack", "payload": {"id": "true_1@c.us_A", "ack": 0}}',
        b'{"event": "group.join", "payload": {}}',
        b'{"event": "session.status", "payload": {"status": "UNKNOWN"}}',
    ],
)
def test_bodies_that_say_nothing_new(waha: WahaGateway, body: bytes) -> None:
    """A message without content, a pending ack, events we do not use, unknown states."""
    assert waha.parse_webhook({}, body) == []

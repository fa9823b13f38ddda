"""The Evolution API client against the simulated server, and the real bodies it posted."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    ChatPresence,
    DeliveryStatus,
    EvolutionGateway,
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
    create_gateway,
)
from custom_components.whatsapp_gateway.gateway.media import PNG_SIGNATURE

from ..conftest import EVOLUTION_KEY, SimulatorHandle, WebhookSink

CAPTURED = Path(__file__).parents[3] / "shared" / "fixtures" / "gateways" / "captured"
CONTROL = "evolution/instances/home-assistant"
ANNA = "491700000002"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def captured(name: str) -> bytes:
    """A real Evolution API post (see SOURCES.md there)."""
    return (CAPTURED / name).read_bytes()


async def link(simulator: SimulatorHandle, evolution: EvolutionGateway, sink: WebhookSink) -> None:
    """Create the instance, set our webhook, and scan its QR."""
    await evolution.connect()
    await evolution.configure_webhook(sink.url, "secret")
    await simulator.control(f"{CONTROL}/scan", {"number": "5511912345678", "name": "Home"})


async def drain(sink: WebhookSink) -> None:
    """Forget the posts made so far."""
    while not sink.queue.empty():
        await sink.next()


async def test_instance_lifecycle(
    simulator: SimulatorHandle, evolution: EvolutionGateway, webhook_sink: WebhookSink
) -> None:
    """No instance: stopped; connect creates it with a QR; scanned, it is open and names the
    number; logout closes it as logged out, and connecting shows a QR again."""
    status = await evolution.status()
    assert (status.state, status.stopped, status.detail) == (
        SessionState.DISCONNECTED,
        True,
        "no instance",
    )
    await evolution.connect()
    assert (await evolution.status()).state is SessionState.PAIRING
    qr = await evolution.login_qr()
    assert qr.image is not None and qr.image.startswith(PNG_SIGNATURE)
    await evolution.configure_webhook(webhook_sink.url, "secret")
    assert await evolution.webhook_matches(webhook_sink.url, "secret")
    assert await evolution.get_webhook() == webhook_sink.url
    await simulator.control(f"{CONTROL}/scan", {"number": "5511912345678", "name": "Home"})
    status = await evolution.status()
    assert (status.state, status.phone, status.name) == (
        SessionState.CONNECTED,
        "5511912345678",
        "Home",
    )
    await evolution.restart()
    assert (await evolution.status()).state is SessionState.CONNECTED
    await evolution.logout()
    status = await evolution.status()
    assert (status.state, status.stopped) == (SessionState.DISCONNECTED, True)
    await evolution.connect()
    assert (await evolution.status()).state is SessionState.PAIRING
    events = []
    while not webhook_sink.queue.empty():
        received = await webhook_sink.next()
        assert evolution.verify_webhook(received.headers, received.body, "secret")
        events += evolution.parse_webhook(received.headers, received.body)
    states = [event.state for event in events if isinstance(event, SessionEvent)]
    assert SessionState.CONNECTED in states and SessionState.LOGGED_OUT in states


async def test_pairing_code(simulator: SimulatorHandle, evolution: EvolutionGateway) -> None:
    await evolution.connect()
    code = await evolution.request_pairing_code("+55 11 91234-5670")
    assert len(code) == 8
    await simulator.control("phones/evolution/home-assistant/code", {"code": code})
    status = await evolution.status()
    assert (status.state, status.phone) == (SessionState.CONNECTED, "5511912345670")


async def test_an_instance_token_opens_its_instance_only(
    simulator: SimulatorHandle, evolution: EvolutionGateway, session: aiohttp.ClientSession
) -> None:
    """The instance's own token works for it; a wrong key is refused, naming the key."""
    await evolution.connect()
    [row] = await simulator.get("evolution/instances")
    own = create_gateway(
        "evolution",
        session,
        {"url": simulator.url, "api_key": row["token"], "instance": "home-assistant"},
    )
    assert (await own.status()).state is SessionState.PAIRING
    wrong = create_gateway(
        "evolution", session, {"url": simulator.url, "api_key": "x", "instance": "home-assistant"}
    )
    with pytest.raises(GatewayAuthError) as refused:
        await wrong.status()
    assert refused.value.credential == "api_key"


async def test_sends(
    simulator: SimulatorHandle, evolution: EvolutionGateway, webhook_sink: WebhookSink
) -> None:
    """Each send reaches its endpoint with the number as Evolution takes it."""
    await link(simulator, evolution, webhook_sink)
    text = await evolution.send_text(f"+{ANNA}", "hello", reply_to="3EB0Q1")
    assert text.chat_id == f"{ANNA}@s.whatsapp.net"
    await evolution.send_media(
        ANNA, OutgoingMedia(PNG, "image/png", "a.png", MediaKind.IMAGE), caption="door"
    )
    await evolution.send_media(ANNA, OutgoingMedia(b"OggS", "audio/ogg", "v.ogg", MediaKind.VOICE))
    await evolution.send_media(
        ANNA, OutgoingMedia(b"RIFF", "image/webp", "s.webp", MediaKind.STICKER)
    )
    await evolution.send_location(ANNA, 52.5, 13.4, name="Home")
    await evolution.send_poll("120363000000000001@g.us", "Pizza?", ["yes", "no"], multiple=True)
    await evolution.send_reaction(ANNA, "3EB0THEIRS", "👍")
    await evolution.edit_message(ANNA, text.message_id, "hello again")
    await evolution.send_presence(ANNA, ChatPresence.TYPING)
    await evolution.mark_read(ANNA, ["3EB0A"])
    await evolution.delete_message(ANNA, text.message_id)
    [check] = await evolution.check_phones([ANNA])
    assert (check.on_whatsapp, check.chat_id) == (True, f"{ANNA}@s.whatsapp.net")
    records = await simulator.get(f"{CONTROL}/sent")
    assert [record["endpoint"] for record in records] == [
        "sendText",
        "sendMedia",
        "sendWhatsAppAudio",
        "sendSticker",
        "sendLocation",
        "sendPoll",
        "sendReaction",
        "updateMessage",
        "sendPresence",
        "markMessageAsRead",
        "deleteMessageForEveryone",
    ]
    bodies = [record["body"] for record in records]
    assert bodies[0] == {"number": ANNA, "text": "hello", "quoted": {"key": {"id": "3EB0Q1"}}}
    assert (bodies[1]["mediatype"], bodies[1]["caption"], bodies[1]["media"]) == (
        "image",
        "door",
        base64.b64encode(PNG).decode(),
    )
    assert bodies[5] == {
        "number": "120363000000000001@g.us",
        "name": "Pizza?",
        "selectableCount": 2,
        "values": ["yes", "no"],
    }
    assert bodies[6]["key"] == {
        "remoteJid": f"{ANNA}@s.whatsapp.net",
        "fromMe": False,
        "id": "3EB0THEIRS",
    }
    assert bodies[8] == {"number": ANNA, "presence": "composing", "delay": 1000}
    assert bodies[9] == {
        "readMessages": [{"id": "3EB0A", "fromMe": False, "remoteJid": f"{ANNA}@s.whatsapp.net"}]
    }
    shown = (await simulator.get("phones/evolution/home-assistant"))["chat"]
    assert (shown[0]["edited"], shown[0]["deleted"]) == (True, True)


async def test_sending_while_not_linked(evolution: EvolutionGateway) -> None:
    await evolution.connect()
    with pytest.raises(GatewayResponseError, match="Connection Closed"):
        await evolution.send_text(ANNA, "hello")


async def test_inbound(
    simulator: SimulatorHandle, evolution: EvolutionGateway, webhook_sink: WebhookSink
) -> None:
    """Texts, media (inlined), LID senders, reactions, edits, deletions, acks and calls."""
    await link(simulator, evolution, webhook_sink)
    await drain(webhook_sink)

    async def inbound(**body: object) -> IncomingMessage:
        await simulator.control(f"{CONTROL}/inbound", {"from": ANNA, "name": "Anna", **body})
        message: IncomingMessage = await webhook_sink.next_of(evolution, IncomingMessage)
        return message

    text = await inbound(text="ping", id="E1", reply_to="Q0", mentions=["5511912345678"])
    assert (text.kind, text.text, text.sender, text.sender_name, text.message_id) == (
        MessageKind.TEXT,
        "ping",
        ANNA,
        "Anna",
        "E1",
    )
    assert (text.quoted_message_id, text.mentions) == ("Q0", ("5511912345678",))
    image = await inbound(kind="image", caption="door", mime_type="image/png", data="iVBORw0KGgo=")
    assert image.media is not None and image.media.data == base64.b64decode("iVBORw0KGgo=")
    lid = await inbound(text="hidden", lid=True)
    assert (lid.sender, lid.sender_lid) == (ANNA, f"{int(ANNA) % 10**15:015d}@lid")
    reaction = await inbound(kind="reaction", emoji="❤️", target_id="3EB0MINE")
    assert (reaction.kind, reaction.text, reaction.quoted_message_id) == (
        MessageKind.REACTION,
        "❤️",
        "3EB0MINE",
    )
    edit = await inbound(kind="edit", text="pong!", target_id="E1")
    assert (edit.kind, edit.text, edit.quoted_message_id) == (MessageKind.EDIT, "pong!", "E1")
    gone = await inbound(kind="delete", target_id="E1")
    assert (gone.kind, gone.quoted_message_id, gone.message_id) == (
        MessageKind.DELETE,
        "E1",
        "deleted:E1",
    )

    sent = await evolution.send_text(ANNA, "hello")
    await simulator.control(f"{CONTROL}/ack", {"ids": [sent.message_id], "ack": 2})
    ack: MessageStatusUpdate = await webhook_sink.next_of(evolution, MessageStatusUpdate)
    assert (ack.message_ids, ack.status) == ((sent.message_id,), DeliveryStatus.DELIVERED)
    await simulator.control(f"{CONTROL}/call", {"from": ANNA, "id": "CALL1"})
    call: IncomingCall = await webhook_sink.next_of(evolution, IncomingCall)
    assert (call.call_id, call.caller, call.ended) == ("CALL1", ANNA, False)


async def test_media_fetched_when_not_inlined(
    simulator: SimulatorHandle, evolution: EvolutionGateway, webhook_sink: WebhookSink
) -> None:
    await link(simulator, evolution, webhook_sink)
    await drain(webhook_sink)
    # Someone turned "Webhook base64" off in Evolution's manager.
    await simulator.control(f"{CONTROL}/webhook", {"url": webhook_sink.url, "base64": False})
    assert not await evolution.webhook_matches(webhook_sink.url, "secret")
    await simulator.control(
        f"{CONTROL}/inbound",
        {"from": ANNA, "kind": "image", "mime_type": "image/png", "data": "iVBORw0KGgo="},
    )
    image: IncomingMessage = await webhook_sink.next_of(evolution, IncomingMessage)
    assert image.media is not None and image.media.data is None
    fetched = await evolution.download_media(image.media)
    assert (fetched.data, fetched.mime_type) == (base64.b64decode("iVBORw0KGgo="), "image/png")


def test_posts_of_another_instance_or_key_are_refused(evolution: EvolutionGateway) -> None:
    ours = json.dumps(
        {"event": "messages.upsert", "instance": "home-assistant", "apikey": EVOLUTION_KEY}
    )
    other = json.dumps({"event": "messages.upsert", "instance": "other", "apikey": EVOLUTION_KEY})
    forged = json.dumps({"event": "messages.upsert", "instance": "home-assistant", "apikey": "x"})
    unexposed = json.dumps(
        {"event": "messages.upsert", "instance": "home-assistant", "apikey": None}
    )
    assert evolution.verify_webhook({}, ours.encode(), None)
    assert not evolution.verify_webhook({}, other.encode(), None)
    assert not evolution.verify_webhook({}, forged.encode(), None)
    assert evolution.verify_webhook({}, unexposed.encode(), None)
    assert evolution.webhook_auth == "secret_url"


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("evolution-educabot-lid-incoming-text.json", MessageKind.TEXT, "oi"),
        ("evolution-percycrm-fromme-text.json", MessageKind.TEXT, "menasje saliente solo texto"),
        (
            "evolution-percycrm-group-extendedtext-ephemeral.json",
            MessageKind.TEXT,
            "Perfumes de 35 ML de mujer y hombre a 1 a 16 Bs y 2 en 30 bs",
        ),
        ("evolution-percycrm-group-lid-text.json", MessageKind.TEXT, "test 001  hola"),
        ("evolution-percycrm-incoming-text.json", MessageKind.TEXT, "hola - text"),
        ("evolution-v1-serginho-fromme-text.json", MessageKind.TEXT, "Salvei 2"),
        ("evolution-v1-serginho-fromme-quoted-reply.json", MessageKind.TEXT, "é assim que começa"),
        ("evolution-percycrm-incoming-image-base64-elided.json", MessageKind.IMAGE, None),
    ],
)
def test_captured_messages(
    evolution: EvolutionGateway, name: str, kind: MessageKind, text: str | None
) -> None:
    """Every real message body parses (v1 and v2 shapes); the LID one names the number."""
    [message] = evolution.parse_webhook({}, captured(name))
    assert isinstance(message, IncomingMessage)
    assert (message.kind, message.text) == (kind, text)
    if name.startswith("evolution-educabot"):
        assert (message.sender, message.sender_lid) == ("557321009983", "162495633350918@lid")
    if "quoted" in name:
        assert message.quoted_message_id == "2F0C1BF027EBAFBAB650D16D3C685EE1"
    if "image" in name:
        # Its author cut the base64 short with prose: not decodable, so it is fetched later.
        assert message.caption == "hola - text con multimedia (imagen)"
        assert message.media is not None and message.media.data is None


def test_captured_connection_updates(evolution: EvolutionGateway) -> None:
    [closed] = evolution.parse_webhook(
        {}, captured("evolution-percycrm-connection-update-close401.json")
    )
    assert closed == SessionEvent(SessionState.LOGGED_OUT, reason="logged out from the phone")
    [connecting] = evolution.parse_webhook(
        {}, captured("evolution-v1-serginho-connection-update-connecting.json")
    )
    assert connecting == SessionEvent(SessionState.CONNECTING, reason="connecting")


@pytest.mark.parametrize("body", [b"[]", b"not json"])
def test_bodies_that_are_not_envelopes(evolution: EvolutionGateway, body: bytes) -> None:
    with pytest.raises(GatewayResponseError):
        evolution.parse_webhook({}, body)


@pytest.mark.parametrize(
    "data",
    [
        {"event": "messages.update", "data": {"keyId": "A", "fromMe": True, "status": "PENDING"}},
        {"event": "messages.update", "data": {"keyId": "A", "fromMe": False, "status": "READ"}},
        {"event": "presence.update", "data": {}},
        {"event": "connection.update", "data": {"state": "unknown"}},
        {
            "event": "messages.upsert",
            "data": {
                "key": {"remoteJid": "1@s.whatsapp.net", "id": "A"},
                "message": {"protocolMessage": {"type": 5}},
            },
        },
    ],
)
def test_bodies_that_say_nothing_new(evolution: EvolutionGateway, data: dict[str, object]) -> None:
    """Pending acks, others' read marks, events we do not use, protocol noise."""
    assert evolution.parse_webhook({}, json.dumps(data).encode()) == []


def test_votes_come_as_a_tally(evolution: EvolutionGateway) -> None:
    """In a direct chat the voter is the contact: the options listing them are chosen. In a
    group the tally does not tell who just voted: no event."""
    tally = [
        {"name": "Pizza", "voters": [f"{ANNA}@s.whatsapp.net"]},
        {"name": "Pasta", "voters": ["5511912345678@s.whatsapp.net"]},
    ]
    update = {"keyId": "3EB0P", "fromMe": True, "status": "DELETED", "pollUpdates": tally}
    direct = {"event": "messages.update", "data": {**update, "remoteJid": f"{ANNA}@s.whatsapp.net"}}
    [vote] = evolution.parse_webhook({}, json.dumps(direct).encode())
    assert isinstance(vote, IncomingMessage)
    assert (vote.kind, vote.quoted_message_id, vote.sender) == (
        MessageKind.POLL_VOTE,
        "3EB0P",
        ANNA,
    )
    assert vote.poll is not None and vote.poll.selected == ("Pizza",)
    group = {"event": "messages.update", "data": {**update, "remoteJid": "120363000000000001@g.us"}}
    assert evolution.parse_webhook({}, json.dumps(group).encode()) == []

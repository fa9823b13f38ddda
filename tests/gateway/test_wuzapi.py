"""The wuzapi client against the simulated wuzapi server over loopback HTTP."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    Capability,
    DeliveryStatus,
    GatewayAuthError,
    GatewayConnectionError,
    GatewayNotLoggedIn,
    GatewayRateLimited,
    GatewayResponseError,
    GatewayUnsupported,
    IncomingMessage,
    InvalidChatId,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    Poll,
    SessionEvent,
    SessionState,
    WuzapiGateway,
    create_gateway,
)
from custom_components.whatsapp_gateway.gateway.media import PNG_SIGNATURE
from simulator import WuzapiConfig

from ..conftest import (
    ADMIN_TOKEN,
    HMAC_KEY,
    USER_TOKEN,
    SimulatorHandle,
    StartSimulator,
    WebhookSink,
    pair_wuzapi,
)

CONTROL = f"wuzapi/users/{USER_TOKEN}"


async def sent(simulator: SimulatorHandle) -> list[dict[str, Any]]:
    """What the simulated server recorded as sent by its first user."""
    records: list[dict[str, Any]] = await simulator.get(f"{CONTROL}/sent")
    return records


async def test_session_lifecycle_new_status_shape(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway
) -> None:
    status = await wuzapi.status()
    assert status.state is SessionState.LOGGED_OUT
    assert status.phone is None

    await wuzapi.connect()
    status = await wuzapi.status()
    assert status.state is SessionState.PAIRING
    assert status.qr is not None and status.qr.image is not None
    assert status.qr.image.startswith(PNG_SIGNATURE)

    await simulator.control(f"{CONTROL}/scan", {"phone": "491511234567"})
    status = await wuzapi.status()
    assert status.state is SessionState.CONNECTED
    assert status.phone == "491511234567"
    assert status.jid == "491511234567@s.whatsapp.net"
    assert status.name is None  # "user1" is the wuzapi user, not the WhatsApp account
    assert status.qr is None

    await simulator.control(f"{CONTROL}/drop_socket")
    assert (await wuzapi.status()).state is SessionState.DISCONNECTED

    await wuzapi.connect()
    assert (await wuzapi.status()).state is SessionState.CONNECTED
    await wuzapi.connect()  # "already connected" counts as done

    await wuzapi.logout()
    # The server keeps the old jid: the status alone reads like a client that is not running.
    assert (await wuzapi.status()).state is SessionState.DISCONNECTED
    await wuzapi.connect()
    assert (await wuzapi.status()).state is SessionState.PAIRING


async def test_session_lifecycle_legacy_status_shape(
    start_simulator: StartSimulator, session: aiohttp.ClientSession
) -> None:
    simulator = await start_simulator(wuzapi=WuzapiConfig(build="2025-05", auto_receipts=False))
    gateway = create_gateway("wuzapi", session, {"url": simulator.url, "token": USER_TOKEN})
    status = await gateway.status()
    assert status.state is SessionState.DISCONNECTED
    assert status.detail == "no session"
    await gateway.connect()
    assert (await gateway.status()).state is SessionState.PAIRING
    await simulator.control(f"{CONTROL}/scan", {"phone": "491511234567"})
    status = await gateway.status()
    assert status.state is SessionState.CONNECTED
    assert status.phone is None  # the old shape does not say which account


async def test_login_qr_follows_the_session(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway
) -> None:
    with pytest.raises(GatewayNotLoggedIn, match="no session"):
        await wuzapi.login_qr()
    await wuzapi.connect()
    first = await wuzapi.login_qr()
    assert first.image is not None and first.image.startswith(PNG_SIGNATURE)
    await simulator.control(f"{CONTROL}/rotate_qr")
    second = await wuzapi.login_qr()
    assert second.image != first.image
    await simulator.control(f"{CONTROL}/scan", {"phone": "491511234567"})
    with pytest.raises(GatewayResponseError, match="already logged in"):
        await wuzapi.login_qr()


async def test_login_qr_not_yet_available(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway
) -> None:
    await wuzapi.connect()
    await simulator.control(f"{CONTROL}/qr_pending")
    with pytest.raises(GatewayResponseError, match="no QR code yet"):
        await wuzapi.login_qr()


async def test_qr_rotates_by_itself(
    start_simulator: StartSimulator, session: aiohttp.ClientSession, webhook_sink: WebhookSink
) -> None:
    simulator = await start_simulator(
        wuzapi=WuzapiConfig(qr_rotate_seconds=0.01, auto_receipts=False)
    )
    gateway = create_gateway("wuzapi", session, {"url": simulator.url, "token": USER_TOKEN})
    await gateway.configure_webhook(webhook_sink.url, None)
    await gateway.connect()
    first = await webhook_sink.next_of(gateway, SessionEvent)
    second = await webhook_sink.next_of(gateway, SessionEvent)
    assert first.qr is not None and second.qr is not None
    assert first.qr.image != second.qr.image
    await simulator.control(f"{CONTROL}/scan", {"phone": "491511234567"})
    assert (await gateway.status()).state is SessionState.CONNECTED


async def test_pairing_code_links_the_phone(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway
) -> None:
    await wuzapi.connect()
    code = await wuzapi.request_pairing_code("+49 151 1234567")
    assert len(code) == 9 and code[4] == "-"
    await simulator.control(f"{CONTROL}/link_code", {"code": code})
    status = await wuzapi.status()
    assert status.state is SessionState.CONNECTED
    assert status.phone == "491511234567"
    with pytest.raises(GatewayResponseError, match="already paired"):
        await wuzapi.request_pairing_code("491511234567")
    with pytest.raises(GatewayResponseError, match="not a phone number"):
        await wuzapi.request_pairing_code("120363023605733675@g.us")


async def test_restart_keeps_the_pairing(simulator: SimulatorHandle, wuzapi: WuzapiGateway) -> None:
    await pair_wuzapi(simulator, wuzapi)
    await wuzapi.restart()
    assert (await wuzapi.status()).state is SessionState.CONNECTED


async def test_admin_creates_and_lists_users(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway, session: aiohttp.ClientSession
) -> None:
    user = await wuzapi.create_user("kitchen", webhook="http://127.0.0.1:1/hook", hmac_key=HMAC_KEY)
    assert user.name == "kitchen"
    assert len(user.token) == 32
    assert len(user.id) == 32
    created = await simulator.wuzapi_user(user.id)
    assert created["media_delivery"] == "base64"
    assert created["hmac_key"] == HMAC_KEY
    assert "Message" in created["events"] and "LoggedOut" in created["events"]
    assert {u.name for u in await wuzapi.list_users()} == {"user1", "kitchen"}

    new_user = create_gateway("wuzapi", session, {"url": simulator.url, "token": user.token})
    await new_user.connect()
    assert (await new_user.status()).state is SessionState.PAIRING

    with pytest.raises(GatewayResponseError, match="already exists"):
        await wuzapi.create_user("again", token=user.token)


async def test_credentials_are_checked(
    simulator: SimulatorHandle, session: aiohttp.ClientSession
) -> None:
    wrong_user = create_gateway("wuzapi", session, {"url": simulator.url, "token": "nope"})
    with pytest.raises(GatewayAuthError, match="user token"):
        await wrong_user.status()
    wrong_admin = WuzapiGateway(session, simulator.url, admin_token="nope")
    with pytest.raises(GatewayAuthError, match="admin token"):
        await wrong_admin.list_users()
    no_admin = WuzapiGateway(session, simulator.url, token=USER_TOKEN)
    with pytest.raises(GatewayAuthError, match="admin token"):
        await no_admin.create_user("x")
    no_token = WuzapiGateway(session, simulator.url, admin_token=ADMIN_TOKEN)
    with pytest.raises(GatewayAuthError, match="No wuzapi user token"):
        await no_token.status()


async def test_send_text_and_reply(simulator: SimulatorHandle, wuzapi: WuzapiGateway) -> None:
    await pair_wuzapi(simulator, wuzapi)
    result = await wuzapi.send_text("+49 170 1234567", "Garage is open")
    assert result.chat_id == "491701234567@s.whatsapp.net"
    assert result.message_id.startswith("3EB0")
    assert isinstance(result.timestamp, datetime) and result.timestamp.tzinfo is not None
    assert (await sent(simulator))[-1] == {
        "endpoint": "/chat/send/text",
        "id": result.message_id,
        "body": {"Phone": "491701234567", "Body": "Garage is open"},
    }

    await wuzapi.send_text("491701234567@s.whatsapp.net", "ok", reply_to="3EB0AAAA")
    assert (await sent(simulator))[-1]["body"]["ContextInfo"] == {
        "StanzaID": "3EB0AAAA",
        "Participant": "491701234567@s.whatsapp.net",
    }


async def test_reply_in_group_quotes_the_original_sender(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway, webhook_sink: WebhookSink
) -> None:
    await pair_wuzapi(simulator, wuzapi)
    await wuzapi.configure_webhook(webhook_sink.url, None)
    await simulator.control(
        f"{CONTROL}/inbound",
        {"from": "491709999999", "group": "120363023605733675@g.us", "text": "hi", "id": "3EB0G1"},
    )
    message = await webhook_sink.next_of(wuzapi, IncomingMessage)
    assert message.message_id == "3EB0G1"
    await wuzapi.send_text(message.chat_id, "hello", reply_to=message.message_id)
    body = (await sent(simulator))[-1]["body"]
    assert body["Phone"] == "120363023605733675@g.us"
    assert body["ContextInfo"]["Participant"] == "491709999999@s.whatsapp.net"

    await wuzapi.send_reaction(message.chat_id, message.message_id, "❤️")
    body = (await sent(simulator))[-1]["body"]
    assert body == {
        "Phone": "120363023605733675@g.us",
        "Body": "❤️",
        "Id": "3EB0G1",
        "Participant": "491709999999@s.whatsapp.net",
    }


@pytest.mark.parametrize(
    ("kind", "mime", "endpoint", "expected"),
    [
        (
            MediaKind.IMAGE,
            "image/jpeg",
            "/chat/send/image",
            {"Image": "data:image/jpeg;base64,", "MimeType": "image/jpeg", "Caption": "door"},
        ),
        (
            MediaKind.VIDEO,
            "video/mp4",
            "/chat/send/video",
            {"Video": "data:video/mp4;base64,", "MimeType": "video/mp4", "Caption": "door"},
        ),
        (
            MediaKind.AUDIO,
            "audio/mpeg",
            "/chat/send/audio",
            {"Audio": "data:audio/mpeg;base64,", "ptt": False, "mimetype": "audio/mpeg"},
        ),
        (
            MediaKind.VOICE,
            "audio/ogg; codecs=opus",
            "/chat/send/audio",
            {"Audio": "data:audio/ogg;base64,", "ptt": True, "mimetype": "audio/ogg; codecs=opus"},
        ),
        (
            MediaKind.DOCUMENT,
            "application/pdf",
            "/chat/send/document",
            {
                "Document": "data:application/octet-stream;base64,",
                "MimeType": "application/pdf",
                "Caption": "door",
                "FileName": "file.bin",
            },
        ),
        (
            MediaKind.STICKER,
            "image/webp",
            "/chat/send/sticker",
            {"Sticker": "data:image/webp;base64,"},
        ),
    ],
)
async def test_send_media_picks_endpoint_and_encoding(
    simulator: SimulatorHandle,
    wuzapi: WuzapiGateway,
    kind: MediaKind,
    mime: str,
    endpoint: str,
    expected: dict,
) -> None:
    await pair_wuzapi(simulator, wuzapi)
    data = b"\x00\x01binary media\xff"
    media = OutgoingMedia(data, mime, "file.bin", kind)
    result = await wuzapi.send_media("491701234567", media, caption="door", reply_to="3EB0Q")
    record = (await sent(simulator))[-1]
    assert record["endpoint"] == endpoint
    assert record["id"] == result.message_id
    body = record["body"]
    upload_field = next(iter(expected))
    prefix = expected[upload_field]
    assert body[upload_field] == prefix + base64.b64encode(data).decode()
    assert {key: body[key] for key in expected if key != upload_field} == {
        key: value for key, value in expected.items() if key != upload_field
    }
    assert body["ContextInfo"]["StanzaID"] == "3EB0Q"
    if kind in (MediaKind.AUDIO, MediaKind.VOICE, MediaKind.STICKER):
        assert "Caption" not in body


async def test_legacy_server_takes_documents_as_octet_stream(
    start_simulator: StartSimulator, session: aiohttp.ClientSession
) -> None:
    simulator = await start_simulator(wuzapi=WuzapiConfig(build="2025-05", auto_receipts=False))
    gateway = create_gateway("wuzapi", session, {"url": simulator.url, "token": USER_TOKEN})
    assert isinstance(gateway, WuzapiGateway)
    await pair_wuzapi(simulator, gateway)
    media = OutgoingMedia.from_bytes(b"%PDF-1.4", filename="report.pdf")
    assert media.kind is MediaKind.DOCUMENT and media.mime_type == "application/pdf"
    result = await gateway.send_media("491701234567", media)
    assert result.timestamp is not None  # RFC 3339 in old builds


async def test_send_location_contact_reaction_markread_and_check(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway
) -> None:
    await pair_wuzapi(simulator, wuzapi)
    await wuzapi.send_location("491701234567", 52.52, 13.405, name="Home")
    assert (await sent(simulator))[-1]["body"] == {
        "Phone": "491701234567",
        "Latitude": 52.52,
        "Longitude": 13.405,
        "Name": "Home",
    }
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Alice\nEND:VCARD"
    await wuzapi.send_contact("491701234567", "Alice", vcard)
    assert (await sent(simulator))[-1]["body"] == {
        "Phone": "491701234567",
        "Name": "Alice",
        "Vcard": vcard,
    }
    await wuzapi.send_reaction("491701234567", "3EB0MINE", "👍", from_me=True)
    assert (await sent(simulator))[-1]["body"] == {
        "Phone": "491701234567",
        "Body": "👍",
        "Id": "me:3EB0MINE",
    }
    await wuzapi.send_reaction("491701234567", "3EB0MINE", "")
    assert (await sent(simulator))[-1]["body"]["Body"] == "remove"
    await wuzapi.mark_read("120363023605733675@g.us", ["3EB0A", "3EB0B"], sender="+49 170 9999999")
    assert (await sent(simulator))[-1] == {
        "endpoint": "/chat/markread",
        "id": None,
        "body": {
            "Id": ["3EB0A", "3EB0B"],
            "Chat": "120363023605733675@g.us",
            "Sender": "491709999999@s.whatsapp.net",
        },
    }
    await simulator.control("wuzapi/on_whatsapp", {"numbers": ["491701234567"]})
    checks = await wuzapi.check_phones(["+49 170 1234567", "4915200000000"])
    assert [(c.phone, c.on_whatsapp, c.chat_id) for c in checks] == [
        ("491701234567", True, "491701234567@s.whatsapp.net"),
        ("4915200000000", False, None),
    ]
    with pytest.raises(GatewayResponseError, match="not a phone number"):
        await wuzapi.check_phones(["120363023605733675@g.us"])


async def test_send_errors_are_clear(simulator: SimulatorHandle, wuzapi: WuzapiGateway) -> None:
    with pytest.raises(GatewayNotLoggedIn, match="no session"):
        await wuzapi.send_text("491701234567", "hello")
    await wuzapi.connect()
    # A client that exists but was never paired.
    with pytest.raises(GatewayNotLoggedIn, match="device JID"):
        await wuzapi.send_text("491701234567", "hello")
    await simulator.control(f"{CONTROL}/scan", {"phone": "491511234567"})
    await simulator.control(f"{CONTROL}/drop_socket")
    with pytest.raises(GatewayNotLoggedIn, match="not connected"):
        await wuzapi.send_text("491701234567", "hello")
    await simulator.control(f"{CONTROL}/reconnect")
    with pytest.raises(GatewayResponseError, match="missing Body in Payload"):
        await wuzapi.send_text("491701234567", "")
    with pytest.raises(GatewayResponseError, match="missing Latitude in Payload"):
        await wuzapi.send_location("491701234567", 0, 13.4)
    with pytest.raises(InvalidChatId, match="international format"):
        await wuzapi.send_text("call me", "hello")


async def test_transport_failures_map_to_errors(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway, session: aiohttp.ClientSession
) -> None:
    await simulator.fault(status=503, path="/session/status")
    with pytest.raises(GatewayConnectionError, match="HTTP 503"):
        await wuzapi.status()
    await simulator.fault(status=429, path="/session/status", retry_after=7)
    with pytest.raises(GatewayRateLimited) as rate_limited:
        await wuzapi.status()
    assert rate_limited.value.retry_after == 7
    await simulator.fault(status=500, path="/session/status")
    with pytest.raises(GatewayResponseError, match="not JSON"):
        await wuzapi.status()
    # aiohttp retries a GET once when a kept-alive connection drops, so drop both tries
    await simulator.fault(status=0, path="/session/status", times=2)
    with pytest.raises(GatewayConnectionError, match="dropped the status request") as dropped:
        await wuzapi.status()
    assert dropped.value.maybe_delivered  # it may have been served before the drop
    # the fault was used up: the next call works
    assert (await wuzapi.status()).state is SessionState.LOGGED_OUT

    unreachable = create_gateway("wuzapi", session, {"url": "http://127.0.0.1:9", "token": "t"})
    with pytest.raises(GatewayConnectionError, match=r"127\.0\.0\.1:9") as refused:
        await unreachable.status()
    assert not refused.value.maybe_delivered  # refused: it never left


async def test_unsupported_methods(wuzapi: WuzapiGateway) -> None:
    assert Capability.PAIRING_CODE in wuzapi.capabilities
    assert Capability.POLLING not in wuzapi.capabilities
    with pytest.raises(GatewayUnsupported, match="polling"):
        await wuzapi.poll_events(None)


@pytest.mark.parametrize(
    ("webhook_format", "legacy"), [("form", False), ("form", True), ("json", False)]
)
@pytest.mark.parametrize("signed", [True, False])
async def test_webhook_delivery_formats(
    start_simulator: StartSimulator,
    session: aiohttp.ClientSession,
    webhook_sink: WebhookSink,
    webhook_format: str,
    legacy: bool,
    signed: bool,
) -> None:
    simulator = await start_simulator(
        wuzapi=WuzapiConfig(
            webhook_format=webhook_format,
            build="2025-05" if legacy else "current",
            auto_receipts=False,
        )
    )
    gateway = create_gateway("wuzapi", session, {"url": simulator.url, "token": USER_TOKEN})
    secret = HMAC_KEY if signed else None
    await gateway.configure_webhook(webhook_sink.url, secret)
    assert await gateway.get_webhook() == webhook_sink.url
    await gateway.connect()  # subscribes and shows the first QR
    # Old builds cannot sign: their posts are checked by the user token they carry.
    signs = signed and not legacy
    assert gateway.webhook_auth == ("token" if signed and legacy else "hmac")

    if not legacy:  # old builds post no session events
        received = await webhook_sink.next()
        content_type = received.headers["Content-Type"]
        expected_type = (
            "application/json" if webhook_format == "json" else "application/x-www-form-urlencoded"
        )
        assert content_type == expected_type
        assert ("x-hmac-signature" in {k.lower() for k in received.headers}) is signs
        assert gateway.verify_webhook(received.headers, received.body, secret)
        assert not gateway.verify_webhook(received.headers, received.body, "x" * 32)
        (event,) = gateway.parse_webhook(received.headers, received.body)
        assert isinstance(event, SessionEvent)
        assert event.state is SessionState.PAIRING
        assert event.qr is not None and event.qr.image is not None
        assert event.qr.image.startswith(PNG_SIGNATURE)

    await simulator.control(f"{CONTROL}/scan", {"phone": "491511234567"})
    await simulator.control(
        f"{CONTROL}/inbound", {"from": "491701234567", "name": "Alice", "text": "ping"}
    )
    events = []
    for _ in range(1 if legacy else 3):
        received = await webhook_sink.next()
        assert ("x-hmac-signature" in {k.lower() for k in received.headers}) is signs
        assert gateway.verify_webhook(received.headers, received.body, secret)
        events += gateway.parse_webhook(received.headers, received.body)
    if not legacy:
        paired, connected = events[:2]
        # The account's own LID comes with the pairing, without its device.
        assert paired == SessionEvent(
            SessionState.CONNECTING,
            reason="paired",
            phone="491511234567",
            lid=f"{491511234567 * 7 % 10**15:015d}@lid",
        )
        assert connected == SessionEvent(SessionState.CONNECTED, reason="connected")
    message = events[-1]
    assert isinstance(message, IncomingMessage)
    assert (message.kind, message.text, message.sender, message.sender_name) == (
        MessageKind.TEXT,
        "ping",
        "491701234567",
        "Alice",
    )
    if legacy and webhook_format == "form":
        # Old builds carry the user token; a post with another token is forged.
        forged = received.body.replace(b"token=user-token", b"token=other")
        assert not gateway.verify_webhook(received.headers, forged, secret)
        without_token = received.body.replace(b"token=user-token", b"")
        assert gateway.verify_webhook(received.headers, without_token, secret) is not signed


OPTS = ("yes", "no")


async def test_inbound_message_kinds(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway, webhook_sink: WebhookSink
) -> None:
    await pair_wuzapi(simulator, wuzapi)
    await wuzapi.configure_webhook(webhook_sink.url, HMAC_KEY)

    async def inbound(**body: object) -> IncomingMessage:
        await simulator.control(f"{CONTROL}/inbound", {"from": "491701234567", **body})
        message: IncomingMessage = await webhook_sink.next_of(wuzapi, IncomingMessage)
        assert message.sender == "491701234567"
        assert message.timestamp.tzinfo is not None
        return message

    image = await inbound(
        kind="image",
        group="120363023605733675@g.us",
        caption="who is at the door?",
        mime_type="image/jpeg",
        data="data:image/jpeg;base64," + base64.b64encode(b"JPEGDATA").decode(),
        reply_to="3EB0PREV",
    )
    assert image.kind is MessageKind.IMAGE and image.is_group
    assert image.chat_id == "120363023605733675@g.us"
    assert image.caption == "who is at the door?"
    assert image.media is not None and image.media.data == b"JPEGDATA"
    assert image.media.mime_type == "image/jpeg"
    assert image.quoted_message_id == "3EB0PREV"

    voice = await inbound(kind="voice", mime_type="audio/ogg; codecs=opus")
    assert voice.kind is MessageKind.VOICE
    audio = await inbound(kind="audio", mime_type="audio/mpeg")
    assert audio.kind is MessageKind.AUDIO
    document = await inbound(kind="document", mime_type="application/pdf", filename="bill.pdf")
    assert document.kind is MessageKind.DOCUMENT
    assert document.media is not None and document.media.filename == "bill.pdf"
    video = await inbound(kind="video", mime_type="video/mp4")
    assert video.kind is MessageKind.VIDEO
    sticker = await inbound(kind="sticker", mime_type="image/webp")
    assert sticker.kind is MessageKind.STICKER

    location = await inbound(kind="location", latitude=52.52, longitude=13.405, place="Home")
    assert location.location is not None
    assert (location.location.latitude, location.location.longitude) == (52.52, 13.405)
    assert location.location.name == "Home"
    contact = await inbound(kind="contact", contact_name="Bob", vcard="BEGIN:VCARD\nEND:VCARD")
    assert contact.contact is not None and contact.contact.name == "Bob"
    reaction = await inbound(kind="reaction", emoji="👍", target_id="3EB0MINE")
    assert (reaction.kind, reaction.text, reaction.quoted_message_id) == (
        MessageKind.REACTION,
        "👍",
        "3EB0MINE",
    )
    poll = await inbound(kind="poll", text="Pizza?", options=["yes", "no"])
    assert (poll.kind, poll.text, poll.poll) == (MessageKind.POLL, "Pizza?", Poll("Pizza?", OPTS))
    # A vote on a poll wuzapi did not send: only the options' hashes, which the poll's matches.
    vote = await inbound(kind="vote", poll_id=poll.message_id, options=["no"])
    assert (vote.kind, vote.quoted_message_id) == (MessageKind.POLL_VOTE, poll.message_id)
    assert vote.poll is not None and vote.poll.selected == ()
    assert vote.poll.selected_hashes == ("k5Apjz+wxbFgSYk115yxOa7yjhxHNYtLu6YYYrnCblk=",)
    assert vote.poll.chosen_of(OPTS) == ("no",)
    reply = await inbound(text="yes please", reply_to="3EB0Q1", quoted_text="Open?")
    assert (reply.text, reply.quoted_message_id) == ("yes please", "3EB0Q1")
    lid = await inbound(text="via lid", lid=True)
    assert lid.sender_id.endswith("@lid")
    own = await inbound(text="sent from my phone", from_me=True)
    assert own.from_me

    # protocol noise is dropped; the next thing parsed is the message after it
    await simulator.control(f"{CONTROL}/protocol_noise")
    noise = await webhook_sink.next()
    assert wuzapi.parse_webhook(noise.headers, noise.body) == []


async def test_inbound_media_by_s3_url(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway, webhook_sink: WebhookSink
) -> None:
    await pair_wuzapi(simulator, wuzapi)
    await wuzapi.configure_webhook(webhook_sink.url, None)
    await simulator.control(f"{CONTROL}/settings", {"media_delivery": "s3"})
    await simulator.control(f"{CONTROL}/inbound", {"kind": "image", "mime_type": "image/png"})
    message: IncomingMessage = await webhook_sink.next_of(wuzapi, IncomingMessage)
    assert message.media is not None
    assert message.media.data is None
    assert message.media.url is not None and message.media.url.endswith(".png")


async def test_receipts_and_session_events(
    start_simulator: StartSimulator, session: aiohttp.ClientSession, webhook_sink: WebhookSink
) -> None:
    simulator = await start_simulator(wuzapi=WuzapiConfig(auto_receipts=True))
    gateway = create_gateway("wuzapi", session, {"url": simulator.url, "token": USER_TOKEN})
    assert isinstance(gateway, WuzapiGateway)
    await gateway.configure_webhook(webhook_sink.url, None)
    await pair_wuzapi(simulator, gateway)
    sent_message = await gateway.send_text("491701234567", "hello")
    delivered = await webhook_sink.next_of(gateway, MessageStatusUpdate)
    read = await webhook_sink.next_of(gateway, MessageStatusUpdate)
    assert delivered.message_ids == read.message_ids == (sent_message.message_id,)
    assert (delivered.status, read.status) == (DeliveryStatus.DELIVERED, DeliveryStatus.READ)
    assert read.chat_id == "491701234567@s.whatsapp.net"

    await simulator.control(f"{CONTROL}/drop_socket")
    dropped = await webhook_sink.next_of(gateway, SessionEvent)
    assert dropped.state is SessionState.DISCONNECTED
    await simulator.control(f"{CONTROL}/reconnect")
    assert (await webhook_sink.next_of(gateway, SessionEvent)).state is SessionState.CONNECTED
    await simulator.control(f"{CONTROL}/logout_from_phone")
    logged_out = await webhook_sink.next_of(gateway, SessionEvent)
    assert logged_out.state is SessionState.LOGGED_OUT
    # The server keeps the old jid: only the event says the device was unlinked.
    assert (await gateway.status()).state is SessionState.DISCONNECTED

    await gateway.connect()
    await webhook_sink.next_of(gateway, SessionEvent)  # the QR
    await simulator.control(f"{CONTROL}/qr_timeout")
    timeout = await webhook_sink.next_of(gateway, SessionEvent)
    assert timeout == SessionEvent(SessionState.DISCONNECTED, reason="qrtimeout")

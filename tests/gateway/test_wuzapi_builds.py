"""The wuzapi client against both simulated builds, one test per row of gateway-contracts §1.13."""

from __future__ import annotations

import base64
import json
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    GatewayResponseError,
    GatewayUnsupported,
    InboundMedia,
    IncomingMessage,
    OutgoingMedia,
    SessionState,
    WuzapiGateway,
    create_gateway,
)
from custom_components.whatsapp_gateway.gateway.base import hmac_sha256_hex
from custom_components.whatsapp_gateway.gateway.wuzapi import OLD_BUILD_EVENTS, SUBSCRIBED_EVENTS
from simulator import WuzapiConfig
from simulator.wuzapi import BUILDS, OLD_BUILD

from ..conftest import (
    ADMIN_TOKEN,
    HMAC_KEY,
    USER_TOKEN,
    SimulatorHandle,
    StartSimulator,
    WebhookSink,
)

CONTROL = f"wuzapi/users/{USER_TOKEN}"
NO_SESSION = cast("aiohttp.ClientSession", None)
OGG = OutgoingMedia.from_bytes(b"OggS voice", filename="note.ogg", mime_type="audio/ogg")
MP3 = OutgoingMedia.from_bytes(b"ID3 song", filename="song.mp3", mime_type="audio/mpeg")
VIDEO = OutgoingMedia.from_bytes(b"mp4", filename="clip.mp4", mime_type="video/mp4")
PHOTO = OutgoingMedia.from_bytes(b"\xff\xd8\xff jpeg", filename="door.jpg")

type Server = tuple[SimulatorHandle, WuzapiGateway]


@pytest.fixture(params=BUILDS)
def build(request: pytest.FixtureRequest) -> str:
    """Each wuzapi build in turn."""
    return str(request.param)


@pytest.fixture
async def server(
    build: str, start_simulator: StartSimulator, session: aiohttp.ClientSession
) -> Server:
    """A simulator of that build and a client for its first user (with the admin token)."""
    simulator = await start_simulator(wuzapi=WuzapiConfig(build=build, auto_receipts=False))
    gateway = create_gateway(
        "wuzapi", session, {"url": simulator.url, "token": USER_TOKEN, "admin_token": ADMIN_TOKEN}
    )
    assert isinstance(gateway, WuzapiGateway)
    return simulator, gateway


async def first_user(simulator: SimulatorHandle) -> dict[str, Any]:
    """The simulated server's user behind USER_TOKEN, as its control API shows it."""
    return await simulator.wuzapi_user()


async def sent(simulator: SimulatorHandle) -> list[dict[str, Any]]:
    """What the user behind USER_TOKEN sent."""
    records: list[dict[str, Any]] = await simulator.get(f"{CONTROL}/sent")
    return records


async def settings(simulator: SimulatorHandle, **values: Any) -> None:
    """Change the user's settings in the server's database by hand."""
    await simulator.control(f"{CONTROL}/settings", values)


async def linked(server: Server, webhook: str | None = None) -> Server:
    """Webhook (when given) configured with our key, session connected, phone linked."""
    simulator, gateway = server
    if webhook:
        await gateway.configure_webhook(webhook, HMAC_KEY)
    await gateway.connect()
    await simulator.control(f"{CONTROL}/scan", {"phone": "491511234567"})
    assert (await gateway.status()).state is SessionState.CONNECTED
    return server


async def test_user_creation(server: Server, build: str) -> None:
    """Row 1: old builds refuse the new event names; the client falls back to the old ones."""
    simulator, gateway = server
    user = await gateway.create_user("home-assistant-1")
    created = await simulator.wuzapi_user(user.id)
    assert created["token"] == user.token
    if build == OLD_BUILD:
        assert user.id.isdigit()  # answered as {"id": N}, not enveloped
        assert created["events"] == list(OLD_BUILD_EVENTS)
        assert gateway.old_build
    else:
        assert created["events"] == list(SUBSCRIBED_EVENTS)
        assert created["media_delivery"] == "base64"


async def test_signing(server: Server, build: str, webhook_sink: WebhookSink) -> None:
    """Rows 2 and 3: old builds cannot sign, so the user token in the form is required."""
    simulator, gateway = await linked(server, webhook_sink.url)
    while not webhook_sink.queue.empty():  # the pairing's own posts
        webhook_sink.queue.get_nowait()
    await simulator.control(f"{CONTROL}/inbound", {"text": "ping"})
    post = await webhook_sink.next()
    assert gateway.verify_webhook(post.headers, post.body, HMAC_KEY)
    assert not gateway.signature_missing(post.headers, HMAC_KEY)
    if build == OLD_BUILD:
        assert gateway.webhook_auth == "token"
        assert "x-hmac-signature" not in {key.lower() for key in post.headers}
        for forged in (b"token=other", b""):
            body = post.body.replace(b"token=user-token", forged)
            assert not gateway.verify_webhook(post.headers, body, HMAC_KEY)
        return
    assert gateway.webhook_auth == "hmac"
    # The server loses its encryption key: it goes on posting, unsigned.
    await simulator.control(f"{CONTROL}/lose_hmac_key")
    await simulator.control(f"{CONTROL}/inbound", {"text": "ping"})
    post = await webhook_sink.next()
    assert gateway.signature_missing(post.headers, HMAC_KEY)
    assert not gateway.verify_webhook(post.headers, post.body, HMAC_KEY)
    # Its settings still look right: only the missing signature tells.
    assert await gateway.webhook_matches(webhook_sink.url, HMAC_KEY)
    await gateway.configure_webhook(webhook_sink.url, HMAC_KEY)  # the key, pushed again
    await simulator.control(f"{CONTROL}/inbound", {"text": "ping"})
    post = await webhook_sink.next()
    assert gateway.verify_webhook(post.headers, post.body, HMAC_KEY)


async def test_webhook_matches(server: Server, build: str, webhook_sink: WebhookSink) -> None:
    """A restarted server that lost its database no longer matches what we configured."""
    simulator, gateway = server
    await gateway.configure_webhook(webhook_sink.url, HMAC_KEY)
    assert await gateway.webhook_matches(webhook_sink.url, HMAC_KEY)
    assert not await gateway.webhook_matches(webhook_sink.url + "x", HMAC_KEY)
    await simulator.control("wuzapi/restart", {"forget": True})
    assert not await gateway.webhook_matches(webhook_sink.url, HMAC_KEY)
    await gateway.configure_webhook(webhook_sink.url, HMAC_KEY)
    assert await gateway.webhook_matches(webhook_sink.url, HMAC_KEY)
    if build != OLD_BUILD:
        # The webhook is back but the key not: that is no match either.
        await settings(simulator, hmac_key=None)
        assert not await gateway.webhook_matches(webhook_sink.url, HMAC_KEY)


async def test_check_phones_with_plus(server: Server) -> None:
    """Row 4: whatsmeow finds numbers only with a leading +; the answer is given without."""
    _, gateway = await linked(server)
    [check] = await gateway.check_phones(["0049 170 1234567"])
    assert (check.phone, check.on_whatsapp) == ("491701234567", True)


@pytest.mark.parametrize(
    ("media", "reply", "old_build_sends"),
    [
        (PHOTO, True, True),
        (VIDEO, True, False),
        (VIDEO, False, True),
        (OGG, False, True),
        (MP3, False, False),
    ],
)
async def test_media_the_build_can_send(
    server: Server, build: str, media: OutgoingMedia, reply: bool, old_build_sends: bool
) -> None:
    """Rows 5 and 6: old builds reply only with text and images, and take only OGG audio."""
    simulator, gateway = await linked(server)
    reply_to = "3EB0QUOTED" if reply else None
    if build == OLD_BUILD and not old_build_sends:
        with pytest.raises(GatewayUnsupported, match="May-2025 build"):
            await gateway.send_media("491701234567", media, reply_to=reply_to)
        assert await sent(simulator) == []
        return
    message = await gateway.send_media("491701234567", media, reply_to=reply_to)
    [record] = await sent(simulator)
    assert record["id"] == message.message_id
    assert ("ContextInfo" in record["body"]) is reply


async def test_restart_really_restarts(server: Server, build: str) -> None:
    """Rows 8 and 16: the old client is gone before the new one starts, subscribed again."""
    simulator, gateway = await linked(server)
    await gateway.restart()
    assert (await gateway.status()).state is SessionState.CONNECTED
    user = await first_user(simulator)
    assert user["clients"] == 1
    assert set(SUBSCRIBED_EVENTS) & set(user["events"])
    # With the socket down the server refuses the disconnect; the restart goes on without
    # an error. (The May-2025 build keeps that client, so there is nothing to start.)
    await simulator.control(f"{CONTROL}/drop_socket")
    await gateway.restart()
    expected = SessionState.DISCONNECTED if build == OLD_BUILD else SessionState.CONNECTED
    assert (await gateway.status()).state is expected


async def test_react_answers_no_id_of_its_own(server: Server) -> None:
    """Row 13: the answer's Id is the message reacted to, so it is not reported."""
    simulator, gateway = await linked(server)
    reaction = await gateway.send_reaction("491701234567", "3EB0TARGET", "👍", from_me=True)
    assert reaction.message_id == ""
    [record] = await sent(simulator)
    assert record["body"]["Id"] == "me:3EB0TARGET"


async def test_quoting_our_own_message(server: Server, build: str) -> None:
    """Row 14: a reply to our own message names our own JID as the quoted sender."""
    simulator, gateway = await linked(server)
    ours = await gateway.send_text("120363023605733675@g.us", "lights on")
    await gateway.send_text("120363023605733675@g.us", "and off", reply_to=ours.message_id)
    context = (await sent(simulator))[-1]["body"]["ContextInfo"]
    assert context["StanzaID"] == ours.message_id
    if build == OLD_BUILD:
        # The old status names no JID: the chat stands in, as for any unknown sender.
        assert context["Participant"] == "120363023605733675@g.us"
    else:
        assert context["Participant"] == "491511234567@s.whatsapp.net"


async def test_the_same_id_sends_once(server: Server) -> None:
    """A send repeated with its own Id is one message at the gateway."""
    simulator, gateway = await linked(server)
    message_id = gateway.new_message_id()
    first = await gateway.send_text("491701234567", "hi", message_id=message_id)
    again = await gateway.send_text("491701234567", "hi", message_id=message_id)
    assert first.message_id == again.message_id == message_id
    assert len(await sent(simulator)) == 1


async def test_media_not_inlined_is_downloaded(
    server: Server, build: str, webhook_sink: WebhookSink
) -> None:
    """Row 11: without inline media the message still parses, and its bytes are fetched."""
    simulator, gateway = await linked(server)
    # A user created outside Home Assistant: no media delivery chosen.
    await settings(simulator, media_delivery="", webhook=webhook_sink.url, events=["All"])
    photo = "data:image/jpeg;base64," + base64.b64encode(b"JPEGDATA").decode()
    await simulator.control(
        f"{CONTROL}/inbound", {"kind": "image", "mime_type": "image/jpeg", "data": photo}
    )
    message = await webhook_sink.next_of(gateway, IncomingMessage)
    assert message.media is not None
    if build == OLD_BUILD:
        assert message.media.data == b"JPEGDATA"  # old builds inline all but stickers
        return
    assert message.media.data is None
    assert message.media.download is not None
    downloaded = await gateway.download_media(message.media)
    assert (downloaded.data, downloaded.mime_type) == (b"JPEGDATA", "image/jpeg")
    # Setting the webhook up also turns inline media on, where nobody chose otherwise.
    await gateway.configure_webhook(webhook_sink.url, None)
    assert (await first_user(simulator))["media_delivery"] == "base64"
    await settings(simulator, media_delivery="s3")
    await gateway.configure_webhook(webhook_sink.url, None)
    assert (await first_user(simulator))["media_delivery"] == "s3"


async def test_old_build_has_no_sticker_download(start_simulator: StartSimulator) -> None:
    """The May-2025 build downloads images, videos, audio and documents, not stickers."""
    simulator = await start_simulator(wuzapi=WuzapiConfig(build=OLD_BUILD, auto_receipts=False))
    options = {"url": simulator.url, "token": USER_TOKEN}
    gateway = create_gateway("wuzapi", simulator.session, options)
    await gateway.connect()
    await simulator.control(f"{CONTROL}/scan", {"phone": "491511234567"})
    handle = InboundMedia(
        mime_type="image/webp",
        download={"route": "/chat/downloadsticker", "body": {"DirectPath": "/x"}},
    )
    with pytest.raises(GatewayUnsupported, match="older build"):
        await gateway.download_media(handle)
    with pytest.raises(GatewayResponseError, match="nothing to download"):
        await gateway.download_media(InboundMedia(mime_type="image/jpeg"))


async def test_only_posted_receipts(server: Server, webhook_sink: WebhookSink) -> None:
    """Row 17: receipts other than Read, ReadSelf and Delivered never leave the server."""
    simulator, _ = await linked(server)
    await settings(simulator, webhook=webhook_sink.url, events=["All"])
    await simulator.control(f"{CONTROL}/receipt", {"ids": ["A"], "state": "Played"})
    await simulator.control(f"{CONTROL}/receipt", {"ids": ["A"], "state": "Delivered"})
    post = await webhook_sink.next()
    assert b"Delivered" in post.body


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 100_000])
@pytest.mark.parametrize("form", [True, False])
def test_inline_media_dropped_over_the_limit(chunk_size: int, form: bool) -> None:
    """However the body is split, over the limit only the base64 value goes; the signature is
    checked over everything that was posted."""
    event = {"base64": "QUJD" * 2000, "event": {"Info": {"ID": "X"}}, "type": "Message"}
    text = json.dumps(event, sort_keys=True, separators=(",", ":"))
    body = urlencode({"jsonData": text, "userID": "u"}).encode() if form else text.encode()
    gateway = create_gateway("wuzapi", NO_SESSION, {"url": "http://w", "token": "t"})
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    reader = gateway.body_reader({"Content-Type": content_type}, HMAC_KEY, 1000)
    for start in range(0, len(body), chunk_size):
        reader.feed(body[start : start + chunk_size])
    assert not reader.too_large
    kept = reader.body
    expected = text.replace("QUJD" * 2000, "")
    if form:
        assert kept == urlencode({"jsonData": expected, "userID": "u"}).encode()
    else:
        assert kept == expected.encode()
    signed = {"x-hmac-signature": hmac_sha256_hex(HMAC_KEY, body)}
    assert reader.signature_valid(signed) is True
    assert reader.signature_valid({"x-hmac-signature": hmac_sha256_hex(HMAC_KEY, kept)}) is False


def test_body_without_media_over_the_limit_is_too_large() -> None:
    gateway = create_gateway("wuzapi", NO_SESSION, {"url": "http://w", "token": "t"})
    reader = gateway.body_reader({"Content-Type": "application/json"}, None, 100)
    reader.feed(b'{"type":"Message","event":{"x":"' + b"y" * 200 + b'"}}')
    assert reader.too_large
    assert reader.signature_valid({}) is None
    # Media dropped, but what follows is still over the limit.
    reader = gateway.body_reader({"Content-Type": "application/json"}, None, 100)
    reader.feed(b'{"base64":"' + b"A" * 200 + b'","event":"' + b"y" * 200 + b'"}')
    assert reader.too_large

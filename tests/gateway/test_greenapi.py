"""The GREEN-API client against the simulated instance, and the bodies GREEN-API documents."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    DeliveryStatus,
    GatewayAuthError,
    GatewayResponseError,
    GreenApiGateway,
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

from ..conftest import GREEN_ID, SimulatorHandle, WebhookSink

CAPTURED = Path(__file__).parents[3] / "shared" / "fixtures" / "gateways" / "captured"
CONTROL = "greenapi"
ANNA = "491700000002"


def captured(name: str) -> bytes:
    """A GREEN-API body (see SOURCES.md there)."""
    return (CAPTURED / name).read_bytes()


async def test_authorization(simulator: SimulatorHandle, greenapi: GreenApiGateway) -> None:
    """Not authorized: a QR code (it rotates) or a pairing code; then authorized with the
    number; logout: a QR code again."""
    status = await greenapi.status()
    assert (status.state, status.detail) == (SessionState.PAIRING, "notAuthorized")
    first = await greenapi.login_qr()
    assert first.image is not None and first.image.startswith(PNG_SIGNATURE)
    await simulator.control(f"{CONTROL}/rotate_qr")
    assert (await greenapi.login_qr()).image != first.image
    await simulator.control(f"{CONTROL}/scan", {"number": "79001234567", "name": "Home"})
    status = await greenapi.status()
    assert (status.state, status.phone) == (SessionState.CONNECTED, "79001234567")
    with pytest.raises(GatewayResponseError, match="already authorized"):
        await greenapi.login_qr()
    await greenapi.connect()
    await greenapi.restart()
    await greenapi.logout()
    assert (await greenapi.status()).state is SessionState.PAIRING
    code = await greenapi.request_pairing_code("+7 900 123 4560")
    await simulator.control(f"phones/greenapi/{GREEN_ID}/code", {"code": code})
    status = await greenapi.status()
    assert (status.state, status.phone) == (SessionState.CONNECTED, "79001234560")


@pytest.mark.parametrize(
    ("api_url", "media_url"),
    [
        ("https://7103.api.greenapi.com", "https://7103.media.greenapi.com"),
        ("https://api.green-api.com", "https://media.green-api.com"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
    ],
)
def test_files_go_to_the_media_host(
    session: aiohttp.ClientSession, api_url: str, media_url: str
) -> None:
    """GREEN-API takes uploads on its media host, beside the API host of the instance."""
    options = {"url": api_url, "id_instance": GREEN_ID, "api_token": "t"}
    gateway = create_gateway("greenapi", session, options)
    assert isinstance(gateway, GreenApiGateway)
    assert gateway.media_url == media_url


async def test_a_wrong_token(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> None:
    gateway = create_gateway(
        "greenapi", session, {"url": simulator.url, "id_instance": GREEN_ID, "api_token": "x"}
    )
    with pytest.raises(GatewayAuthError) as refused:
        await gateway.status()
    assert refused.value.credential == "api_token"


async def test_sends(simulator: SimulatorHandle, greenapi: GreenApiGateway) -> None:
    await simulator.control(f"{CONTROL}/scan", {"number": "79001234567"})
    text = await greenapi.send_text(f"+{ANNA}", "hello", reply_to="BAE5Q")
    assert (text.chat_id, text.message_id[:4]) == (f"{ANNA}@c.us", "BAE5")
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    await greenapi.send_media(
        ANNA, OutgoingMedia(png, "image/png", "door.png", MediaKind.IMAGE), caption="door"
    )
    await greenapi.send_location(ANNA, 52.5, 13.4, name="Home")
    await greenapi.send_poll("120363000000000001@g.us", "Pizza?", ["yes", "no"], multiple=True)
    await greenapi.mark_read(ANNA, ["A1"])
    [check] = await greenapi.check_phones([ANNA])
    assert (check.on_whatsapp, check.chat_id) == (True, f"{ANNA}@c.us")
    records = await simulator.get(f"{CONTROL}/sent")
    assert [record["method"] for record in records] == [
        "sendMessage",
        "sendFileByUpload",
        "sendLocation",
        "sendPoll",
        "readChat",
    ]
    assert records[0]["body"] == {
        "chatId": f"{ANNA}@c.us",
        "message": "hello",
        "quotedMessageId": "BAE5Q",
    }
    assert records[1]["body"] == {
        "chatId": f"{ANNA}@c.us",
        "fileName": "door.png",
        "caption": "door",
    }
    assert records[1]["file"]["base64"] == base64.b64encode(png).decode()
    assert records[3]["body"]["options"] == [{"optionName": "yes"}, {"optionName": "no"}]
    assert records[4]["body"] == {"chatId": f"{ANNA}@c.us", "idMessage": "A1"}


async def test_sending_while_not_authorized(greenapi: GreenApiGateway) -> None:
    with pytest.raises(GatewayResponseError, match="not authorized"):
        await greenapi.send_text(ANNA, "hello")


async def test_the_queue(simulator: SimulatorHandle, greenapi: GreenApiGateway) -> None:
    """Without a webhook URL notifications wait in the queue: each poll deletes the one the
    cursor names (its event fired) and takes the next, so none is lost or taken twice."""
    await greenapi.prepare_polling()
    await simulator.control(f"{CONTROL}/scan", {"number": "79001234567"})
    for text in ("one", "two"):
        await simulator.control(f"{CONTROL}/inbound", {"from": ANNA, "text": text})
    seen = []
    cursor = None
    for _ in range(4):
        events, cursor = await greenapi.poll_events(cursor)
        seen += [e.text for e in events if isinstance(e, IncomingMessage)]
        seen += [e.state for e in events if isinstance(e, SessionEvent)]
    assert seen == [SessionState.CONNECTED, "one", "two"]
    assert cursor is None
    assert (await simulator.get(CONTROL))["queue"] == []
    # The same cursor again (a restart before it was saved): taken again, not lost.
    await simulator.control(f"{CONTROL}/inbound", {"from": ANNA, "text": "three"})
    events, cursor = await greenapi.poll_events(None)
    again, _ = await greenapi.poll_events(None)
    assert [e.text for e in events] == [e.text for e in again] == ["three"]  # type: ignore[attr-defined]


async def test_webhook(
    simulator: SimulatorHandle, greenapi: GreenApiGateway, webhook_sink: WebhookSink
) -> None:
    """With a webhook URL notifications come there, with our token; others are refused."""
    await greenapi.configure_webhook(webhook_sink.url, "hook-token")
    assert await greenapi.webhook_matches(webhook_sink.url, "hook-token")
    assert await greenapi.get_webhook() == webhook_sink.url
    await simulator.control(f"{CONTROL}/scan", {"number": "79001234567"})
    received = await webhook_sink.next()
    assert received.headers["Authorization"] == "Bearer hook-token"
    assert greenapi.verify_webhook(received.headers, received.body, "hook-token")
    assert not greenapi.verify_webhook({"Authorization": "Bearer x"}, received.body, "hook-token")
    assert not greenapi.verify_webhook({}, received.body, "hook-token")
    assert greenapi.signature_missing({}, "hook-token")
    other = json.dumps({"typeWebhook": "x", "instanceData": {"idInstance": 1}}).encode()
    assert not greenapi.verify_webhook({"Authorization": "hook-token"}, other, "hook-token")
    assert greenapi.webhook_auth == "token"
    [event] = greenapi.parse_webhook(received.headers, received.body)
    assert event == SessionEvent(SessionState.CONNECTED, reason="authorized")
    await greenapi.prepare_polling()
    assert await greenapi.get_webhook() is None


async def test_inbound(
    simulator: SimulatorHandle, greenapi: GreenApiGateway, webhook_sink: WebhookSink
) -> None:
    """Every kind of message, a vote on our poll, acks and calls."""
    await greenapi.configure_webhook(webhook_sink.url, None)
    await simulator.control(f"{CONTROL}/scan", {"number": "79001234567"})
    await webhook_sink.next()

    async def inbound(**body: object) -> IncomingMessage:
        await simulator.control(f"{CONTROL}/inbound", {"from": ANNA, "name": "Anna", **body})
        message: IncomingMessage = await webhook_sink.next_of(greenapi, IncomingMessage)
        return message

    text = await inbound(text="ping", id="G1")
    assert (text.kind, text.text, text.sender, text.sender_name, text.message_id) == (
        MessageKind.TEXT,
        "ping",
        ANNA,
        "Anna",
        "G1",
    )
    reply = await inbound(text="yes", reply_to="Q1")
    assert (reply.text, reply.quoted_message_id) == ("yes", "Q1")
    image = await inbound(kind="image", caption="door", mime_type="image/png", data="iVBORw0KGgo=")
    assert (image.kind, image.caption) == (MessageKind.IMAGE, "door")
    assert image.media is not None and image.media.download is not None
    fetched = await greenapi.download_media(image.media)
    assert fetched.data == base64.b64decode("iVBORw0KGgo=")
    place = await inbound(kind="location", latitude=52.5, longitude=13.4, place="Home")
    assert place.location is not None and place.location.name == "Home"
    reaction = await inbound(kind="reaction", emoji="❤️", target_id="BAE5M")
    assert (reaction.kind, reaction.text, reaction.quoted_message_id) == (
        MessageKind.REACTION,
        "❤️",
        "BAE5M",
    )
    edit = await inbound(kind="edit", text="pong!", target_id="G1")
    assert (edit.kind, edit.text, edit.quoted_message_id) == (MessageKind.EDIT, "pong!", "G1")
    gone = await inbound(kind="delete", target_id="G1")
    assert (gone.kind, gone.quoted_message_id) == (MessageKind.DELETE, "G1")
    poll = await inbound(kind="poll", text="When?", options=["now", "later"])
    assert poll.poll is not None and poll.poll.options == ("now", "later")
    ours = await greenapi.send_poll(ANNA, "Pizza?", ["yes", "no"])
    vote = await inbound(
        kind="vote", poll_id=ours.message_id, options=["no"], group="120363000000000001@g.us"
    )
    assert (vote.kind, vote.quoted_message_id, vote.is_group) == (
        MessageKind.POLL_VOTE,
        ours.message_id,
        True,
    )
    assert vote.poll is not None and vote.poll.selected == ("no",)

    sent = await greenapi.send_text(ANNA, "hello")
    await simulator.control(f"{CONTROL}/ack", {"ids": [sent.message_id], "status": "delivered"})
    ack: MessageStatusUpdate = await webhook_sink.next_of(greenapi, MessageStatusUpdate)
    assert (ack.message_ids, ack.status) == ((sent.message_id,), DeliveryStatus.DELIVERED)
    await simulator.control(f"{CONTROL}/call", {"from": ANNA, "id": "CALL1"})
    call: IncomingCall = await webhook_sink.next_of(greenapi, IncomingCall)
    assert (call.call_id, call.caller, call.ended) == ("CALL1", ANNA, False)


@pytest.mark.parametrize(
    ("name", "kind", "text", "caption"),
    [
        (
            "greenapi-docs2022-incoming-text.json",
            MessageKind.TEXT,
            "I use Green-API to send this message to you!",
            None,
        ),
        ("greenapi-docs2022-incoming-text-quoting-text.json", MessageKind.TEXT, "Это", None),
        ("greenapi-docs2022-incoming-image.json", MessageKind.IMAGE, None, "Image"),
        ("greenapi-docs2022-incoming-location.json", MessageKind.LOCATION, None, None),
        ("greenapi-docs-current-incoming-reaction.json", MessageKind.REACTION, "👍", None),
        ("greenapi-docs-current-incoming-edited.json", MessageKind.EDIT, "Edited message", None),
        ("greenapi-fbhandler-incoming-document.json", MessageKind.DOCUMENT, None, None),
    ],
)
def test_documented_messages(
    greenapi: GreenApiGateway, name: str, kind: MessageKind, text: str | None, caption: str | None
) -> None:
    [message] = greenapi.parse_webhook({}, captured(name))
    assert isinstance(message, IncomingMessage)
    assert (message.kind, message.text, message.caption) == (kind, text, caption)
    if "quoting" in name:
        assert message.quoted_message_id == "9A73322488DCB7D9689A6112F2528C9D"
    if "edited" in name:
        assert message.quoted_message_id == "3PEAD8EDB7A9D438FF5E"
    if "document" in name:
        assert message.media is not None and message.media.filename == "new 1.txt"


def test_documented_notifications(greenapi: GreenApiGateway) -> None:
    """Statuses (failures with their reason), state changes, calls and a queue answer."""
    [failed] = greenapi.parse_webhook(
        {}, captured("greenapi-apidog-outgoing-status-failed-group-swe004.json")
    )
    assert failed == MessageStatusUpdate(
        ("B3Q599E4A3724D50",), "120363039326117111@g.us", DeliveryStatus.FAILED
    )
    [sent] = greenapi.parse_webhook({}, captured("greenapi-apidog-outgoing-status-sent.json"))
    assert isinstance(sent, MessageStatusUpdate) and sent.status is DeliveryStatus.SENT
    [no_account] = greenapi.parse_webhook(
        {}, captured("greenapi-docs2022-outgoing-status-noaccount.json")
    )
    assert isinstance(no_account, MessageStatusUpdate) and no_account.chat_id is None
    [state] = greenapi.parse_webhook(
        {}, captured("greenapi-docs2022-state-instance-notauthorized.json")
    )
    assert state == SessionEvent(SessionState.PAIRING, reason="notAuthorized")
    [call] = greenapi.parse_webhook({}, captured("greenapi-docs2022-incoming-call.json"))
    assert isinstance(call, IncomingCall) and (call.caller, call.ended) == ("79155295345", False)
    [picked_up] = greenapi.parse_webhook({}, captured("greenapi-fbhandler-incoming-call.json"))
    assert isinstance(picked_up, IncomingCall) and picked_up.ended
    # A queue answer is not a webhook body: its body is.
    queued = json.loads(captured("greenapi-docs2022-receivenotification-text.json"))
    assert (
        greenapi.parse_webhook({}, captured("greenapi-docs2022-receivenotification-text.json"))
        == []
    )
    [message] = greenapi.parse_webhook({}, json.dumps(queued["body"]).encode())
    assert isinstance(message, IncomingMessage) and message.text


@pytest.mark.parametrize("body", [b"[]", b"not json"])
def test_bodies_that_are_not_notifications(greenapi: GreenApiGateway, body: bytes) -> None:
    with pytest.raises(GatewayResponseError):
        greenapi.parse_webhook({}, body)

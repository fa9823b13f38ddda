"""Webhook delivery: every real format in, exactly the right events and states out."""

from __future__ import annotations

import base64
from datetime import timedelta
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.whatsapp_gateway.const import (
    DOMAIN,
    EVENT_CALL,
    EVENT_MESSAGE_RECEIVED,
    EVENT_MESSAGE_STATUS,
    MAX_WEBHOOK_BYTES,
)
from custom_components.whatsapp_gateway.gateway import DeliveryStatus
from custom_components.whatsapp_gateway.gateway.base import hmac_sha256_hex
from custom_components.whatsapp_gateway.inbound import SAVE_DELAY
from simulator import MaytapiConfig, WuzapiConfig
from tests.conftest import (
    HMAC_KEY,
    PHONE_ID,
    USER_TOKEN,
    SimulatorHandle,
    StartSimulator,
    fixture_bytes,
)

from .conftest import (
    WEBHOOK_ID,
    WUZAPI_PHONE,
    Bus,
    maytapi_entry,
    pair_maytapi_phone,
    pair_wuzapi_user,
    setup_entry,
    state,
    wuzapi_entry,
)

EVENT_KEYS = {
    "config_entry_id",
    "device_id",
    "account",
    "message_id",
    "chat_id",
    "sender",
    "sender_lid",
    "sender_id",
    "sender_name",
    "is_group",
    "from_me",
    "kind",
    "text",
    "caption",
    "media",
    "location",
    "contact",
    "quoted_message_id",
    "mentions",
    "poll",
    "timestamp",
}


async def inbound(simulator: SimulatorHandle, **message: object) -> None:
    """A contact writes to the wuzapi account."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/inbound", dict(message))


@pytest.mark.parametrize(
    ("webhook_format", "build"), [("form", "current"), ("json", "current"), ("form", "2025-05")]
)
async def test_wuzapi_text_message(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    bus: Bus,
    device_registry: dr.DeviceRegistry,
    webhook_format: str,
    build: str,
) -> None:
    """A text in either webhook format, from either build, fires one event with the
    documented keys."""
    simulator = await start_simulator(
        wuzapi=WuzapiConfig(webhook_format=webhook_format, build=build, auto_receipts=False)
    )
    await pair_wuzapi_user(simulator)
    entry = await setup_entry(hass, wuzapi_entry(simulator))
    user = await simulator.wuzapi_user()
    # The integration pointed the gateway at its webhook and gave it the signing key (which
    # the old build cannot take: its posts carry the user token instead).
    assert user["webhook"] == str(ha_client.make_url(f"/api/webhook/{WEBHOOK_ID}"))
    assert user["hmac_key"] == (None if build == "2025-05" else HMAC_KEY)
    received = bus.listen(EVENT_MESSAGE_RECEIVED)

    await inbound(simulator, text="ping", id="MSG1", name="Anna", **{"from": "491700000002"})
    await bus.until(lambda: received)
    await hass.async_block_till_done()

    assert len(received) == 1
    data = received[0].data
    assert set(data) == EVENT_KEYS
    [device] = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert data == {
        "config_entry_id": entry.entry_id,
        "device_id": device.id,
        "account": WUZAPI_PHONE,
        "message_id": "MSG1",
        "chat_id": "491700000002@s.whatsapp.net",
        "sender": "491700000002",
        "sender_lid": None,
        "sender_id": "491700000002@s.whatsapp.net",
        "sender_name": "Anna",
        "is_group": False,
        "from_me": False,
        "kind": "text",
        "text": "ping",
        "caption": None,
        "media": None,
        "location": None,
        "contact": None,
        "quoted_message_id": None,
        "mentions": [],
        "poll": None,
        "timestamp": data["timestamp"],
    }
    assert data["timestamp"].endswith("+00:00")
    last = state(hass, "sensor.home_last_message")
    assert last.state == "ping"
    assert last.attributes["sender_name"] == "Anna"
    assert last.attributes["chat_id"] == "491700000002@s.whatsapp.net"
    assert last.attributes["kind"] == "text"
    event = state(hass, "event.home_message")
    assert event.attributes["event_type"] == "text"
    assert event.attributes["message_id"] == "MSG1"


async def test_signed_posts(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, ha_client: TestClient, bus: Bus
) -> None:
    """With a signing key, a post with a valid signature counts and a forged one does not."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    body = fixture_bytes("wuzapi_message_text.json_body.txt")
    url = f"/api/webhook/{WEBHOOK_ID}"
    headers = {"Content-Type": "application/json"}

    forged = await ha_client.post(url, data=body, headers={**headers, "x-hmac-signature": "0" * 64})
    unsigned = await ha_client.post(url, data=body, headers=headers)
    assert (forged.status, unsigned.status) == (401, 401)
    await hass.async_block_till_done()
    assert received == []

    signed = {**headers, "x-hmac-signature": hmac_sha256_hex(HMAC_KEY, body)}
    response = await ha_client.post(url, data=body, headers=signed)
    assert response.status == 200
    await hass.async_block_till_done()
    assert len(received) == 1
    assert received[0].data["text"] == json.loads(body)["event"]["Message"]["conversation"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"\xff\xfe not json", 400),
        (b'{"type": "Message", "event": "not an object"}', 200),  # ignored, not an error
        (b"[1, 2, 3]", 400),
        (b"", 400),
    ],
)
async def test_malformed_posts(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    ha_client: TestClient,
    bus: Bus,
    body: bytes,
    status: int,
) -> None:
    """Malformed (but correctly signed) bodies get a 4xx or are ignored; no event, no error."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    response = await ha_client.post(
        f"/api/webhook/{WEBHOOK_ID}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "x-hmac-signature": hmac_sha256_hex(HMAC_KEY, body),
        },
    )
    assert response.status == status
    await hass.async_block_till_done()
    assert received == []


async def test_oversized_posts(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, ha_client: TestClient
) -> None:
    """Bodies over the limit are refused, with or without a length header."""
    url = f"/api/webhook/{WEBHOOK_ID}"
    too_big = b"x" * (MAX_WEBHOOK_BYTES + 1)
    assert (await ha_client.post(url, data=too_big)).status == 413

    async def chunks():  # no Content-Length: the receiver has to count
        for _ in range(MAX_WEBHOOK_BYTES // (1024 * 1024) + 1):
            yield b"x" * (1024 * 1024)

    assert (await ha_client.post(url, data=chunks())).status == 413


async def test_duplicate_delivery_fires_once(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, ha_client: TestClient, bus: Bus
) -> None:
    """The same message delivered twice fires one event."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    body = fixture_bytes("wuzapi_message_text.json_body.txt")
    headers = {
        "Content-Type": "application/json",
        "x-hmac-signature": hmac_sha256_hex(HMAC_KEY, body),
    }
    for _ in range(2):
        response = await ha_client.post(f"/api/webhook/{WEBHOOK_ID}", data=body, headers=headers)
        assert response.status == 200
    await hass.async_block_till_done()
    assert len(received) == 1


@pytest.mark.parametrize(("fire_own", "expected"), [(False, ["hello"]), (True, ["mine", "hello"])])
async def test_own_messages(
    hass: HomeAssistant,
    simulator: SimulatorHandle,
    bus: Bus,
    fire_own: bool,
    expected: list[str],
) -> None:
    """Own messages fire only when the option says so (the loop guard)."""
    await pair_wuzapi_user(simulator)
    await setup_entry(hass, wuzapi_entry(simulator, options={"fire_own_messages": fire_own}))
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await inbound(simulator, text="mine", from_me=True)
    await inbound(simulator, text="hello")
    await hass.async_block_till_done()
    assert [event.data["text"] for event in received] == expected
    assert all(event.data["from_me"] is (event.data["text"] == "mine") for event in received)


async def test_group_reply_with_media(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """A group image that replies to a message: media saved, reply and group fields set."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await inbound(
        simulator,
        kind="image",
        group="120363012345678901@g.us",
        caption="look",
        mime_type="image/png",
        data="data:image/png;base64,iVBORw0KGgo=",
        reply_to="ORIGINAL1",
        name="Ben",
        id="IMG1",
        **{"from": "491700000003"},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(received) == 1
    data = received[0].data
    assert data["kind"] == "image"
    assert data["is_group"] is True
    assert data["chat_id"] == "120363012345678901@g.us"
    assert data["sender"] == "491700000003"
    assert data["caption"] == "look"
    assert data["quoted_message_id"] == "ORIGINAL1"
    assert data["media"]["mime_type"] == "image/png"
    path = data["media"]["path"]
    assert path.startswith(hass.config.media_dirs["local"] + "/whatsapp_gateway/")
    saved = await hass.async_add_executor_job(Path(path).read_bytes)
    assert saved == b"\x89PNG\r\n\x1a\n"
    assert state(hass, "sensor.home_last_message").state == "look"
    assert state(hass, "event.home_message").attributes["event_type"] == "image"


async def test_senders_known_by_lid(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    bus: Bus,
    hass_storage: dict[str, Any],
) -> None:
    """A sender addressed by LID: the number comes from SenderAlt; once both were seen
    together, a later message with the LID alone has the number too, and the pair is saved."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    inbound = f"wuzapi/users/{USER_TOKEN}/inbound"
    await simulator.control(inbound, {"from": "491700000002", "text": "a", "lid": True})
    await simulator.control(inbound, {"from": "491700000002", "text": "b", "lid": "only"})
    await simulator.control(inbound, {"from": "491700000002", "text": "c"})
    await simulator.control(inbound, {"from": "491700000009", "text": "d", "lid": "only"})
    await hass.async_block_till_done()
    lid = f"{491700000002 % 10**15:015d}@lid"
    assert [(e.data["sender"], e.data["sender_lid"]) for e in received] == [
        ("491700000002", lid),
        ("491700000002", lid),
        ("491700000002", lid),
        (None, f"{491700000009 % 10**15:015d}@lid"),
    ]
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=SAVE_DELAY + 1))
    await hass.async_block_till_done()
    saved = hass_storage[f"{DOMAIN}.{wuzapi_account.entry_id}.inbound"]["data"]
    assert saved["phones_by_lid"] == {lid: "491700000002"}


async def test_messages_marked_read_once_home_assistant_has_them(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    bus: Bus,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the option on, each message's event fires, then the sender gets the blue ticks
    (in a group, naming the sender); a refusal is a warning, and the event fired all the same."""
    hass.config_entries.async_update_entry(
        wuzapi_account, options={**wuzapi_account.options, "mark_read": True}
    )
    await hass.async_block_till_done()
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    group = "120363000000000001@g.us"
    await inbound(simulator, **{"from": "491700000002"}, text="a", id="M1")
    await inbound(simulator, **{"from": "491700000002"}, text="b", id="M2", group=group)
    await hass.async_block_till_done()
    marks = [r["body"] for r in await simulator.get(f"wuzapi/users/{USER_TOKEN}/sent")]
    assert marks == [
        {"Id": ["M1"], "Chat": "491700000002@s.whatsapp.net"},
        {"Id": ["M2"], "Chat": group, "Sender": "491700000002@s.whatsapp.net"},
    ]
    assert len(received) == 2

    await simulator.fault(status=500, path="/chat/markread")
    await inbound(simulator, **{"from": "491700000002"}, text="c", id="M3")
    await hass.async_block_till_done()
    assert len(received) == 3
    assert "Could not mark message M3 in 491700000002@s.whatsapp.net as read" in caplog.text


async def test_mentions_by_lid(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """In a group that goes by LIDs, WhatsApp mentions the account by its LID. Until that LID is
    known, a mention of an unknown LID may be us and passes; once the account's phone wrote in
    such a group, the LID is known and only mentions of it pass."""
    hass.config_entries.async_update_entry(
        wuzapi_account, options={**wuzapi_account.options, "groups_mentioned_only": True}
    )
    await hass.async_block_till_done()
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    group = {"group": "120363000000000001@g.us", "lid": True}
    anna, bert, me = "491700000002", "491700000003", "491511234567"
    await inbound(simulator, **{"from": anna}, text="@Bert?", id="L1", mentions=[bert], **group)
    await inbound(simulator, **{"from": anna}, text="hi all", id="L2", **group)
    await inbound(simulator, **{"from": me}, text="mine", id="L3", from_me=True, **group)
    await inbound(simulator, **{"from": anna}, text="@Bert!", id="L4", mentions=[bert], **group)
    await inbound(simulator, **{"from": anna}, text="@Home", id="L5", mentions=[me], **group)
    await hass.async_block_till_done()
    my_lid = f"{int(me) * 7 % 10**15:015d}@lid"
    assert [(e.data["text"], e.data["mentions"]) for e in received] == [
        ("@Bert?", [f"{int(bert) % 10**15:015d}@lid"]),
        ("@Home", [my_lid]),
    ]


async def test_the_saved_lid_map_is_used_after_a_restart(
    hass: HomeAssistant, simulator: SimulatorHandle, bus: Bus, hass_storage: dict[str, Any]
) -> None:
    """What an earlier run learnt of a LID gives the number of a message that has only it."""
    lid = f"{491700000002 % 10**15:015d}@lid"
    await pair_wuzapi_user(simulator)
    entry = wuzapi_entry(simulator)
    hass_storage[f"{DOMAIN}.{entry.entry_id}.inbound"] = {
        "version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}.inbound",
        "data": {"phones_by_lid": {lid: "491700000002"}},
    }
    await setup_entry(hass, entry)
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await inbound(simulator, **{"from": "491700000002"}, text="hi", lid="only")
    await hass.async_block_till_done()
    assert (received[0].data["sender"], received[0].data["sender_lid"]) == ("491700000002", lid)


async def test_calls(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """A call rings and ends: two call events (once each, though posted twice), and the
    event entity shows it."""
    calls = bus.listen(EVENT_CALL)
    control = f"wuzapi/users/{USER_TOKEN}/call"
    for _ in range(2):
        await simulator.control(control, {"from": "491700000002", "id": "CALL1"})
    await simulator.control(control, {"from": "491700000002", "id": "CALL1", "ended": True})
    await hass.async_block_till_done()
    assert [(e.data["call_id"], e.data["caller"], e.data["state"]) for e in calls] == [
        ("CALL1", "491700000002", "ringing"),
        ("CALL1", "491700000002", "ended"),
    ]
    assert calls[0].data["config_entry_id"] == wuzapi_account.entry_id
    assert calls[0].data["caller_id"] == "491700000002@s.whatsapp.net"
    event = state(hass, "event.home_message")
    assert (event.attributes["event_type"], event.attributes["state"]) == ("call", "ended")


async def test_reactions_edits_and_deletions(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """A reaction (and taking it back), an edit (the new text) and a deletion for everyone
    each fire a message event of their own kind, pointing at the message they change."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    inbound = f"wuzapi/users/{USER_TOKEN}/inbound"
    anna = {"from": "491700000002", "name": "Anna"}
    await simulator.control(inbound, {**anna, "text": "Dinner at 8?", "id": "ASK1"})
    changes = [
        {"kind": "reaction", "emoji": "👍", "target_id": "OUT1", "id": "R1"},
        {"kind": "reaction", "emoji": "", "target_id": "OUT1", "id": "R2"},
        {"kind": "edit", "text": "Dinner at 9?", "target_id": "ASK1", "id": "E1"},
        {"kind": "delete", "target_id": "ASK1", "id": "D1"},
    ]
    for change in changes:
        await simulator.control(inbound, {**anna, **change})
    await hass.async_block_till_done()
    assert [
        (event.data["kind"], event.data["text"], event.data["quoted_message_id"])
        for event in received[1:]
    ] == [
        ("reaction", "👍", "OUT1"),
        ("reaction", None, "OUT1"),
        ("edit", "Dinner at 9?", "ASK1"),
        ("delete", None, "ASK1"),
    ]
    assert all(event.data["sender"] == "491700000002" for event in received)
    assert state(hass, "event.home_message").attributes["event_type"] == "delete"


async def test_a_contact_card_carries_its_name_and_card(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """A shared contact card's event names the contact and holds the card, to save or call."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Plumber Paul\nTEL:+491709876543\nEND:VCARD"
    await simulator.control(
        f"wuzapi/users/{USER_TOKEN}/inbound",
        {"from": "491700000002", "kind": "contact", "contact_name": "Plumber Paul", "vcard": vcard},
    )
    await hass.async_block_till_done()
    [event] = received
    assert event.data["kind"] == "contact"
    assert event.data["contact"] == {"name": "Plumber Paul", "vcard": vcard}


async def test_receipts_fire_status_events(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """Delivery receipts become message status events, each status once per message."""
    statuses = bus.listen(EVENT_MESSAGE_STATUS)
    for _ in range(2):
        await simulator.control(
            f"wuzapi/users/{USER_TOKEN}/receipt",
            {"ids": ["OUT1", "OUT2"], "chat": "491700000002", "state": "Read"},
        )
    await hass.async_block_till_done()
    assert [event.data for event in statuses] == [
        {
            "config_entry_id": wuzapi_account.entry_id,
            "message_id": message_id,
            "chat_id": "491700000002@s.whatsapp.net",
            "status": "read",
            "error": None,
            "message_tag": None,
        }
        for message_id in ("OUT1", "OUT2")
    ]
    # A send that waits for a receipt which came already (before the wait began) is done.
    router = wuzapi_account.runtime_data.inbound
    assert await router.async_wait_for("OUT1", DeliveryStatus.DELIVERED) is DeliveryStatus.READ
    assert router.reached("OUT3") is None


async def test_maytapi_message_and_batched_acks(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, bus: Bus
) -> None:
    """Maytapi: a message webhook fires an event; a batch of acks fires one status per message."""
    simulator = await start_simulator(maytapi=MaytapiConfig(ack_interval=0))
    await pair_maytapi_phone(simulator)
    entry = await setup_entry(hass, maytapi_entry(simulator))
    [phone] = await simulator.get("maytapi/phones")
    assert phone["webhook"].endswith(f"/api/webhook/{WEBHOOK_ID[::-1]}")
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    statuses = bus.listen(EVENT_MESSAGE_STATUS)

    await simulator.control(
        f"maytapi/phones/{PHONE_ID}/inbound", {"text": "hi shop", "from": "905301112233"}
    )
    await hass.async_block_till_done()
    assert len(received) == 1
    assert received[0].data["text"] == "hi shop"
    assert received[0].data["chat_id"] == "905301112233@c.us"
    assert received[0].data["account"] == entry.unique_id

    response = await hass.services.async_call(
        "whatsapp_gateway",
        "send_message",
        {"target": ["+90 530 111 2233", "905301112234"], "message": "thanks"},
        blocking=True,
        return_response=True,
    )
    sent_ids = [message["message_id"] for message in response["messages"]]
    await simulator.control("maytapi/flush_acks")
    await hass.async_block_till_done()
    assert {(e.data["message_id"], e.data["status"]) for e in statuses} >= {
        (message_id, "sent") for message_id in sent_ids
    }
    assert all(e.data["config_entry_id"] == entry.entry_id for e in statuses)


async def test_maytapi_rejects_other_products(
    hass: HomeAssistant, maytapi_account: MockConfigEntry, ha_client: TestClient, bus: Bus
) -> None:
    """A Maytapi post naming another product is refused."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    body = json.loads(fixture_bytes("maytapi_message_text.json"))
    body["product_id"] = "someone-else"
    response = await ha_client.post(f"/api/webhook/{WEBHOOK_ID[::-1]}", json=body)
    assert response.status == 401
    await hass.async_block_till_done()
    assert received == []


@pytest.mark.parametrize("download_fails", [False, True])
async def test_media_not_inlined_is_fetched(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    bus: Bus,
    download_fails: bool,
) -> None:
    """A message whose media the gateway did not inline fires with the bytes fetched from the
    gateway; and, should that fail, it still fires, with the media described."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    # S3 delivery without working S3: nothing inline.
    async with simulator.session.post(
        f"{simulator.url}/session/s3/config",
        headers={"Token": USER_TOKEN},
        json={"enable": False, "media_delivery": "s3"},
    ) as response:
        assert response.status == 200
    if download_fails:
        await simulator.fault(status=500, path="/chat/downloadimage")
    await inbound(
        simulator,
        kind="image",
        caption="door",
        mime_type="image/png",
        data="data:image/png;base64,iVBORw0KGgo=",
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    [event] = received
    assert event.data["caption"] == "door"
    assert event.data["media"]["mime_type"] == "image/png"
    if download_fails:
        assert event.data["media"]["path"] is None
        return
    saved = await hass.async_add_executor_job(Path(event.data["media"]["path"]).read_bytes)
    assert saved == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("webhook_format", "build"), [("form", "current"), ("json", "current"), ("form", "2025-05")]
)
async def test_post_too_large_for_its_media_still_fires(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    bus: Bus,
    monkeypatch: pytest.MonkeyPatch,
    webhook_format: str,
    build: str,
) -> None:
    """A post over the size limit loses its inline media, not its message: the message fires,
    and its bytes are fetched from the gateway."""
    monkeypatch.setattr("custom_components.whatsapp_gateway.webhook.MAX_WEBHOOK_BYTES", 4096)
    simulator = await start_simulator(
        wuzapi=WuzapiConfig(webhook_format=webhook_format, build=build, auto_receipts=False)
    )
    await pair_wuzapi_user(simulator)
    await setup_entry(hass, wuzapi_entry(simulator))
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # about 10 kB, 14 kB as base64
    data = "data:image/png;base64," + base64.b64encode(photo).decode()
    await inbound(simulator, kind="image", caption="big", mime_type="image/png", data=data)
    await hass.async_block_till_done(wait_background_tasks=True)
    [event] = received
    assert event.data["caption"] == "big"
    saved = await hass.async_add_executor_job(Path(event.data["media"]["path"]).read_bytes)
    assert saved == photo


async def test_too_large_post_with_a_forged_signature(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    ha_client: TestClient,
    bus: Bus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dropping the media does not skip the signature: it is checked over the whole body."""
    monkeypatch.setattr("custom_components.whatsapp_gateway.webhook.MAX_WEBHOOK_BYTES", 4096)
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    event = json.loads(fixture_bytes("wuzapi_message_text.json"))
    body = json.dumps({"base64": "A" * 10_000, **event}, separators=(",", ":")).encode()
    url = f"/api/webhook/{WEBHOOK_ID}"
    headers = {"Content-Type": "application/json", "x-hmac-signature": "0" * 64}
    assert (await ha_client.post(url, data=body, headers=headers)).status == 401
    headers["x-hmac-signature"] = hmac_sha256_hex(HMAC_KEY, body)
    assert (await ha_client.post(url, data=body, headers=headers)).status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(received) == 1


async def test_old_build_sticker_fires_without_its_bytes(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, bus: Bus
) -> None:
    """May-2025 wuzapi neither inlines stickers nor can download them: the message fires."""
    simulator = await start_simulator(wuzapi=WuzapiConfig(build="2025-05", auto_receipts=False))
    await pair_wuzapi_user(simulator)
    await setup_entry(hass, wuzapi_entry(simulator))
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    data = "data:image/webp;base64," + base64.b64encode(b"RIFF....WEBP").decode()
    await inbound(simulator, kind="sticker", mime_type="image/webp", data=data)
    await hass.async_block_till_done(wait_background_tasks=True)
    [event] = received
    assert event.data["kind"] == "sticker"
    assert event.data["media"]["mime_type"] == "image/webp"
    assert event.data["media"]["path"] is None

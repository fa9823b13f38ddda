"""The same flow, entity, action and event tests for every gateway kind, against its simulator."""

from __future__ import annotations

import base64
from datetime import timedelta
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_URL, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.whatsapp_gateway import sending
from custom_components.whatsapp_gateway.const import (
    DOMAIN,
    EVENT_COMMAND_RECEIVED,
    EVENT_MESSAGE_RECEIVED,
    EVENT_MESSAGE_STATUS,
    LAST_MESSAGE_WRITE_INTERVAL,
)
from custom_components.whatsapp_gateway.diagnostics import async_get_config_entry_diagnostics
from custom_components.whatsapp_gateway.gateway import (
    OPTIONS_VERSION_KEY,
    Capability,
    gateway_capabilities,
    gateway_descriptor,
)
from simulator.common import LOST_ANSWER
from tests.conftest import GREEN_ID, PHONE_ID, USER_TOKEN, StartSimulator

from .conftest import (
    Bus,
    configure,
    poll,
    reauth_flows,
    served,
    setup_entry,
    start,
    start_kind,
    state,
    watcher_done,
)
from .kinds import CONTACT, KINDS, Kind, Sent

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
ANNA = f"{CONTACT}@s.whatsapp.net"


@pytest.fixture(params=list(KINDS))
async def kind(
    request: pytest.FixtureRequest, start_simulator: StartSimulator, ha_client: TestClient
) -> Kind:
    """Each gateway kind (and wuzapi build) in turn, driving the simulator's product."""
    return await start_kind(request.param, start_simulator)


async def call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    """Call one of the integration's actions and return its response."""
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


async def to_credentials(hass: HomeAssistant, kind: Kind, credentials: dict[str, Any]) -> Any:
    """Open the flow, pick the gateway and submit credentials."""
    result = await start(hass, kind.name)
    return await configure(hass, result, credentials)


async def test_flow_links_by_qr(
    hass: HomeAssistant, kind: Kind, entity_registry: er.EntityRegistry
) -> None:
    """Credentials, (the account slot,) the QR code; the phone scans and the entry is made."""
    result = await to_credentials(hass, kind, kind.credentials())
    if not kind.links_phone:  # a registered number: the credentials are all it takes
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == f"WhatsApp +{kind.phone}"
        await hass.async_block_till_done()
        assert result["result"].state is ConfigEntryState.LOADED
        return
    if (slot := kind.slot_choice()) is not None:
        step_id, choice = slot
        assert (result["type"], result["step_id"]) == (FlowResultType.FORM, step_id)
        result = await configure(hass, result, choice)
    if result["type"] is FlowResultType.MENU:  # QR or pairing code, where both exist
        result = await configure(hass, result, {"next_step_id": "pair"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "scan_qr"
    assert result["description_placeholders"]["qr"].startswith("![QR code](data:image/png;base64,")

    await kind.scan()
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    account = kind.account()
    assert result["title"] == (
        f"WhatsApp +{kind.phone}" if kind.tells_own_number else f"WhatsApp {account}"
    )
    entry = result["result"]
    assert entry.unique_id == account
    assert entry.data["kind"] == kind.name
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    session = entity_registry.async_get_entity_id("sensor", DOMAIN, f"{account}_session")
    assert session is not None
    assert state(hass, session).state == "connected"


async def test_flow_links_by_pairing_code(hass: HomeAssistant, kind: Kind) -> None:
    """Where the gateway offers it, link with phone number instead: the dialog shows the
    code, the phone types it, and the entry is made."""
    result = await to_credentials(hass, kind, kind.credentials())
    if Capability.PAIRING_CODE not in gateway_capabilities(kind.name):
        assert result["type"] is not FlowResultType.MENU  # straight to the QR code (or a slot)
        return
    result = await configure(hass, result, {"next_step_id": "pairing_code"})
    result = await configure(hass, result, {"phone": f"+{kind.phone}"})
    assert (result["type"], result["progress_action"]) == (
        FlowResultType.SHOW_PROGRESS,
        "enter_code",
    )
    code = result["description_placeholders"]["code"]
    [phone] = [
        p
        for p in await kind.simulator.get("phones")
        if p["product"] == kind.name and p["awaiting_code"]
    ]
    # A mistyped code links nothing: the phone is refused and the dialog keeps waiting.
    wrong = "".join("B" if c == "A" else "A" if c.isalnum() else c for c in code)
    async with kind.simulator.session.post(
        f"{kind.simulator.url}/__emulator/phones/{kind.name}/{phone['id']}/code",
        json={"code": wrong, "name": "Home"},
    ) as refused:
        assert refused.status == 409
    assert (
        hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]["step_id"]
        == (result["step_id"])
    )
    await kind.simulator.control(
        f"phones/{kind.name}/{phone['id']}/code", {"code": code, "name": "Home"}
    )
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == kind.account()


async def test_flow_errors(hass: HomeAssistant, kind: Kind) -> None:
    """A wrong secret is marked on its box (Waabot does not say whether the e-mail address or
    the password was wrong: there the whole form); an address where nothing answers is
    cannot_connect; one where something else answers says so, with the HTTP status."""
    credentials = kind.credentials()
    result = await to_credentials(hass, kind, {**credentials, kind.secret_field: "wrong"})
    if kind.name == "waabot":
        assert result["errors"] == {"base": "invalid_auth"}
    else:
        assert result["errors"] == {kind.secret_field: "credential_refused"}
    result = await configure(
        hass, result, {**credentials, CONF_URL: "http://127.0.0.1:9/instance1"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await configure(
        hass, result, {**credentials, CONF_URL: f"{kind.simulator.url}/not-a-gateway"}
    )
    assert result["errors"] == {"base": "not_the_gateway"}
    assert result["description_placeholders"] == {
        "gateway": gateway_descriptor(kind.name).name,
        "status": "404",
    }


async def test_incoming_message(
    hass: HomeAssistant,
    kind: Kind,
    account: MockConfigEntry,
    bus: Bus,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A text fires one event with the documented data and updates the entities."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.receive(hass, text="ping", id="MSG1", name="Anna", **{"from": CONTACT})
    assert len(received) == 1
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, account.entry_id), account.entry_id
    )
    assert device is not None
    data = received[0].data
    assert data == {
        "config_entry_id": account.entry_id,
        "device_id": device.id,
        "account": kind.account(),
        "message_id": kind.message_id("MSG1"),
        "chat_id": kind.chat_id(),
        "sender": CONTACT,
        "sender_lid": None,
        "sender_id": kind.chat_id(),
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
    last = state(hass, "sensor.home_last_message")
    assert (last.state, last.attributes["sender"], last.attributes["kind"]) == (
        "ping",
        CONTACT,
        "text",
    )
    event = state(hass, "event.home_message")
    assert event.attributes["event_type"] == "text"
    assert state(hass, "sensor.home_session").state == "connected"
    assert state(hass, "image.home_qr_code").state == STATE_UNKNOWN  # nothing to scan: no error


async def test_commands(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """A text that starts with "/" is a command: its own bus event and event type, with the
    command (lower case) and the words after it; it is still a message, too."""
    messages = bus.listen(EVENT_MESSAGE_RECEIVED)
    commands = bus.listen(EVENT_COMMAND_RECEIVED)
    await kind.receive(hass, text="/Lights  off kitchen", id="CMD1", **{"from": CONTACT})
    assert [event.data["text"] for event in messages] == ["/Lights  off kitchen"]
    [command] = commands
    assert command.data == {
        **messages[0].data,
        "command": "/lights",
        "args": ["off", "kitchen"],
    }
    event = state(hass, "event.home_message")
    assert event.attributes["event_type"] == "command"
    assert (event.attributes["command"], event.attributes["args"]) == (
        "/lights",
        ["off", "kitchen"],
    )

    # Neither a lone "/" nor a text with a slash inside is a command.
    for text in ("/", "a/b", "not /this"):
        await kind.receive(hass, text=text, id=f"T{len(text)}", **{"from": CONTACT})
    assert len(commands) == 1
    assert state(hass, "event.home_message").attributes["event_type"] == "text"


async def test_groups_only_when_mentioned(hass: HomeAssistant, kind: Kind, bus: Bus) -> None:
    """With the option on, a group message fires only when it @mentions the account (the
    event lists whom it mentions); direct chats are not affected. An account that cannot tell
    whom a message mentions, or its own number, does not offer the option."""
    await kind.link()
    entry = await setup_entry(hass, kind.entry())
    form = await hass.config_entries.options.async_init(entry.entry_id)
    offered = "groups_mentioned_only" in form["data_schema"].schema
    assert offered == (
        Capability.MENTIONS in gateway_capabilities(kind.name) and kind.tells_own_number
    )
    if not offered:
        return
    await hass.config_entries.options.async_configure(
        form["flow_id"], {**form["data_schema"]({}), "groups_mentioned_only": True}
    )
    await hass.async_block_till_done()
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    group = "120363012345678901@g.us"
    writer = {"from": CONTACT, "group": group}
    await kind.receive(hass, text="chatter", id="G1", **writer)
    await kind.receive(hass, text="@Anna look", id="G2", mentions=["491700000003"], **writer)
    await kind.receive(hass, text="@Home lights?", id="G3", mentions=[kind.phone], **writer)
    await kind.receive(hass, text="direct", id="D1", **{"from": CONTACT})
    assert [(e.data["text"], e.data["mentions"]) for e in received] == [
        ("@Home lights?", [kind.phone]),
        ("direct", []),
    ]


async def test_image_reply_in_a_group(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """A group image that quotes a message: kind, group, caption, quote and media type."""
    if not kind.has_groups:
        with pytest.raises(ServiceValidationError) as refused:
            await call(hass, "send_message", target="120363012345678901@g.us", message="hi")
        assert "it does not support groups" in str(refused.value)
        return
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    group = "120363012345678901@g.us"
    await kind.receive(
        hass,
        kind="image",
        group=group,
        caption="who is at the door?",
        mime_type="image/png",
        data="data:image/png;base64,iVBORw0KGgo=",
        reply_to="ORIGINAL1",
        id="IMG1",
        **{"from": CONTACT},
    )
    [event] = received
    assert (event.data["kind"], event.data["is_group"], event.data["chat_id"]) == (
        "image",
        True,
        group,
    )
    assert event.data["message_id"] == kind.message_id("IMG1", group)
    assert (event.data["caption"], event.data["quoted_message_id"]) == (
        "who is at the door?",
        "ORIGINAL1",
    )
    assert event.data["sender"] == CONTACT
    assert event.data["media"] is not None
    assert state(hass, "event.home_message").attributes["event_type"] == "image"


async def test_own_messages_and_redelivery(hass: HomeAssistant, kind: Kind, bus: Bus) -> None:
    """Own messages fire no event; a webhook post delivered twice fires once.

    Chat-API is set to its webhook here, to have something to deliver twice.
    """
    kind.polls = False
    await kind.link()
    await setup_entry(hass, kind.entry(options={"inbound_mode": "webhook"}))
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.receive(hass, text="mine", from_me=True)
    await kind.receive(hass, text="hello", **{"from": CONTACT})
    assert [event.data["text"] for event in received] == ["hello"]

    simulator = kind.simulator
    delivery = (await simulator.webhook_log())[-1]  # the gateway retries its last post
    async with simulator.session.post(
        delivery.url, data=delivery.body, headers=delivery.headers
    ) as response:
        assert response.status == 200
    await hass.async_block_till_done()
    assert [event.data["text"] for event in received] == ["hello"]


async def test_send_message(hass: HomeAssistant, kind: Kind, account: MockConfigEntry) -> None:
    """One text to two people; the gateway got both and the response names each message."""
    targets = [CONTACT, "+49 170 0000003"]
    response = await call(hass, "send_message", target=targets, message="Door opened")
    assert await kind.sent() == [
        Sent(CONTACT, "Door opened"),
        Sent("491700000003", "Door opened"),
    ]
    assert [m["target"] for m in response["messages"]] == targets
    assert [m["chat_id"].split("@")[0] for m in response["messages"]] == [
        CONTACT,
        "491700000003",
    ]
    assert all(m["message_id"] for m in response["messages"])


async def test_an_answer_quotes_the_message_where_the_gateway_can(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """reply_to quotes the message; Waabot cannot quote, and there the answer still goes to
    the chat, without the quote, instead of failing."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.receive(hass, text="ping", id="PING1", **{"from": CONTACT})
    ping = received[0].data["message_id"]
    await call(hass, "send_message", target=CONTACT, message="pong", reply_to=ping)
    [answer] = await what_the_phone_got(kind)
    quoted = None if kind.name == "waabot" else kind.message_id("PING1")
    assert (answer["text"], answer.get("reply_to")) == ("pong", quoted)


async def phone_action(kind: Kind, action: str) -> tuple[int, str]:
    """An action on the kind's phone page (its status and answer text)."""
    [phone] = [p for p in await kind.simulator.get("phones") if p["product"] == kind.name]
    url = f"{kind.simulator.url}/__emulator/phones/{kind.name}/{phone['id']}/{action}"
    async with kind.simulator.session.post(url, json={}) as response:
        return response.status, await response.text()


async def what_the_phone_got(kind: Kind) -> list[dict[str, Any]]:
    """What Home Assistant sent, as the phone page shows it (one bubble per message)."""
    [phone] = [p for p in await kind.simulator.get("phones") if p["product"] == kind.name]
    conversation = (await kind.simulator.get(f"phones/{kind.name}/{phone['id']}"))["chat"]
    return [line for line in conversation if line["direction"] == "out"]


async def raw_sends(kind: Kind) -> list[dict[str, Any]]:
    """The requests wuzapi, Maytapi or WAHA got from Home Assistant, as they came."""
    path = {
        "wuzapi": f"wuzapi/users/{USER_TOKEN}/sent",
        "maytapi": f"maytapi/phones/{PHONE_ID}/sent",
        "waha": "waha/sessions/default/sent",
        "evolution": "evolution/instances/home-assistant/sent",
        "greenapi": "greenapi/sent",
        "cloudapi": "cloudapi/sent",
    }[kind.name]
    records: list[dict[str, Any]] = await kind.simulator.get(path)
    return records


async def test_send_location(hass: HomeAssistant, kind: Kind, account: MockConfigEntry) -> None:
    """A pin to two people, its name and address under it; the response names each message."""
    response = await call(
        hass,
        "send_location",
        target=[CONTACT, "+49 170 0000003"],
        latitude=52.5163,
        longitude=13.3777,
        name="Front door",
        address="Pariser Platz 1",
    )
    pins = await what_the_phone_got(kind)
    assert [(pin["kind"], pin["text"], pin["place"]) for pin in pins] == [
        ("location", "52.5163, 13.3777", "Front door, Pariser Platz 1")
    ] * 2
    assert [pin["chat"].split("@")[0] for pin in pins] == [CONTACT, "491700000003"]
    assert [m["message_id"] for m in response["messages"]] == [pin["id"] for pin in pins]

    with pytest.raises(probatio.Invalid, match="invalid latitude"):  # refused before sending
        await call(hass, "send_location", target=CONTACT, latitude=91, longitude=0)
    assert len(await what_the_phone_got(kind)) == 2


async def act(hass: HomeAssistant, service: str, **data: Any) -> None:
    """Call an action that answers nothing."""
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


async def test_reactions(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """React to a received message, and take the reaction back; a gateway without reactions
    says so."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.receive(hass, text="Dinner at 8?", id="ASK1", **{"from": CONTACT})
    asked = received[0].data["message_id"]
    if Capability.REACTION not in gateway_capabilities(kind.name):
        with pytest.raises(ServiceValidationError) as refused:
            await act(hass, "send_reaction", target=CONTACT, message_id=asked, emoji="👍")
        name = gateway_descriptor(kind.name).name
        assert str(refused.value) == f"{name} cannot do this: it does not support reactions"
        return
    await act(hass, "send_reaction", target=CONTACT, message_id=asked, emoji="👍")
    [reaction] = await raw_sends(kind)
    if kind.name == "wuzapi":
        assert (reaction["endpoint"], reaction["body"]["Id"], reaction["body"]["Body"]) == (
            "/chat/react",
            asked,
            "👍",
        )
        # No emoji takes the reaction back; "own message" addresses one this account sent.
        await act(hass, "send_reaction", target=CONTACT, message_id=asked)
        await act(
            hass, "send_reaction", target=CONTACT, message_id="OWN1", emoji="✅", from_me=True
        )
        removed, own = (record["body"] for record in (await raw_sends(kind))[1:])
        assert (removed["Body"], own["Id"], own["Body"]) == ("remove", "me:OWN1", "✅")
    elif kind.name == "waha":
        # WAHA's ids name the chat and the author: the id alone says which message.
        assert reaction["body"] == {"session": "default", "messageId": asked, "reaction": "👍"}
        await act(hass, "send_reaction", target=CONTACT, message_id=asked)
        assert (await raw_sends(kind))[1]["body"]["reaction"] == ""
    elif kind.name == "cloudapi":
        assert reaction["body"]["reaction"] == {"message_id": asked, "emoji": "👍"}
    elif kind.name == "evolution":
        # Baileys' key: the chat, whose message it is, its id.
        await act(
            hass, "send_reaction", target=CONTACT, message_id="OWN1", emoji="✅", from_me=True
        )
        theirs, own = (record["body"] for record in await raw_sends(kind))
        assert theirs == {
            "key": {"remoteJid": ANNA, "fromMe": False, "id": asked},
            "reaction": "👍",
        }
        assert (own["key"]["fromMe"], own["key"]["id"]) == (True, "OWN1")
    else:
        body = reaction["body"]
        assert (body["type"], body["message"], body["reply_to"]) == ("reaction", "👍", asked)


async def test_mark_read(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """Blue ticks for messages received in a group, naming their sender; a gateway that
    cannot mark read says so."""
    group = "120363000000000001@g.us"
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.receive(hass, text="hello", id="G1", group=group, **{"from": CONTACT})
    data = received[0].data
    call_data = {"target": group, "message_id": data["message_id"], "sender": data["sender"]}
    if Capability.MARK_READ not in gateway_capabilities(kind.name):
        with pytest.raises(ServiceValidationError) as refused:
            await act(hass, "mark_read", **call_data)
        assert str(refused.value).endswith(
            "cannot do this: it does not support marking messages as read"
        )
        return
    await act(hass, "mark_read", **call_data)
    [marked] = await raw_sends(kind)
    if kind.name == "waha":
        path = "/api/sendSeen"
        assert marked["body"] == {
            "session": "default",
            "chatId": group,
            "messageId": data["message_id"],
            "participant": f"{CONTACT}@c.us",
        }
    elif kind.name == "evolution":
        path = "/chat/markMessageAsRead/home-assistant"
        key = {"id": data["message_id"], "fromMe": False, "remoteJid": group}
        assert marked["body"] == {"readMessages": [key]}
    elif kind.name == "cloudapi":
        path = kind.send_path
        assert marked["body"] == {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": data["message_id"],
        }
    elif kind.name == "greenapi":
        path = f"/waInstance{GREEN_ID}/readChat/"
        assert marked["body"] == {"chatId": group, "idMessage": data["message_id"]}
    else:
        path = "/chat/markread"
        assert marked["endpoint"] == path
        assert marked["body"] == {"Id": [data["message_id"]], "Chat": group, "Sender": ANNA}

    # The gateway's refusal names the chat.
    await kind.simulator.fault(status=500, path=path)
    with pytest.raises(HomeAssistantError) as failed:
        await act(hass, "mark_read", **call_data)
    assert str(failed.value).startswith(f"The WhatsApp gateway did not do this in {group}: ")


async def deliver(kind: Kind, message_id: str) -> None:
    """The recipient's phone reports the message delivered (Maytapi: its next batch of acks)."""
    if kind.name == "wuzapi":
        await kind.simulator.control(
            f"wuzapi/users/{USER_TOKEN}/receipt",
            {"ids": [message_id], "chat": CONTACT, "state": "Delivered"},
        )
    elif kind.name in ("waha", "evolution"):
        path = {"waha": "waha/sessions/default", "evolution": "evolution/instances/home-assistant"}
        await kind.simulator.control(f"{path[kind.name]}/ack", {"ids": [message_id], "ack": 2})
    elif kind.name in ("greenapi", "cloudapi"):
        control = f"{kind.name}/ack"
        await kind.simulator.control(control, {"ids": [message_id], "status": "delivered"})
    else:
        await kind.simulator.control("maytapi/flush_acks")


async def test_wait_for_delivery(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """wait_for: delivered answers once the receipt comes, with the status reached; the tag
    rides on the message's status events; without the receipt in time the action fails,
    naming the chat. An account that gets no receipts refuses at once and sends nothing."""
    statuses = bus.listen(EVENT_MESSAGE_STATUS)
    alert = {"target": CONTACT, "message": "Garage open", "message_tag": "garage"}
    if kind.name in ("chatapi", "waabot"):  # Waabot sends no receipts; Chat-API is polled
        with pytest.raises(ServiceValidationError) as refused:
            await call(hass, "send_message", **alert, wait_for="delivered")
        assert refused.value.translation_key == "no_receipts"
        assert "cannot wait until a message is delivered. Nothing was sent" in str(refused.value)
        assert await what_the_phone_got(kind) == []
        return

    waiting = hass.async_create_task(
        call(hass, "send_message", **alert, wait_for="delivered", timeout=30)
    )

    async def sent() -> bool:
        return len(await what_the_phone_got(kind)) == 1

    await served(sent)
    assert not waiting.done()
    [message] = await what_the_phone_got(kind)
    await deliver(kind, message["id"])
    response = await waiting
    assert response["messages"] == [
        {
            "target": CONTACT,
            "chat_id": response["messages"][0]["chat_id"],
            "message_id": message["id"],
            "status": "delivered",
        }
    ]
    assert {event.data["message_tag"] for event in statuses} == {"garage"}
    assert "delivered" in {event.data["status"] for event in statuses}

    # Read never comes: the action gives up after its time-out, on Home Assistant's clock.
    waiting = hass.async_create_task(
        call(
            hass, "send_message", target=CONTACT, message="Still open", wait_for="read", timeout=30
        )
    )

    async def sent_twice() -> bool:
        return len(await what_the_phone_got(kind)) == 2

    await served(sent_twice)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    with pytest.raises(HomeAssistantError) as late:
        await waiting
    assert str(late.value) == (
        f"The message to {CONTACT} was not read within 30 s. It was sent; the status events "
        "tell when it gets there"
    )


async def test_a_failed_delivery_ends_the_wait(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient
) -> None:
    """Maytapi takes a message and then reports it failed: the wait ends with that, at once."""
    kind = await start_kind("maytapi", start_simulator)
    await kind.link()
    await setup_entry(hass, kind.entry())
    await kind.simulator.control(f"maytapi/phones/{PHONE_ID}/fail_next_send")
    with pytest.raises(HomeAssistantError) as failed:
        await call(hass, "send_message", target=CONTACT, message="hi", wait_for="read")
    assert str(failed.value) == (
        f"The gateway reports that the message to {CONTACT} could not be delivered"
    )


def cannot(kind: Kind, capability: Capability) -> str | None:
    """The error an action gets where the gateway (or this build of it) cannot do it, or None."""
    name = gateway_descriptor(kind.name).name
    if capability not in gateway_capabilities(kind.name):
        feature = {
            Capability.EDIT: "editing messages",
            Capability.DELETE: "deleting messages",
            Capability.TYPING: "typing indicators",
            Capability.POLL: "polls",
        }[capability]
        return f"{name} cannot do this: it does not support {feature}"
    if kind.name == "wuzapi" and not kind.tells_own_number:  # the May-2025 build
        path, what = {
            Capability.EDIT: ("/chat/send/edit", "edit message"),
            Capability.DELETE: ("/chat/delete", "delete message"),
            Capability.TYPING: ("/chat/presence", "typing indicator"),
            Capability.POLL: ("/chat/send/poll", "send poll"),
        }[capability]
        return (
            f"wuzapi cannot do this: this wuzapi server has no {path} (an older build); "
            f"update wuzapi for {what}"
        )
    return None


async def test_edit_and_delete(hass: HomeAssistant, kind: Kind, account: MockConfigEntry) -> None:
    """An alert sent can be corrected, then taken back for everyone."""
    response = await call(hass, "send_message", target=CONTACT, message="Door open")
    sent = {"target": CONTACT, "message_id": response["messages"][0]["message_id"]}
    if (refusal := cannot(kind, Capability.EDIT)) is not None:
        with pytest.raises(ServiceValidationError) as refused:
            await act(hass, "edit_message", **sent, message="Door closed")
        assert str(refused.value) == refusal
        with pytest.raises(ServiceValidationError) as refused:
            await act(hass, "delete_message", **sent)
        assert str(refused.value) == cannot(kind, Capability.DELETE)
        return
    await act(hass, "edit_message", **sent, message="Door closed")
    [line] = await what_the_phone_got(kind)
    assert (line["text"], line["edited"]) == ("Door closed", True)
    await act(hass, "delete_message", **sent)
    [line] = await what_the_phone_got(kind)
    assert (line["text"], line["deleted"]) == ("", True)


async def test_typing(hass: HomeAssistant, kind: Kind, account: MockConfigEntry) -> None:
    """ "typing…", "recording audio…" and stop, in two chats at once."""
    chats = [CONTACT, "+49 170 0000003"]
    if (refusal := cannot(kind, Capability.TYPING)) is not None:
        with pytest.raises(ServiceValidationError) as refused:
            await act(hass, "send_typing", target=chats)
        assert str(refused.value) == refusal
        return
    for state_name in ("typing", "recording", "paused"):
        await act(hass, "send_typing", target=chats, state=state_name)
    if kind.name in ("waha", "evolution"):
        chat = "chatId" if kind.name == "waha" else "number"
        shown = [
            (r["body"][chat].removesuffix("@c.us"), r["body"]["presence"])
            for r in await raw_sends(kind)
        ]
        names = {"typing": "composing"} if kind.name == "evolution" else {}
        assert shown == [
            (number, names.get(state_name, state_name))
            for state_name in ("typing", "recording", "paused")
            for number in (CONTACT, "491700000003")
        ]
        return
    shown = [
        (r["body"]["Phone"], r["body"]["State"], r["body"]["Media"]) for r in await raw_sends(kind)
    ]
    assert shown == [
        (CONTACT, "composing", ""),
        ("491700000003", "composing", ""),
        (CONTACT, "composing", "audio"),
        ("491700000003", "composing", "audio"),
        (CONTACT, "paused", ""),
        ("491700000003", "paused", ""),
    ]


async def test_polls(hass: HomeAssistant, kind: Kind, account: MockConfigEntry) -> None:
    """A poll answers its id; one that allows several answers is refused where the gateway's
    polls take one; 2 to 12 options."""
    poll = {"target": CONTACT, "question": "Pizza or pasta?", "options": ["Pizza", "Pasta"]}
    if (refusal := cannot(kind, Capability.POLL)) is not None:
        with pytest.raises(ServiceValidationError) as refused:
            await call(hass, "send_poll", **poll)
        assert str(refused.value) == refusal
        return
    response = await call(hass, "send_poll", **poll)
    [line] = await what_the_phone_got(kind)
    assert (line["kind"], line["text"]) == ("poll", "Pizza or pasta?\n○ Pizza\n○ Pasta")
    assert response["messages"][0]["message_id"] == line["id"]
    if kind.name == "waha":  # WAHA's and Evolution's polls take several answers
        await call(hass, "send_poll", **poll, multiple_answers=True)
        assert (await raw_sends(kind))[-1]["body"]["poll"]["multipleAnswers"] is True
    elif kind.name == "evolution":
        await call(hass, "send_poll", **poll, multiple_answers=True)
        assert (await raw_sends(kind))[-1]["body"]["selectableCount"] == 2
    elif kind.name == "greenapi":
        await call(hass, "send_poll", **poll, multiple_answers=True)
        assert (await raw_sends(kind))[-1]["body"]["multipleAnswers"] is True
    else:
        with pytest.raises(ServiceValidationError) as refused:
            await call(hass, "send_poll", **poll, multiple_answers=True)
        assert (
            str(refused.value)
            == "wuzapi cannot do this: it does not support polls with several answers"
        )
    sent = len(await what_the_phone_got(kind))
    with pytest.raises(probatio.Invalid):
        await call(hass, "send_poll", **{**poll, "options": ["Pizza"]})
    assert len(await what_the_phone_got(kind)) == sent


async def test_a_burst(hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus) -> None:
    """A burst fires every event and triggers the event entity once per message; the
    last-message sensor writes the first at once and then ends on the last."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    texts = [f"burst {number}" for number in range(5)]
    for number, text in enumerate(texts[:-1]):
        await kind.write(text=text, id=f"BURST{number}", **{"from": CONTACT})
    await kind.receive(hass, text=texts[-1], id="BURST4", **{"from": CONTACT})

    def states_of(entity_id: str) -> list[Any]:
        changes = bus.events["state_changed"]
        return [e.data["new_state"] for e in changes if e.data["entity_id"] == entity_id]

    assert [event.data["text"] for event in received] == texts
    assert [trigger.attributes["text"] for trigger in states_of("event.home_message")] == texts
    # (Polled gateways bring the burst in one poll, pushed ones a post at a time: the same.)
    assert [written.state for written in states_of("sensor.home_last_message")] == [texts[0]]
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=LAST_MESSAGE_WRITE_INTERVAL + 1)
    )
    await hass.async_block_till_done()
    written = [written.state for written in states_of("sensor.home_last_message")]
    assert written == [texts[0], texts[-1]]


async def test_send_file(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, tmp_path: Path
) -> None:
    """A picture from an allowed folder reaches the gateway byte for byte."""
    picture = tmp_path / "door.png"
    picture.write_bytes(PNG)
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    await call(hass, "send_file", target=CONTACT, file=str(picture), caption="door")
    [sent] = await kind.sent()
    assert (sent.target, sent.data) == (CONTACT, PNG)


async def test_sticker_only_where_the_gateway_sends_them(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, tmp_path: Path
) -> None:
    """A sticker goes out where the gateway can send one; elsewhere a translated error says
    so before anything reaches the gateway."""
    sticker = tmp_path / "smile.webp"
    sticker.write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 ")
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    if Capability.STICKER in gateway_capabilities(kind.name):
        await call(hass, "send_file", target=CONTACT, file=str(sticker))
        assert len(await kind.sent()) == 1
        return
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_file", target=CONTACT, file=str(sticker), kind="sticker")
    assert raised.value.translation_key == "kind_not_supported"
    assert str(raised.value).startswith(f"{gateway_descriptor(kind.name).name} cannot send")
    assert await kind.sent() == []


async def test_notify_entity(hass: HomeAssistant, kind: Kind, account: MockConfigEntry) -> None:
    """The chat's notify entity sends to that chat."""
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.anna", "message": "Dinner is ready"},
        blocking=True,
    )
    assert await kind.sent() == [Sent(CONTACT, "Dinner is ready")]


async def test_send_failure_names_the_target(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry
) -> None:
    """A send the gateway refuses raises a translated error naming the target."""
    await kind.simulator.fault(status=500, times=1, path=kind.send_path)
    with pytest.raises(HomeAssistantError) as raised:
        await call(hass, "send_message", target=CONTACT, message="x")
    assert raised.value.translation_key == "send_failed"
    assert str(raised.value).startswith(f"Sending to {CONTACT} failed: ")
    assert "went out" not in str(raised.value) and "none" not in str(raised.value)
    assert await kind.sent() == []


async def test_lost_answer_never_sends_twice(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway sends, but its answer is lost: one message at the gateway, whatever follows.

    Where the client picks the message id (wuzapi) the retry reuses it and succeeds; elsewhere
    the send is not repeated and the error says it may have gone out.
    """
    monkeypatch.setattr(sending, "SEND_RETRY_DELAYS", (0.0, 0.0))
    await kind.simulator.fault(status=LOST_ANSWER, times=1, path=kind.send_path)
    if Capability.CLIENT_MESSAGE_ID in gateway_capabilities(kind.name):
        response = await call(hass, "send_message", target=CONTACT, message="once")
        [message] = response["messages"]
        assert message["message_id"]
    else:
        with pytest.raises(HomeAssistantError, match="may have been sent") as raised:
            await call(hass, "send_message", target=CONTACT, message="once")
        assert CONTACT in str(raised.value)
    assert await kind.sent() == [Sent(CONTACT, "once")]


async def test_refused_credentials_while_sending_start_reauth(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry
) -> None:
    """A token revoked on the gateway: the send fails naming the target, and reauth starts."""
    await kind.simulator.fault(status=401, times=2, path=kind.send_path)
    with pytest.raises(HomeAssistantError) as raised:
        await call(hass, "send_message", target=CONTACT, message="x")
    assert CONTACT in str(raised.value)
    await hass.async_block_till_done()
    assert len(reauth_flows(hass)) == 1


async def test_unlinked_from_the_phone(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """Unlinking on the phone shows in the session sensor; reauth links it again in place."""
    if not kind.links_phone:
        status, text = await phone_action(kind, "unlink")
        assert (status, "nothing to unlink" in text) == (409, True)
        return
    before = {
        entity.entity_id: entity.unique_id
        for entity in er.async_entries_for_config_entry(entity_registry, account.entry_id)
    }
    await kind.unlink_from_phone()
    await poll(hass)
    assert state(hass, "sensor.home_session").state == kind.unlinked_state
    [flow] = reauth_flows(hass)

    result = await configure(hass, flow, {})
    if result["type"] is FlowResultType.MENU:
        result = await configure(hass, result, {"next_step_id": "pair"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await kind.scan()
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reauth_successful")
    await hass.async_block_till_done()
    assert state(hass, "sensor.home_session").state == "connected"
    assert account.state is ConfigEntryState.LOADED
    # The same entities, with the same ids: automations and dashboards keep working.
    after = {
        entity.entity_id: entity.unique_id
        for entity in er.async_entries_for_config_entry(entity_registry, account.entry_id)
    }
    assert after == before
    assert "notify.anna" in after


async def test_outage_and_recovery(
    hass: HomeAssistant,
    kind: Kind,
    account: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The gateway cannot be reached: entities unavailable, one error; then back by itself."""
    await kind.simulator.fault(status=503, times=2, path=kind.status_path)
    await poll(hass)
    for entity_id in ("sensor.home_session", "sensor.home_last_message", "event.home_message"):
        assert state(hass, entity_id).state == STATE_UNAVAILABLE
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    caplog.clear()  # the one expected error
    await poll(hass)
    await poll(hass)
    assert state(hass, "sensor.home_session").state == "connected"


async def test_diagnostics_hold_no_secrets(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry
) -> None:
    """No credential, number or chat of the account appears in the diagnostics."""
    diagnostics = await async_get_config_entry_diagnostics(hass, account)
    text = json.dumps(diagnostics)
    public = {"kind", "url", "product_id", "phone_id", "session", "instance", OPTIONS_VERSION_KEY}
    secrets = [value for key, value in account.data.items() if key not in public]
    for secret in [*secrets, kind.phone, CONTACT]:
        assert str(secret) not in text
    assert diagnostics["gateway"]["kind"] == kind.name
    assert diagnostics["inbound"]["polling"] is kind.polled


@pytest.mark.parametrize(
    ("filename", "reply_to"), [("clip.mp4", "3EB0QUOTED"), ("song.mp3", None), ("door.png", "Q")]
)
async def test_what_an_old_wuzapi_build_cannot_send(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    tmp_path: Path,
    filename: str,
    reply_to: str | None,
) -> None:
    """May-2025 wuzapi replies only with text and images and sends only OGG audio: anything
    else is refused before it reaches the gateway (which would crash), with a clear error."""
    kind = await start_kind("wuzapi-2025-05", start_simulator)
    await kind.link()
    await setup_entry(hass, kind.entry())
    media = tmp_path / filename
    media.write_bytes(PNG)
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    data: dict[str, Any] = {"target": CONTACT, "file": str(media)}
    if reply_to:
        data["reply_to"] = reply_to
    if filename == "door.png":  # an image may reply
        await call(hass, "send_file", **data)
        assert len(await kind.sent()) == 1
        return
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_file", **data)
    assert raised.value.translation_key == "not_supported"
    assert "May-2025 build" in str(raised.value)
    assert str(raised.value).startswith("wuzapi cannot do this: this wuzapi version")
    if filename == "clip.mp4":
        assert str(raised.value) == (
            "wuzapi cannot do this: this wuzapi version (a May-2025 build) cannot send a video "
            "as a reply; update wuzapi, or send it without replying"
        )
    assert await kind.sent() == []

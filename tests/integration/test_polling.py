"""Polling a Chat-API instance: exactly once across restarts, backoff while it fails."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
)

from custom_components.whatsapp_gateway.const import (
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
    MAX_POLL_BACKOFF,
)
from tests.conftest import CHATAPI_INSTANCE, SimulatorHandle

from .conftest import Bus, restarted_home_assistant, setup_entry
from .kinds import CONTACT, ChatApi

MESSAGES = f"/instance{CHATAPI_INSTANCE}/messages"


@pytest.fixture
async def chatapi(simulator: SimulatorHandle) -> ChatApi:
    """The Chat-API driver, with the phone linked."""
    driver = ChatApi(simulator)
    await driver.link()
    return driver


async def next_poll(hass: HomeAssistant, seconds: float = DEFAULT_POLL_INTERVAL) -> None:
    """Let the poll timer fire and the poll finish."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds + 0.5))
    await hass.async_block_till_done(wait_background_tasks=True)


async def faults_left(chatapi: ChatApi) -> int:
    """How many failures the one pending fault has left."""
    [fault] = await chatapi.simulator.faults()
    times: int = fault["times"]
    return times


async def test_restart_between_polls_fires_each_message_once(
    hass: HomeAssistant, chatapi: ChatApi, bus: Bus, hass_storage: dict
) -> None:
    """Messages that arrive while Home Assistant restarts fire once after it; none twice."""
    entry = chatapi.entry()
    await chatapi.write(text="history")  # before the account was set up: not news
    await setup_entry(hass, entry)
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await chatapi.write(text="one", **{"from": CONTACT})
    await next_poll(hass)
    assert [event.data["text"] for event in received] == ["one"]
    assert hass_storage[f"{DOMAIN}.{entry.entry_id}.cursor"]["data"] == {"cursor": "2"}

    async with restarted_home_assistant(hass, entry) as (restarted, again, second):
        await chatapi.write(text="two")
        await chatapi.write(text="three")
        fired = again.listen(EVENT_MESSAGE_RECEIVED)
        await setup_entry(restarted, second)
        assert second.state is ConfigEntryState.LOADED
        # The first poll comes once the entities listen: they show what it brought.
        async_fire_time_changed(restarted, dt_util.utcnow() + timedelta(seconds=2))
        await restarted.async_block_till_done()
        last_message = restarted.states.get("sensor.home_last_message")
        assert last_message is not None and last_message.state == "three"
        await chatapi.write(text="four")
        await next_poll(restarted)
        await next_poll(restarted)
        assert [event.data["text"] for event in fired] == ["two", "three", "four"]
    assert [event.data["text"] for event in received] == ["one"]


async def test_failing_polls_back_off_and_lose_nothing(
    hass: HomeAssistant,
    chatapi: ChatApi,
    bus: Bus,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While /messages fails the pauses grow, one warning is logged; then all messages come."""
    await setup_entry(hass, chatapi.entry())
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await chatapi.simulator.fault(status=503, times=3, path=MESSAGES)
    await chatapi.write(text="during the outage")
    await next_poll(hass)  # fails: next try in 10 s
    await next_poll(hass)  # too early for it
    assert [fault["times"] for fault in await chatapi.simulator.faults()] == [2]
    await next_poll(hass, 10)  # fails: next in 20 s
    await next_poll(hass, 20)  # fails: next in 40 s
    assert await chatapi.simulator.faults() == []
    assert received == []
    await next_poll(hass, 40)
    assert [event.data["text"] for event in received] == ["during the outage"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "Polling Home for messages failed" in w]) == 1
    assert "Polling Home for messages works again" in caplog.text


async def test_backoff_is_capped(hass: HomeAssistant, chatapi: ChatApi) -> None:
    """However long the outage, a poll comes at least every MAX_POLL_BACKOFF seconds."""
    await setup_entry(hass, chatapi.entry())
    await chatapi.simulator.fault(status=503, times=20, path=MESSAGES)
    # The pauses double from 10 s; the seventh would be 640 s without the cap.
    waits = [DEFAULT_POLL_INTERVAL, 10, 20, 40, 80, 160, MAX_POLL_BACKOFF, MAX_POLL_BACKOFF]
    for number, wait in enumerate(waits):
        await next_poll(hass, wait)
        assert await faults_left(chatapi) == 20 - number - 1


async def test_webhook_mode_does_not_poll(
    hass: HomeAssistant, chatapi: ChatApi, ha_client: object
) -> None:
    """With the webhook chosen, the instance posts to Home Assistant and is never polled."""
    # A fault waiting for the first request to /messages: it stays unused if none comes.
    await chatapi.simulator.fault(status=503, times=1, path=MESSAGES)
    await setup_entry(hass, chatapi.entry(options={"inbound_mode": "webhook"}))
    instance = await chatapi.simulator.get("chatapi/instance")
    assert instance["webhook"].endswith("/api/webhook/" + "0123456789abcdef" * 4)
    assert instance["ack_notifications"] is True
    await next_poll(hass, 60)
    assert [fault["path"] for fault in await chatapi.simulator.faults()] == [MESSAGES]


async def test_removing_the_account_forgets_the_cursor(
    hass: HomeAssistant, chatapi: ChatApi, hass_storage: dict
) -> None:
    """The saved position goes with the account."""
    entry = await setup_entry(hass, chatapi.entry())
    key = f"{DOMAIN}.{entry.entry_id}.cursor"
    await hass.async_block_till_done()
    assert key in hass_storage
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_options_offer_polling(hass: HomeAssistant, chatapi: ChatApi) -> None:
    """For Chat-API the options offer polling and its interval, which the poller then uses."""
    entry = await setup_entry(hass, chatapi.entry())
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"].schema
    assert schema["inbound_mode"].config["options"] == ["auto", "webhook", "polling"]
    assert "poll_interval" in schema
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "inbound_mode": "polling",
            "status_interval": 60.0,
            "poll_interval": 30.0,
            "fire_own_messages": False,
        },
    )
    await hass.async_block_till_done()
    assert entry.options["poll_interval"] == 30
    bus = Bus(hass)
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await chatapi.write(text="slow")
    await next_poll(hass, 10)
    assert received == []
    await next_poll(hass, 30)
    assert [event.data["text"] for event in received] == ["slow"]


async def test_polling_stops_with_home_assistant(hass: HomeAssistant, chatapi: ChatApi) -> None:
    """Once Home Assistant stops (and its HTTP session with it), nothing polls any more."""
    await setup_entry(hass, chatapi.entry())
    await chatapi.simulator.fault(status=503, times=5, path=MESSAGES)
    await next_poll(hass)
    assert await faults_left(chatapi) == 4  # polling runs
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    await next_poll(hass, MAX_POLL_BACKOFF)
    assert await faults_left(chatapi) == 4


async def test_cursor_is_saved_only_after_its_messages_fired(
    hass: HomeAssistant, chatapi: ChatApi, hass_storage: dict[str, Any]
) -> None:
    """A crash between the two can repeat a message but never lose one."""
    entry = await setup_entry(hass, chatapi.entry())
    key = f"{DOMAIN}.{entry.entry_id}.cursor"
    saved_when_fired: list[Any] = []

    @callback
    def fired(_: Event) -> None:
        saved_when_fired.append(hass_storage.get(key, {}).get("data"))

    hass.bus.async_listen(EVENT_MESSAGE_RECEIVED, fired)
    before = hass_storage[key]["data"]
    await chatapi.write(text="one", **{"from": CONTACT})
    await next_poll(hass)
    assert saved_when_fired == [before]
    assert hass_storage[key]["data"] != before

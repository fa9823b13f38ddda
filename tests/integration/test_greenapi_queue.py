"""GREEN-API's notification queue: chosen when GREEN-API cannot reach Home Assistant, and each
notification fires exactly once, across restarts too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.whatsapp_gateway.const import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_STATUS_INTERVAL,
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
)
from custom_components.whatsapp_gateway.diagnostics import async_get_config_entry_diagnostics
from tests.conftest import GREEN_ID, SimulatorHandle

from .conftest import Bus, restarted_home_assistant, setup_entry
from .kinds import CONTACT, GreenApi


async def next_poll(hass: HomeAssistant) -> None:
    """Let the poll timer fire and the poll (and the ones it chains) finish."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=DEFAULT_POLL_INTERVAL + 1))
    await hass.async_block_till_done(wait_background_tasks=True)


async def queue(simulator: SimulatorHandle) -> list[dict[str, Any]]:
    """The notifications waiting in GREEN-API's queue."""
    view = await simulator.get("greenapi")
    waiting: list[dict[str, Any]] = view["queue"]
    return waiting


async def test_without_a_way_in_the_queue_is_used(
    hass: HomeAssistant, simulator: SimulatorHandle, bus: Bus
) -> None:
    """Home Assistant has no URL GREEN-API could post to: automatic inbound takes the queue,
    clears the webhook URL so that notifications wait there, and a burst arrives whole at
    the next poll, in order."""
    await hass.config.async_update(external_url=None)  # only the internal URL, on the LAN
    kind = GreenApi(simulator)
    await kind.link()
    await simulator.control("greenapi/settings", {"webhookUrl": "https://old.example/hook"})
    entry = await setup_entry(hass, kind.entry())
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["inbound"]["polling"] is True
    assert (await simulator.get("greenapi"))["settings"]["webhookUrl"] == ""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    for text in ("one", "two", "three"):
        await kind.write(text=text, **{"from": CONTACT})
    assert len(await queue(simulator)) == 3
    await next_poll(hass)
    # One at a time, each deleted once its event fired and its position was saved.
    assert [event.data["text"] for event in received] == ["one", "two", "three"]
    assert await queue(simulator) == []


async def test_a_restart_between_receive_and_delete_fires_once(
    hass: HomeAssistant, simulator: SimulatorHandle, bus: Bus, hass_storage: dict[str, Any]
) -> None:
    """A notification taken from the queue fired; Home Assistant stops before it was
    deleted. After the restart it is deleted, not fired again; what came meanwhile fires."""
    kind = GreenApi(simulator)
    await kind.link()
    entry = await setup_entry(hass, kind.entry(options={"inbound_mode": "polling"}))
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.write(text="before", id="M1", **{"from": CONTACT})
    # Deleting it fails (GREEN-API is unavailable): it stays in the queue.
    await simulator.fault(status=503, path=f"/waInstance{GREEN_ID}/deleteNotification/")
    await next_poll(hass)
    assert [event.data["text"] for event in received] == ["before"]
    [waiting] = await queue(simulator)  # received and fired, not deleted yet
    cursor = hass_storage[f"{DOMAIN}.{entry.entry_id}.cursor"]["data"]["cursor"]
    assert cursor == str(waiting["receiptId"])

    async with restarted_home_assistant(hass, entry) as (restarted, again, second):
        await kind.write(text="meanwhile", id="M2", **{"from": CONTACT})
        fired = again.listen(EVENT_MESSAGE_RECEIVED)
        await setup_entry(restarted, second)
        await next_poll(restarted)
        await next_poll(restarted)
        assert [event.data["text"] for event in fired] == ["meanwhile"]
        assert await queue(simulator) == []
    assert [event.data["text"] for event in received] == ["before"]


async def test_a_webhook_set_in_the_console_is_taken_back(
    hass: HomeAssistant, simulator: SimulatorHandle, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone gives the instance a webhook URL in GREEN-API's console: notifications would
    go there, and Home Assistant would hear nothing. The next status check clears it again."""
    kind = GreenApi(simulator)
    await kind.link()
    await setup_entry(hass, kind.entry(options={"inbound_mode": "polling"}))
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await simulator.control("greenapi/settings", {"webhookUrl": "https://elsewhere.example/hook"})
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=DEFAULT_STATUS_INTERVAL + 1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await simulator.get("greenapi"))["settings"]["webhookUrl"] == ""
    assert "no longer kept its messages for Home Assistant; set back" in caplog.text
    await kind.write(text="heard", **{"from": CONTACT})
    await next_poll(hass)
    assert [event.data["text"] for event in received] == ["heard"]

"""Message texts stay out of Home Assistant's database (the event entity's attributes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.components.recorder import Recorder, get_instance, history
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from tests.conftest import USER_TOKEN, SimulatorHandle


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """The recorder has to be set up before Home Assistant in these tests."""


async def test_event_entity_keeps_texts_out_of_the_recorder(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
) -> None:
    start = dt_util.utcnow() - timedelta(seconds=1)
    await simulator.control(
        f"wuzapi/users/{USER_TOKEN}/inbound", {"text": "my secret", "name": "Anna", "id": "M1"}
    )
    await hass.async_block_till_done()
    live = hass.states.get("event.home_message")
    assert live is not None and live.attributes["text"] == "my secret"
    await async_wait_recording_done(hass)
    states = await get_instance(hass).async_add_executor_job(
        history.get_significant_states, hass, start, None, ["event.home_message"]
    )
    recorded = states["event.home_message"][-1].attributes
    assert recorded["message_id"] == "M1"
    for private in ("text", "caption", "sender_name"):
        assert private not in recorded

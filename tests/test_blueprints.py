"""The blueprints under blueprints/automation/whatsapp_gateway/: each loads in Home Assistant,
takes its inputs, and the automation it makes does what it says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.components.blueprint.models import DomainBlueprints
from homeassistant.core import HomeAssistant, SupportsResponse
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

BLUEPRINTS = Path(__file__).parents[1] / "blueprints"
CHAT = "491700000002"


@pytest.fixture(autouse=True)
def our_blueprints() -> Iterator[None]:
    """Blueprints are read from this repository's folder, as after an import."""
    with patch.object(
        DomainBlueprints,
        "blueprint_folder",
        property(lambda self: BLUEPRINTS / self.domain),
    ):
        yield


async def automation(hass: HomeAssistant, name: str, inputs: dict[str, Any]) -> None:
    """An automation made from one of our blueprints."""
    config = {"use_blueprint": {"path": f"whatsapp_gateway/{name}.yaml", "input": inputs}}
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()
    [made] = hass.states.async_all("automation")
    assert made.state == "on"  # loaded, its inputs accepted


def message(**data: Any) -> dict[str, Any]:
    """The data of a message event from CHAT."""
    return {
        "config_entry_id": "entry1",
        "chat_id": f"{CHAT}@s.whatsapp.net",
        "sender": CHAT,
        "sender_name": "Anna",
        "message_id": "M1",
        "kind": "text",
        "text": "hello",
        "caption": None,
        **data,
    }


def test_every_blueprint_is_tested() -> None:
    names = {path.stem for path in (BLUEPRINTS / "automation" / "whatsapp_gateway").glob("*.yaml")}
    assert names == {
        "command_bot",
        "camera_snapshot",
        "forward_messages",
        "session_alert",
        "confirmed_alarm",
    }


async def test_command_bot(hass: HomeAssistant) -> None:
    """The chat's "/lights off" runs the script with its words and answers, quoting it;
    another chat's command does nothing."""
    scripts = async_mock_service(hass, "script", "turn_on")
    sends = async_mock_service(hass, "whatsapp_gateway", "send_message")
    await automation(
        hass,
        "command_bot",
        {"chat": CHAT, "command": "/lights", "script": "script.lights", "answer": "Lights off."},
    )
    hass.bus.async_fire(
        "whatsapp_gateway_command_received", message(command="/lights", args=["off"])
    )
    other = message(command="/lights", args=["on"], chat_id="491700000009@s.whatsapp.net")
    hass.bus.async_fire("whatsapp_gateway_command_received", {**other, "sender": "491700000009"})
    await hass.async_block_till_done()
    assert [call.data for call in scripts] == [
        {"entity_id": ["script.lights"], "variables": {"args": ["off"]}}
    ]
    assert [call.data for call in sends] == [
        {
            "config_entry_id": "entry1",
            "target": f"{CHAT}@s.whatsapp.net",
            "reply_to": "M1",
            "message": "Lights off.",
        }
    ]


async def test_camera_snapshot(hass: HomeAssistant) -> None:
    files = async_mock_service(hass, "whatsapp_gateway", "send_file")
    hass.states.async_set("binary_sensor.doorbell", "off")
    await automation(
        hass,
        "camera_snapshot",
        {"sensor": "binary_sensor.doorbell", "camera": "camera.door", "chat": f"+{CHAT}"},
    )
    hass.states.async_set("binary_sensor.doorbell", "on")
    await hass.async_block_till_done()
    assert [call.data for call in files] == [
        {"target": f"+{CHAT}", "camera": "camera.door", "caption": "Someone is at the door"}
    ]


async def test_forward_messages(hass: HomeAssistant) -> None:
    """The chosen chat's messages go to the notify entity; others do not."""
    notes = async_mock_service(hass, "notify", "send_message")
    await automation(hass, "forward_messages", {"chats": [CHAT], "notify": "notify.phone"})
    hass.bus.async_fire("whatsapp_gateway_message_received", message(text="Dinner at 8"))
    hass.bus.async_fire(
        "whatsapp_gateway_message_received", message(chat_id="491700000009@s.whatsapp.net")
    )
    await hass.async_block_till_done()
    assert [call.data for call in notes] == [
        {"entity_id": ["notify.phone"], "title": "WhatsApp from Anna", "message": "Dinner at 8"}
    ]


async def test_session_alert(hass: HomeAssistant) -> None:
    """An unlinked session, and a gateway quiet for longer than the hours set, are told."""
    notes = async_mock_service(hass, "notify", "send_message")
    hass.states.async_set("sensor.home_session", "connected")
    recent = dt_util.utcnow().isoformat()
    hass.states.async_set("sensor.home_last_delivery", recent)
    await automation(
        hass,
        "session_alert",
        {
            "session": "sensor.home_session",
            "last_delivery": "sensor.home_last_delivery",
            "quiet_hours": 12,
            "notify": "notify.phone",
        },
    )
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=31))
    await hass.async_block_till_done()
    assert notes == []  # delivered a moment ago
    hass.states.async_set("sensor.home_session", "logged_out")
    await hass.async_block_till_done()
    assert "must be linked again" in notes[-1].data["message"]
    old = (dt_util.utcnow() - timedelta(hours=13)).isoformat()
    hass.states.async_set("sensor.home_last_delivery", old)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=62))
    await hass.async_block_till_done()
    assert "has delivered nothing for 12 hours" in notes[-1].data["message"]
    # Its half-hourly check stops with it.
    await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)


@pytest.mark.parametrize(
    ("outcome", "fallback"),
    [
        ({"messages": [{"target": CHAT, "status": "delivered"}]}, False),
        (HomeAssistantError("not delivered within 60 s"), True),
    ],
)
async def test_confirmed_alarm(hass: HomeAssistant, outcome: Any, fallback: bool) -> None:
    """The alarm waits for WhatsApp's delivery; when that does not come, the other notify
    service gets it."""
    failed = isinstance(outcome, Exception)
    sends = async_mock_service(
        hass,
        "whatsapp_gateway",
        "send_message",
        response=None if failed else outcome,
        supports_response=SupportsResponse.OPTIONAL,
        raise_exception=outcome if failed else None,
    )
    notes = async_mock_service(hass, "notify", "send_message")
    hass.states.async_set("binary_sensor.smoke", "off")
    await automation(
        hass,
        "confirmed_alarm",
        {
            "sensor": "binary_sensor.smoke",
            "chat": f"+{CHAT}",
            "message": "Smoke in the kitchen!",
            "timeout": 30,
            "fallback": "notify.phone",
        },
    )
    hass.states.async_set("binary_sensor.smoke", "on")
    await hass.async_block_till_done()
    assert [call.data for call in sends] == [
        {
            "target": f"+{CHAT}",
            "message": "Smoke in the kitchen!",
            "wait_for": "delivered",
            "timeout": 30,
            "message_tag": "alarm",
        }
    ]
    assert len(notes) == (1 if fallback else 0)
    if fallback:
        assert notes[0].data["message"] == "Smoke in the kitchen!"

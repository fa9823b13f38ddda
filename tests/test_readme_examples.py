"""The README's YAML examples are what Home Assistant accepts: each action's data passes the
action's own schema, and each automation passes Home Assistant's automation check."""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

from homeassistant.components.automation.config import async_validate_config_item
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
import yaml

from custom_components.whatsapp_gateway.services import _ACTIONS

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
DOCUMENTS = [doc for doc in map(yaml.safe_load, BLOCKS) if isinstance(doc, dict)]
ACTION_CALLS = [
    doc for doc in DOCUMENTS if str(doc.get("action", "")).startswith("whatsapp_gateway.")
]
AUTOMATIONS = [doc for doc in DOCUMENTS if "triggers" in doc]


def ours(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls of our actions among an automation's steps (also inside if/then)."""
    found = []
    for step in steps:
        if str(step.get("action", "")).startswith("whatsapp_gateway."):
            found.append(step)
        found += ours(step.get("then", []) + step.get("else", []))
    return found


def test_the_readme_has_examples() -> None:
    """Every action of the integration has an example."""
    shown = {call["action"].split(".", 1)[1] for call in ACTION_CALLS}
    shown |= {
        call["action"].split(".", 1)[1] for doc in AUTOMATIONS for call in ours(doc["actions"])
    }
    assert set(_ACTIONS) <= shown
    assert AUTOMATIONS


@pytest.mark.parametrize("call", ACTION_CALLS, ids=lambda call: call["action"])
def test_action_examples_pass_their_schema(call: dict[str, Any]) -> None:
    check(call)


def check(call: dict[str, Any]) -> None:
    """An action call's data passes the action's schema, its templates rendered (as "1")."""
    _, schema, _ = _ACTIONS[call["action"].split(".", 1)[1]]
    data = call.get("data", {})
    schema({key: "1" if "{{" in str(value) else value for key, value in data.items()})


@pytest.mark.parametrize("config", AUTOMATIONS, ids=lambda config: config.get("alias", "?"))
async def test_automation_examples_are_valid(hass: HomeAssistant, config: dict[str, Any]) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    validated = await async_validate_config_item(hass, "example", config)
    assert validated is not None and validated.validation_error is None, validated
    for call in ours(config["actions"]):
        check(call)

"""The README and the pages under docs/: their YAML is what Home Assistant accepts (each
action's data passes the action's own schema; each automation and script passes Home Assistant's
own check), their links lead somewhere, and each action, event and repair issue is described."""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

from homeassistant.components.automation.config import (
    async_validate_config_item as validate_automation,
)
from homeassistant.components.script.config import async_validate_config_item as validate_script
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
import yaml

from custom_components.whatsapp_gateway import const
from custom_components.whatsapp_gateway.services import _ACTIONS
from devtools.capabilities import ACTION_NEEDS, with_gateways
from tests.integration.test_webhook import EVENT_KEYS
from tests.translations import texts

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(DOCS.rglob("*.md"))]
SERVICES = yaml.safe_load((ROOT / "custom_components/whatsapp_gateway/services.yaml").read_text())


def read(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def examples(page: Path) -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", read(page), re.DOTALL)
    return [doc for doc in map(yaml.safe_load, blocks) if isinstance(doc, dict)]


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


DOCUMENTS = [(name(page), doc) for page in PAGES for doc in examples(page)]
ACTION_CALLS = [
    (page, doc) for page, doc in DOCUMENTS if str(doc.get("action", "")).startswith("whatsapp_")
]
AUTOMATIONS = [(page, doc) for page, doc in DOCUMENTS if "triggers" in doc]
SCRIPTS = [(page, doc) for page, doc in DOCUMENTS if "sequence" in doc]


def ours(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls of our actions among the steps (also inside if/then)."""
    found = []
    for step in steps:
        if str(step.get("action", "")).startswith("whatsapp_gateway."):
            found.append(step)
        found += ours(step.get("then", []) + step.get("else", []))
    return found


def calls_in(page: Path) -> set[str]:
    """The actions of ours that the page's examples call."""
    calls = []
    for doc in examples(page):
        calls += ours([doc]) + ours(doc.get("actions", []) + doc.get("sequence", []))
    return {call["action"].split(".", 1)[1] for call in calls}


def check(call: dict[str, Any]) -> None:
    """An action call's data passes the action's schema, its templates rendered (as "1")."""
    _, schema, _ = _ACTIONS[call["action"].split(".", 1)[1]]
    data = call.get("data", {})
    schema({key: "1" if "{{" in str(value) else value for key, value in data.items()})


@pytest.mark.parametrize(("page", "call"), ACTION_CALLS, ids=lambda x: str(x)[:40])
def test_action_examples_pass_their_schema(page: str, call: dict[str, Any]) -> None:
    check(call)


@pytest.mark.parametrize(("page", "config"), AUTOMATIONS + SCRIPTS, ids=lambda x: str(x)[:40])
async def test_automation_and_script_examples_are_valid(
    hass: HomeAssistant, page: str, config: dict[str, Any]
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    if "triggers" in config:
        validated: Any = await validate_automation(hass, "example", config)
    else:
        validated = await validate_script(hass, "example", config)
    assert validated is not None and validated.validation_error is None, validated
    for call in ours(config.get("actions", []) + config.get("sequence", [])):
        check(call)


def test_every_action_has_its_page() -> None:
    """A page per action: its fields table names the action's fields, in order, it has an
    example of the action, its list of gateways is current, and the README links it."""
    readme = read(ROOT / "README.md")
    assert set(SERVICES) == set(_ACTIONS) == set(ACTION_NEEDS)
    for action, service in SERVICES.items():
        page = DOCS / "actions" / f"{action}.md"
        text = read(page)
        assert text.startswith(f"# `whatsapp_gateway.{action}`\n"), action
        fields = text.split("## Fields", 1)[1].split("\n## ", 1)[0]
        assert re.findall(r"^\| `(\w+)` \|", fields, re.MULTILINE) == list(service["fields"])
        for section in ("## Response", "## Errors", "## Gateways", "## Example"):
            assert section in text, (action, section)
        assert action in calls_in(page), f"{action}.md has no example of it"
        assert with_gateways(text, action) == text, "run python -m devtools.capabilities --write"
        assert f"(docs/actions/{action}.md)" in readme
        assert f"({action}.md)" in read(DOCS / "actions" / "README.md")


def test_every_event_is_described() -> None:
    """Each event type has its section, and the message event's table names exactly its keys."""
    events = read(DOCS / "events.md")
    for event_type in (
        const.EVENT_MESSAGE_RECEIVED,
        const.EVENT_COMMAND_RECEIVED,
        const.EVENT_MESSAGE_STATUS,
        const.EVENT_CALL,
    ):
        assert f"\n## `{event_type}`\n" in events
    table = events.split(f"## `{const.EVENT_MESSAGE_RECEIVED}`", 1)[1].split("\n\n", 2)[1]
    listed = {
        key for row in table.splitlines()[2:] for key in re.findall(r"`(\w+)`", row.split("|")[1])
    }
    assert listed == EVENT_KEYS


def test_every_repair_issue_is_explained() -> None:
    """The troubleshooting page explains each repair issue by the title Home Assistant shows."""
    page = read(DOCS / "troubleshooting.md")
    english = texts("strings")
    for key, title in english.items():
        if key.startswith("issues.") and key.endswith(".title"):
            shown = title.replace("{title}", "…")
            assert f"**Shown as:** *{shown}*" in page, shown


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    text = re.sub(r"```.*?```", "", read(page), flags=re.DOTALL)
    for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_links_lead_somewhere(page: Path) -> None:
    """Every link to a file of the repository finds it, and every #anchor its heading."""
    text = re.sub(r"```.*?```", "", read(page), flags=re.DOTALL)
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{name(page)}: {link}"
        if anchor:
            assert anchor in anchors(target), f"{name(page)}: {link}"

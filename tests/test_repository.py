"""The repository is installable by HACS and loadable by Home Assistant."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.const import __version__ as ha_version

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / "whatsapp_gateway"


def test_manifest() -> None:
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    assert manifest["domain"] == INTEGRATION.name == "whatsapp_gateway"
    assert manifest["name"] == "WhatsApp Gateway"
    assert manifest["iot_class"] == "local_push"
    assert manifest["config_flow"] is True
    assert manifest["dependencies"] == ["http", "webhook"]
    assert manifest["after_dependencies"] == ["cloud"]
    assert manifest["requirements"] == []
    assert manifest["codeowners"] and manifest["version"]
    for key in ("documentation", "issue_tracker"):
        assert manifest[key].startswith("https://")


def test_hacs() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert set(hacs) <= {"name", "homeassistant", "hacs", "hide_default_branch", "country"}
    assert hacs["name"] == "WhatsApp Gateway"
    assert tuple(map(int, hacs["homeassistant"].split(".")[:2])) <= tuple(
        map(int, ha_version.split(".")[:2])
    )
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/develop" in readme and "scripts/test" in readme


def test_library_does_not_import_home_assistant() -> None:
    for source in (INTEGRATION / "gateway").glob("*.py"):
        text = source.read_text()
        assert "homeassistant" not in text, source.name

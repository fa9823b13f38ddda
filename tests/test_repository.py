"""The repository is installable by HACS and loadable by Home Assistant."""

from __future__ import annotations

import json
from pathlib import Path
import re

from homeassistant.const import __version__ as ha_version
import yaml

from devtools.capabilities import with_matrix

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


def test_documentation_rules_point_at_readme_sections() -> None:
    """Each docs-* rule marked done names the README section that fulfils it."""
    readme = (ROOT / "README.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#{2,3} (.+)$", readme, re.MULTILINE)
    }
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())["rules"]
    documented = {
        name: rule["comment"]
        for name, rule in rules.items()
        if name.startswith("docs-") and isinstance(rule, dict) and rule["status"] == "done"
    }
    assert len(documented) == 12
    for name, comment in documented.items():
        page, _, anchor = comment.partition("#")
        assert (page, anchor in anchors) == ("README.md", True), name


def test_readme_images_exist() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert len(images) >= 8
    for image in images:
        assert (ROOT / image).is_file(), image


def test_the_readme_holds_the_capability_matrix_of_the_descriptors() -> None:
    """`python -m devtools.capabilities --write` was run after the last capability change."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_matrix(readme) == readme
    assert "| `send_poll` | ✓ | \u2013 | \u2013 | \u2013 |" in readme

"""The checks hassfest and the quality-scale validators run on core, done here for our files."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest
import yaml

from custom_components.whatsapp_gateway.config_flow import NEW_ACCOUNT, account_step_id
from custom_components.whatsapp_gateway.gateway import GATEWAYS
from tests.translations import INTEGRATION, LANGUAGES, flatten, placeholders, texts

PLATFORMS = ("sensor", "event", "image", "notify")
URL = re.compile(r"https?://")

RULES = {
    # Bronze
    "action-setup", "appropriate-polling", "brands", "common-modules",
    "config-flow-test-coverage", "config-flow", "dependency-transparency", "docs-actions",
    "docs-conditions", "docs-high-level-description", "docs-installation-instructions",
    "docs-removal-instructions", "docs-triggers", "entity-event-setup", "entity-unique-id",
    "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
    "unique-config-entry",
    # Silver
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    # Gold
    "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
    "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
    "entity-category", "entity-device-class", "entity-disabled-by-default",
    "entity-translations", "exception-translations", "icon-translations",
    "reconfiguration-flow", "repair-issues", "stale-devices",
    # Platinum
    "async-dependency", "inject-websession", "strict-typing",
}  # fmt: skip


def load_json(name: str) -> Any:
    return json.loads((INTEGRATION / name).read_text())


def source(name: str) -> str:
    return (INTEGRATION / name).read_text()


def all_code() -> str:
    return "\n".join(path.read_text() for path in INTEGRATION.glob("*.py"))


STRINGS = load_json("strings.json")


def test_every_json_parses_and_translations_match_strings() -> None:
    for path in INTEGRATION.rglob("*.json"):
        json.loads(path.read_text())
    assert load_json("translations/en.json") == STRINGS


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_language_has_the_keys_and_placeholders_of_strings(language: str) -> None:
    english, translated = texts("strings"), texts(language)
    assert sorted(translated) == sorted(english)
    for key, text in english.items():
        assert placeholders(translated[key]) == placeholders(text), key
        # Markdown that makes a text readable (a code, a literal name) is kept too.
        for mark in ("`", "**"):
            assert translated[key].count(mark) == text.count(mark), (key, mark)
        assert translated[key].strip(), key
        # The frontend formats with ICU MessageFormat, where an apostrophe before a brace
        # quotes it: "l'{url}" would show the placeholder's name instead of its value.
        assert "'{" not in translated[key] and "'}" not in translated[key], key


def test_the_languages_are_the_files() -> None:
    files = sorted(path.stem for path in (INTEGRATION / "translations").glob("*.json"))
    assert files == sorted(LANGUAGES)


def test_manifest() -> None:
    manifest = load_json("manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:]), "keys after domain and name are sorted"
    assert manifest["domain"] == INTEGRATION.name
    for key in ("codeowners", "documentation", "iot_class", "issue_tracker", "version"):
        assert manifest[key]
    assert manifest["documentation"].startswith("https://")
    assert "home-assistant.io/integrations" not in manifest["documentation"]
    assert manifest["config_flow"] is True
    assert (INTEGRATION / "config_flow.py").exists()


def test_no_urls_in_translations() -> None:
    offenders = [
        text for language in LANGUAGES for text in texts(language).values() if URL.search(text)
    ]
    assert offenders == []


def test_every_form_field_is_described() -> None:
    sections = [STRINGS["config"]["step"], STRINGS["options"]["step"]]
    sections += [sub["step"] for sub in STRINGS["config_subentries"].values()]
    for steps in sections:
        for step_id, step in steps.items():
            assert set(step.get("data", {})) == set(step.get("data_description", {})), step_id


def test_services_match_translations_and_icons() -> None:
    services = yaml.safe_load(source("services.yaml"))
    icons = load_json("icons.json")
    assert set(services) == set(STRINGS["services"]) == set(icons["services"])
    for name, service in services.items():
        assert set(service["fields"]) == set(STRINGS["services"][name]["fields"]), name
        for field in service["fields"].values():
            selector = field["selector"]
            if key := (selector.get("select") or {}).get("translation_key"):
                options = set(STRINGS["selector"][key]["options"])
                assert set(selector["select"]["options"]) == options


def test_service_registration_needs_services_yaml() -> None:
    assert "async_register(" in source("services.py")
    assert (INTEGRATION / "services.yaml").exists()


def class_attributes(name: str, attribute: str) -> list[str]:
    """Values of a class attribute assigned in a module, e.g. `_attr_translation_key`."""
    tree = ast.parse(source(name))
    return [
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and any(isinstance(t, ast.Name) and t.id == attribute for t in node.targets)
    ]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_entity_translations_and_icons(platform: str) -> None:
    keys = set(class_attributes(f"{platform}.py", "_attr_translation_key"))
    assert keys, platform
    assert keys <= set(STRINGS["entity"][platform])
    icons = load_json("icons.json")["entity"][platform]
    assert keys == set(icons)
    assert all(icon.startswith("mdi:") for icon in flatten(icons).values())


@pytest.mark.parametrize("platform", PLATFORMS)
def test_parallel_updates(platform: str) -> None:
    tree = ast.parse(source(f"{platform}.py"))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "PARALLEL_UPDATES" in assigned


def test_translation_keys_in_code_exist() -> None:
    code = all_code()
    known = set(STRINGS["exceptions"]) | set(STRINGS["issues"]) | set(STRINGS["selector"])
    used = set(re.findall(r'translation_key="(\w+)"', code))
    used |= set(re.findall(r'_validation_error\(\s*"(\w+)"', code))
    assert used, "the pattern found nothing"
    assert used <= known, used - known
    assert set(STRINGS["exceptions"]) <= used, "every exception text is used"


def test_flow_errors_and_aborts_exist() -> None:
    code = source("config_flow.py")
    errors = set(re.findall(r'"base": "(\w+)"', code))
    for node in ast.walk(ast.parse(code)):
        # errors[...] = "key", or a conditional choosing between keys
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Subscript)
            and ast.unparse(node.targets[0].value) == "errors"
        ):
            formatted = {
                id(part)
                for text in ast.walk(node.value)
                if isinstance(text, ast.JoinedStr)
                for part in text.values
            }
            errors |= {
                const.value
                for const in ast.walk(node.value)
                if isinstance(const, ast.Constant)
                and isinstance(const.value, str)
                and id(const) not in formatted
            } - {NEW_ACCOUNT}
    # The gateways' own: a new account that cannot be added, credentials that are not enough.
    errors |= {
        f"cannot_add_{descriptor.accounts.noun}" for descriptor in GATEWAYS if descriptor.accounts
    }
    library = "".join(path.read_text() for path in (INTEGRATION / "gateway").glob("*.py"))
    incomplete = set(re.findall(r'CredentialsIncomplete\("(\w+)"\)', library))
    assert incomplete, "the pattern found nothing"
    errors |= incomplete
    known_errors = set(STRINGS["config"]["error"]) | set(
        STRINGS["config_subentries"]["chat"]["error"]
    )
    assert errors <= known_errors, errors - known_errors
    aborts = set(re.findall(r'reason="(\w+)"', code))
    known_aborts = set(STRINGS["config"]["abort"]) | set(
        STRINGS["config_subentries"]["chat"]["abort"]
    )
    assert aborts <= known_aborts, aborts - known_aborts
    progress = set(re.findall(r'self\._async_progress\("\w+", "(\w+)"', code))
    assert progress == set(STRINGS["config"]["progress"])


def test_setup_shape() -> None:
    """CONFIG_SCHEMA with async_setup; no action registered per entry; typed runtime data."""
    init = source("__init__.py")
    assert "CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)" in init
    for path in INTEGRATION.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.AsyncFunctionDef) and node.name == "async_setup_entry":
                body = ast.unparse(node)
                assert "async_register" not in body, path.name
                entry_arg = node.args.args[1]
                assert ast.unparse(entry_arg.annotation) == "WhatsAppConfigEntry", path.name
    assert "entry.runtime_data = " in init


def test_imported_components_are_dependencies() -> None:
    manifest = load_json("manifest.json")
    declared = set(manifest["dependencies"]) | set(manifest["after_dependencies"])
    # Entity platforms and helpers hassfest lets every integration use.
    allowed = {*PLATFORMS, "camera", "diagnostics", "media_source"}
    used = set(re.findall(r"homeassistant\.components(?:\.| import )(\w+)", all_code()))
    assert used - allowed <= declared, used - allowed - declared


def test_brand_images() -> None:
    for name, size in (("icon.png", 256), ("icon@2x.png", 512), ("logo.png", 256)):
        data = (INTEGRATION / "brand" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20]), int.from_bytes(data[20:24])
        assert (width, height) == (size, size), name


def test_quality_scale() -> None:
    rules = yaml.safe_load(source("quality_scale.yaml"))["rules"]
    assert set(rules) == RULES
    for rule, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in ("done", "todo", "exempt"), rule
        if status == "exempt":
            assert value["comment"], rule


@pytest.mark.parametrize("descriptor", GATEWAYS, ids=lambda descriptor: descriptor.kind)
def test_every_gateway_has_its_steps_translated(descriptor: Any) -> None:
    """The menu names each gateway; its credentials step labels and explains every box."""
    steps = STRINGS["config"]["step"]
    assert descriptor.kind in STRINGS["config"]["step"]["user"]["menu_options"]
    boxes = {box.key for box in descriptor.credentials}
    for step in (descriptor.kind, "reconfigure"):
        assert boxes <= set(steps[step]["data"]), step
        assert boxes <= set(steps[step]["data_description"]), step
    if descriptor.accounts is not None:
        step = account_step_id(descriptor)
        assert descriptor.accounts.option in steps[step]["data"]
        assert NEW_ACCOUNT in STRINGS["selector"][step]["options"]

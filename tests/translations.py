"""Our translations as the tests read them: every language, flattened to dotted keys."""

from __future__ import annotations

from functools import cache
import json
from pathlib import Path
import re
from typing import Any

INTEGRATION = Path(__file__).parent.parent / "custom_components" / "whatsapp_gateway"
# English first; the file names are the language codes Home Assistant's frontend uses.
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt-BR")
# `{name}` is filled in; `{{1}}` (a Cloud API template's own placeholder) is literal text.
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(tree, dict):
        return {
            key: text
            for name, value in tree.items()
            for key, text in flatten(value, f"{prefix}{name}.").items()
        }
    return {prefix.removesuffix("."): tree}


@cache
def texts(language: str) -> dict[str, str]:
    """`config.step.user.title` → the text, for one language (`strings` for strings.json)."""
    name = "strings.json" if language == "strings" else f"translations/{language}.json"
    return flatten(json.loads((INTEGRATION / name).read_text(encoding="utf-8")))


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def problems_with(key: str, given: dict[str, Any] | None) -> list[str]:
    """What is wrong with showing `key` with these placeholders, in any language."""
    found = []
    for language in LANGUAGES:
        text = texts(language).get(key)
        if text is None:
            found.append(f"{language}: no {key}")
        elif missing := placeholders(text) - set(given or {}):
            found.append(f"{language}: {key} needs {sorted(missing)}")
    return found

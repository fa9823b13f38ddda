"""Tolerant readers for gateway payloads.

Gateways change the case of their keys between versions and send numbers as strings or the
other way round. These helpers read what is there and never raise on a surprising shape;
`require_*` turn a missing essential field into one clear `GatewayResponseError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import json
import re
from typing import Any

from .errors import GatewayResponseError


def get(mapping: Any, *keys: str) -> Any:
    """The value of the first key present, matched case-insensitively; None if absent."""
    # dict first: the ABC check is slow, and JSON gives dicts (headers are other mappings).
    if not isinstance(mapping, dict) and not isinstance(mapping, Mapping):
        return None
    for key in keys:
        if key in mapping:
            return mapping[key]
    # Seldom needed, and on every message's path: compare without building a lowered copy.
    for key in keys:
        wanted = key.lower()
        for name, value in mapping.items():
            if isinstance(name, str) and name.lower() == wanted:
                return value
    return None


def get_str(mapping: Any, *keys: str) -> str | None:
    """A non-empty string (numbers are accepted and converted), else None."""
    value = get(mapping, *keys)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) and value else None


def get_bool(mapping: Any, *keys: str) -> bool:
    """A boolean flag; anything other than true (or "true") is false."""
    value = get(mapping, *keys)
    if isinstance(value, str):
        return value.lower() == "true"
    return value is True


def get_dict(mapping: Any, *keys: str) -> dict[str, Any]:
    """A nested object, or an empty dict when missing or not an object."""
    value = get(mapping, *keys)
    return value if isinstance(value, dict) else {}


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header, whatever the sender's casing of its name."""
    value = get(headers, name)
    return value if isinstance(value, str) else None


def get_list(mapping: Any, *keys: str) -> list[Any]:
    """A nested list, or an empty list when missing or not a list."""
    value = get(mapping, *keys)
    return value if isinstance(value, list) else []


def get_float(mapping: Any, *keys: str) -> float | None:
    """A number given as a number or as a numeric string."""
    value = get(mapping, *keys)
    if isinstance(value, bool):
        return None
    try:
        return float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None


def require_str(mapping: Any, *keys: str, what: str) -> str:
    """A string the payload cannot do without."""
    value = get_str(mapping, *keys)
    if value is None:
        raise GatewayResponseError(f"The gateway's {what} has no '{keys[0]}'")
    return value


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime from Unix seconds/milliseconds or an RFC 3339 string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # isascii: "²" is a digit to str.isdigit() but not to int().
        value = int(value) if len(value) < 20 else None
    if isinstance(value, int | float):
        try:
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        except OverflowError, OSError, ValueError:
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.year <= 1:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


# JSON may escape half of a UTF-16 surrogate pair ("\\ud800"), and Python's decoder lets raw
# surrogate bytes through too; such text cannot be encoded again (the event bus would fail).
# (Text handed in was decoded from UTF-8 strictly, so only the escapes can occur there.)
_SURROGATE_IN_BYTES = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def load_json(body: bytes | str, what: str) -> Any:
    """Decode JSON, turning every decoding problem into one clear error.

    Lone surrogates are replaced by U+FFFD, so every string that comes out can be encoded.
    """
    try:
        value = json.loads(body)
        if _may_hold_surrogates(body):
            value = _repair(value)
    except (ValueError, RecursionError) as err:
        raise GatewayResponseError(f"The {what} is not valid JSON") from err
    return value


def _may_hold_surrogates(body: bytes | str) -> bool:
    # The cheap test first: media bodies are megabytes of base64 without a "\\u".
    if isinstance(body, bytes):
        return (b"\\u" in body or b"\xed" in body) and bool(_SURROGATE_IN_BYTES.search(body))
    return "\\u" in body and bool(_SURROGATE_ESCAPE.search(body))


def _repair(value: Any) -> Any:
    """The same JSON value with every lone surrogate (in keys too) replaced."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_repair(item) for item in value]
    if isinstance(value, dict):
        return {_repair(key): _repair(item) for key, item in value.items()}
    return value

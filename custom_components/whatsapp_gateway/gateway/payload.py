"""Tolerant readers for gateway payloads.

Gateways change the case of their keys between versions and send numbers as strings or the
other way round. These helpers read what is there and never raise on a surprising shape;
`require_*` turn a missing essential field into one clear `GatewayResponseError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import json
from typing import Any

from .errors import GatewayResponseError


def get(mapping: Any, *keys: str) -> Any:
    """The value of the first key present, matched case-insensitively; None if absent."""
    if not isinstance(mapping, Mapping):
        return None
    for key in keys:
        if key in mapping:
            return mapping[key]
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for key in keys:
        if key.lower() in lowered:
            return lowered[key.lower()]
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
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
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


def load_json(body: bytes | str, what: str) -> Any:
    """Decode JSON, turning every decoding problem into one clear error."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as err:
        raise GatewayResponseError(f"The {what} is not valid JSON") from err

"""parse_webhook on hostile input: only ever GatewayResponseError, never KeyError or TypeError."""

from __future__ import annotations

import json
from typing import Any, cast

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.whatsapp_gateway.gateway import (
    Gateway,
    GatewayResponseError,
    InboundEvent,
    create_gateway,
)

from ..conftest import FIXTURES

NO_SESSION = cast("aiohttp.ClientSession", None)
GATEWAYS: dict[str, Gateway] = {
    "wuzapi": create_gateway("wuzapi", NO_SESSION, {"url": "http://w", "token": "t"}),
    "maytapi": create_gateway(
        "maytapi", NO_SESSION, {"product_id": "p", "api_key": "k", "phone_id": "12"}
    ),
}
PAYLOADS = [
    (path.name.split("_", 1)[0], json.loads(path.read_bytes()))
    for path in sorted(FIXTURES.glob("*.json"))
]
CONTENT_TYPES = st.sampled_from(
    [
        {},
        {"Content-Type": "application/json"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(gateway: Gateway, headers: dict[str, str], body: bytes) -> list[InboundEvent] | None:
    """Parse, and allow exactly one kind of failure."""
    try:
        return gateway.parse_webhook(headers, body)
    except GatewayResponseError:
        return None


@HYPOTHESIS
@given(kind=st.sampled_from(sorted(GATEWAYS)), headers=CONTENT_TYPES, body=st.binary(max_size=300))
def test_arbitrary_bytes(kind: str, headers: dict[str, str], body: bytes) -> None:
    parse(GATEWAYS[kind], headers, body)
    GATEWAYS[kind].verify_webhook(headers, body, "secret" if body[:1] == b"s" else None)


@HYPOTHESIS
@given(kind=st.sampled_from(sorted(GATEWAYS)), signature=st.text(max_size=70), body=st.binary())
def test_forged_signatures_are_rejected_without_error(
    kind: str, signature: str, body: bytes
) -> None:
    headers = {"Content-Type": "application/json", "x-hmac-signature": signature}
    accepted = GATEWAYS[kind].verify_webhook(headers, body, "k" * 32)
    assert accepted is (kind == "maytapi")  # Maytapi cannot sign; wuzapi rejects a wrong HMAC


@HYPOTHESIS
@given(kind=st.sampled_from(sorted(GATEWAYS)), headers=CONTENT_TYPES, value=JSON_VALUES)
def test_arbitrary_json(kind: str, headers: dict[str, str], value: Any) -> None:
    body = json.dumps(value).encode()
    parse(GATEWAYS[kind], headers, body)
    parse(GATEWAYS[kind], headers, b"jsonData=" + body)


def mutate(value: Any, path: list[int], replacement: Any, delete: bool) -> Any:
    """Replace (or delete) one node of a JSON document, chosen by the path of indexes."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    if delete and len(path) == 1:
        del copy[key]
    else:
        copy[key] = mutate(value[key], path[1:], replacement, delete)
    return copy


@HYPOTHESIS
@given(
    index=st.integers(min_value=0, max_value=len(PAYLOADS) - 1),
    path=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
    replacement=JSON_VALUES,
    delete=st.booleans(),
)
def test_mutated_real_payloads(index: int, path: list[int], replacement: Any, delete: bool) -> None:
    kind, payload = PAYLOADS[index]
    body = json.dumps(mutate(payload, path, replacement, delete)).encode()
    events = parse(GATEWAYS[kind], {"Content-Type": "application/json"}, body)
    for event in events or []:
        # Whatever survives parsing is a complete model, not a half-filled one.
        assert type(event).__name__ in {"IncomingMessage", "MessageStatusUpdate", "SessionEvent"}


def test_every_fixture_is_exercised() -> None:
    assert {kind for kind, _ in PAYLOADS} == {"wuzapi", "maytapi"}
    assert len(PAYLOADS) >= 25

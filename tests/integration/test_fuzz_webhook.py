"""Generated bodies through Home Assistant's real webhook: no crash, no error, no bad event.

The library's own fuzz test (tests/gateway/test_parse_property.py) drives 10,000 bodies per
gateway through verify and parse; this one sends a few hundred per gateway over HTTP into a
running Home Assistant, signed where the gateway signs, so that they reach the parser, the
event bus and the entities.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from typing import Any
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import json_bytes
import pytest

from custom_components.whatsapp_gateway.const import EVENT_MESSAGE_RECEIVED
from custom_components.whatsapp_gateway.gateway.base import hmac_sha256_hex
from tests.conftest import CLOUD, FIXTURES, HMAC_KEY, StartSimulator
from tests.gateway.test_parse_property import (
    CLOUDAPI_PAYLOADS,
    EVOLUTION_PAYLOADS,
    GREENAPI_PAYLOADS,
    WAHA_PAYLOADS,
)

from .conftest import Bus, setup_entry, start_kind
from .kinds import Kind

POSTS_PER_GATEWAY = 300
ODD = ["²", "1" * 400, 10**400, -1, 1e308, "\ud800", "a\udfffb", "", None, [], {}, True, "x" * 300]
SAMPLES: dict[str, list[Any]] = {
    "wuzapi": [json.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("wuzapi_*.json"))],
    "maytapi": [json.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("maytapi_*.json"))],
    "waabot": [
        {
            "event": "onMessage",
            "data": {
                "key": {"remoteJid": "2348179803743@s.whatsapp.net", "id": "B1"},
                "message": {"conversation": "hi"},
                "messageTimestamp": "1768469445",
            },
        }
    ],
    "waha": WAHA_PAYLOADS,
    "evolution": EVOLUTION_PAYLOADS,
    # Their files on a loopback port where nothing listens: no test may reach the internet.
    "cloudapi": CLOUDAPI_PAYLOADS,
    "greenapi": json.loads(
        json.dumps(GREENAPI_PAYLOADS).replace("https://", "http://127.0.0.1:9/")
    ),
}


def mutate(rng: random.Random, value: Any) -> Any:
    """The document with a few of its values, at any depth, replaced by odd ones."""
    if isinstance(value, dict):
        return {
            key: rng.choice(ODD) if rng.random() < 0.08 else mutate(rng, item)
            for key, item in value.items()
            if rng.random() > 0.03
        }
    if isinstance(value, list):
        return [mutate(rng, item) for item in value]
    return value


def body_for(rng: random.Random, kind: str) -> bytes:
    """A mutated real payload, sometimes plain garbage; wuzapi's in its form, signed."""
    if rng.random() < 0.1:
        return rng.randbytes(rng.randrange(200))
    text = json.dumps(mutate(rng, rng.choice(SAMPLES[kind])))
    if kind == "wuzapi":
        return urlencode({"jsonData": text, "userID": "u", "instanceName": "i"}).encode()
    return text.encode()


@pytest.mark.parametrize(
    "name", ["wuzapi", "maytapi", "waabot", "waha", "evolution", "greenapi", "cloudapi"]
)
async def test_generated_posts(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    bus: Bus,
    name: str,
) -> None:
    kind: Kind = await start_kind(name, start_simulator)
    await kind.link()
    entry = await setup_entry(hass, kind.entry())
    fired = bus.listen(EVENT_MESSAGE_RECEIVED)
    rng = random.Random(f"fuzz-{name}")
    statuses: dict[int, int] = {}
    content_type = "application/x-www-form-urlencoded" if name == "wuzapi" else "application/json"
    for _ in range(POSTS_PER_GATEWAY):
        body = body_for(rng, name)
        headers = {"Content-Type": content_type}
        if name == "wuzapi":
            headers["x-hmac-signature"] = hmac_sha256_hex(HMAC_KEY, body)
        if name == "greenapi":
            headers["Authorization"] = f"Bearer {HMAC_KEY}"
        if name == "cloudapi":  # Meta signs with the app secret
            signature = hmac.new(CLOUD.app_secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={signature}"
        if name == "waha":  # WAHA Plus
            headers["X-Webhook-Hmac"] = hmac.new(
                HMAC_KEY.encode(), body, hashlib.sha512
            ).hexdigest()
        response = await ha_client.post(
            f"/api/webhook/{entry.data['webhook_id']}", data=body, headers=headers
        )
        statuses[response.status] = statuses.get(response.status, 0) + 1
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(statuses) <= {200, 400, 401}
    assert statuses.get(200, 0) > POSTS_PER_GATEWAY // 10  # many reached the bus
    for event in fired:
        json_bytes(event.data)  # what the recorder and the websocket API will do with it
    # (no error may be logged: the autouse fixture of these tests checks)

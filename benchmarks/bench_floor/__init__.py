"""The benchmark's floor: Home Assistant's own webhook, with a handler that only fires.

It parses the post as little as needed to name its message and fires an event: as little as
an integration can do per message.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.config_entries import SOURCE_IMPORT, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.typing import ConfigType

DOMAIN = "bench_floor"
WEBHOOK_ID = "bench-floor"
EVENT = "bench_floor_received"


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Make the one entry (its reload is the floor of an entry's setup time)."""
    if not hass.config_entries.async_entries(DOMAIN):
        hass.async_create_task(
            hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_IMPORT})
        )
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Register the webhook."""
    webhook.async_register(hass, DOMAIN, "Benchmark floor", WEBHOOK_ID, _handle)
    entry.async_on_unload(lambda: webhook.async_unregister(hass, WEBHOOK_ID))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Nothing else to undo."""
    return True


async def _handle(hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
    """Parse a wuzapi form post as little as needed to name its message, and fire."""
    fields = parse_qs((await request.read()).decode())
    event = json.loads(fields["jsonData"][0])
    hass.bus.async_fire(EVENT, {"message_id": event["event"]["Info"]["ID"]})
    return web.Response(status=200)

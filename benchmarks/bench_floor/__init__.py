"""The benchmark's floor: Home Assistant's own webhook, with a handler that only fires.

It parses the post as little as needed to name its message and fires an event: as little as
an integration can do per message.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.config_entries import SOURCE_IMPORT, ConfigEntry
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

DOMAIN = "bench_floor"
WEBHOOK_ID = "bench-floor"
EVENT = "bench_floor_received"


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """The one entry, and an action that sends a file with as little as an integration can.

    The entry's reload is the floor of an entry's setup time; the action reads the file in
    the executor and posts it.
    """
    gateway, token = config[DOMAIN]["gateway"], config[DOMAIN]["token"]

    async def send_file(call: ServiceCall) -> None:
        path = str(call.data["file"])

        def read() -> bytes:
            if not hass.config.is_allowed_path(path):
                raise HomeAssistantError(f"{path} is not allowed")
            return Path(path).read_bytes()

        picture = base64.b64encode(await hass.async_add_executor_job(read)).decode()
        body = {
            "Phone": call.data["phone"],
            "Image": f"data:image/png;base64,{picture}",
            "Id": call.data["id"],
        }
        session = async_get_clientsession(hass)
        async with session.post(
            f"{gateway}/chat/send/image", json=body, headers={"Token": token}
        ) as response:
            await response.read()

    hass.services.async_register(DOMAIN, "send_file", send_file)
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

"""WhatsApp Gateway: WhatsApp accounts in Home Assistant through WhatsApp HTTP gateways."""

from typing import Any

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.typing import ConfigType

from .const import (
    CONF_KIND,
    CONF_MEDIA_KEEP_DAYS,
    CONF_MEDIA_MAX_MB,
    DEFAULT_MEDIA_KEEP_DAYS,
    DEFAULT_MEDIA_MAX_MB,
    DOMAIN,
)
from .coordinator import (
    InboundChannel,
    SessionCoordinator,
    WhatsAppConfigEntry,
    WhatsAppRuntimeData,
)
from .entity import account_device_info
from .gateway import OPTIONS_VERSION_KEY, GatewayError, GatewayUnsupported, gateway_descriptor
from .inbound import InboundRouter, async_forget_memory, async_get_memory
from .media_store import PRUNE_INTERVAL, async_remove_media, media_folder, prune
from .polling import MessagePoller, cursor_store, uses_polling
from .services import async_setup_services
from .webhook import WebhookReceiver, async_delete_cloudhook, async_unregister_webhook

PLATFORMS = [Platform.EVENT, Platform.IMAGE, Platform.NOTIFY, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, which serve every account."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: WhatsAppConfigEntry) -> bool:
    """Connect to the gateway, check the session, and start receiving."""
    try:
        descriptor = gateway_descriptor(entry.data[CONF_KIND])
        options = descriptor.options_from(entry.data)
    except (ValueError, GatewayUnsupported) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_config",
            translation_placeholders={"error": str(err)},
        ) from err
    if entry.data.get(OPTIONS_VERSION_KEY) != options.version:
        # Stored by an older version of the gateway's options: keep them in today's shape.
        hass.config_entries.async_update_entry(entry, data={**entry.data, **options.to_data()})
    gateway = descriptor.create(async_get_clientsession(hass), options)
    memory = await async_get_memory(hass, entry.entry_id)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **account_device_info(entry)
    )
    coordinator = SessionCoordinator(hass, entry, gateway, device.id)
    await coordinator.async_config_entry_first_refresh()
    router = InboundRouter(hass, entry, coordinator, memory)
    channel: InboundChannel = (
        MessagePoller(hass, entry, gateway, router)
        if uses_polling(hass, entry)
        else WebhookReceiver(hass, entry, gateway, router)
    )
    entry.runtime_data = WhatsAppRuntimeData(
        coordinator=coordinator, inbound=router, channel=channel
    )
    try:
        await channel.async_start()
    except GatewayError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="webhook_setup_failed",
            translation_placeholders={"error": str(err)},
        ) from err
    coordinator.inbound_check = channel.async_check
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await channel.async_start_receiving()
    _async_keep_media_in_bounds(hass, entry)
    return True


@callback
def _async_keep_media_in_bounds(hass: HomeAssistant, entry: WhatsAppConfigEntry) -> None:
    """Prune the saved media now and every few hours, as the options say."""
    folder = media_folder(hass, entry.entry_id)
    keep_days = int(entry.options.get(CONF_MEDIA_KEEP_DAYS, DEFAULT_MEDIA_KEEP_DAYS))
    max_bytes = int(entry.options.get(CONF_MEDIA_MAX_MB, DEFAULT_MEDIA_MAX_MB)) * 2**20

    async def async_prune(_: Any = None) -> None:
        await hass.async_add_executor_job(prune, folder, keep_days, max_bytes)

    entry.async_create_background_task(hass, async_prune(), f"{DOMAIN} prune media")
    entry.async_on_unload(
        async_track_time_interval(
            hass, async_prune, PRUNE_INTERVAL, cancel_on_shutdown=True, name=f"{DOMAIN} media"
        )
    )


async def async_unload_entry(hass: HomeAssistant, entry: WhatsAppConfigEntry) -> bool:
    """Stop receiving and unload the entities (the webhook goes with the entry's unload hooks)."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: WhatsAppConfigEntry) -> None:
    """Delete the webhook, the cloudhook, the polling position, the ids seen and the media."""
    async_unregister_webhook(hass, entry)
    await async_remove_media(hass, entry.entry_id)
    await async_delete_cloudhook(hass, entry)
    await cursor_store(hass, entry.entry_id).async_remove()
    await async_forget_memory(hass, entry.entry_id)

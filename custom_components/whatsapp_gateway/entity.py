"""The base entity: one device per WhatsApp account, entities fed by the session coordinator."""

from collections.abc import Callable
from typing import Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import CONF_KIND, DOMAIN
from .coordinator import SessionCoordinator, WhatsAppConfigEntry
from .gateway import gateway_descriptor
from .inbound import signal_message


def account_device_info(entry: WhatsAppConfigEntry) -> DeviceInfo:
    """The device standing for the WhatsApp account of an entry."""
    descriptor = gateway_descriptor(entry.data[CONF_KIND])
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer=descriptor.name,
        model="WhatsApp account",
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=descriptor.options_from(entry.data).configuration_url(),
    )


class WhatsAppEntity(CoordinatorEntity[SessionCoordinator]):
    """An entity of a WhatsApp account; unavailable while its gateway cannot be reached."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: SessionCoordinator,
        key: str,
        subentry: ConfigSubentry | None = None,
    ) -> None:
        super().__init__(coordinator)
        entry = coordinator.config_entry
        if subentry is None:
            self._attr_unique_id = f"{entry.unique_id}_{key}"
            self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, entry.entry_id)})
        else:
            # A chat gets its own device, linked to the account's.
            self._attr_unique_id = f"{entry.unique_id}_{subentry.subentry_id}_{key}"
            self._attr_device_info = DeviceInfo(
                identifiers={(DOMAIN, f"{entry.entry_id}_{subentry.subentry_id}")},
                name=subentry.title,
                manufacturer=gateway_descriptor(entry.data[CONF_KIND]).name,
                model="WhatsApp chat",
                entry_type=DeviceEntryType.SERVICE,
                via_device_id=coordinator.device_id,
            )

    def _async_listen_for_messages(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Call the handler with the event data of each new incoming message, until removed."""
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signal_message(self.coordinator.config_entry.entry_id), handler
            )
        )

"""The base entity: one device per WhatsApp account, entities fed by the session coordinator."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import CALLBACK_TYPE, HassJob, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.event import async_call_later
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


class CoalescedWrites:
    """Writes an entity's state at most once per `interval` seconds.

    A burst of changes is one write, of the last one. With `at_once`, a change after a quiet
    interval is written at once (and the rest of the burst at the interval's end); without,
    every write waits for the end of the interval.
    """

    def __init__(self, entity: Entity, interval: float, *, at_once: bool) -> None:
        self._entity = entity
        self._interval = interval
        self._at_once = at_once
        self._cancel_timer: CALLBACK_TYPE | None = None
        self._changed = False

    @callback
    def request(self) -> None:
        """The state changed: write it now or at the end of the interval."""
        if self._cancel_timer is not None:
            self._changed = True
        elif self._at_once:
            self._write()
        else:
            self._changed = True
            self._start_interval()

    @callback
    def cancel(self) -> None:
        """The entity is going: no write comes any more."""
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None

    def _start_interval(self) -> None:
        self._cancel_timer = async_call_later(
            self._entity.hass, self._interval, HassJob(self._interval_over, cancel_on_shutdown=True)
        )

    @callback
    def _interval_over(self, _: datetime) -> None:
        self._cancel_timer = None
        if self._changed:
            self._write()

    def _write(self) -> None:
        self._changed = False
        self._entity.async_write_ha_state()
        self._start_interval()

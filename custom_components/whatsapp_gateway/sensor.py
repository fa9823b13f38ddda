"""Sensors: the session state, the last incoming message and the inbound path's health."""

from datetime import datetime
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .const import HEALTH_WRITE_DELAY, LAST_MESSAGE_MAX_LENGTH, LAST_MESSAGE_WRITE_INTERVAL
from .coordinator import SessionCoordinator, WhatsAppConfigEntry
from .entity import CoalescedWrites, WhatsAppEntity
from .gateway import SessionState
from .inbound import InboundHealth

PARALLEL_UPDATES = 0

LAST_MESSAGE_ATTRIBUTES = (
    "message_id",
    "chat_id",
    "sender",
    "sender_name",
    "is_group",
    "kind",
    "timestamp",
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatsAppConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the account's sensors."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        [
            SessionSensor(coordinator),
            LastMessageSensor(coordinator),
            LastDeliverySensor(coordinator, entry.runtime_data.inbound.health),
        ]
    )


class SessionSensor(WhatsAppEntity, SensorEntity):
    """Whether the account is connected, waiting to be linked, logged out and so on."""

    _attr_translation_key = "session"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = [state.value for state in SessionState]
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, coordinator: SessionCoordinator) -> None:
        super().__init__(coordinator, "session")

    @property
    def native_value(self) -> str:
        """The session state."""
        return self.coordinator.data.state.value


class LastMessageSensor(WhatsAppEntity, SensorEntity, RestoreEntity):
    """The text of the last incoming message; kept across restarts.

    A burst of messages is written once, with its last message (at most one write per
    LAST_MESSAGE_WRITE_INTERVAL): the bus event and the event entity have every message.
    """

    _attr_translation_key = "last_message"

    def __init__(self, coordinator: SessionCoordinator) -> None:
        super().__init__(coordinator, "last_message")
        self._attr_extra_state_attributes: dict[str, Any] = {}

    async def async_added_to_hass(self) -> None:
        """Restore the last message and listen for new ones."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            self._attr_native_value = last.state
            self._attr_extra_state_attributes = {
                key: value
                for key in LAST_MESSAGE_ATTRIBUTES
                if (value := last.attributes.get(key)) is not None
            }
        writes = CoalescedWrites(self, LAST_MESSAGE_WRITE_INTERVAL, at_once=True)
        self._writes = writes
        self.async_on_remove(writes.cancel)
        self._async_listen_for_messages(self._on_message)

    @callback
    def _on_message(self, data: dict[str, Any]) -> None:
        text = data["text"] if data["text"] is not None else data["caption"]
        self._attr_native_value = None if text is None else text[:LAST_MESSAGE_MAX_LENGTH]
        self._attr_extra_state_attributes = {key: data[key] for key in LAST_MESSAGE_ATTRIBUTES}
        self._writes.request()


class LastDeliverySensor(WhatsAppEntity, SensorEntity):
    """When the gateway last delivered to us, and how many posts were refused since start.

    A gateway that shows "connected" but delivers nothing is seen here. Written at most once
    per HEALTH_WRITE_DELAY, so that a burst of messages is one state write.
    """

    _attr_translation_key = "last_delivery"
    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, coordinator: SessionCoordinator, health: InboundHealth) -> None:
        super().__init__(coordinator, "last_delivery")
        self._health = health

    async def async_added_to_hass(self) -> None:
        """Follow the health figures."""
        await super().async_added_to_hass()
        writes = CoalescedWrites(self, HEALTH_WRITE_DELAY, at_once=False)
        self.async_on_remove(writes.cancel)
        self.async_on_remove(self._health.listen(writes.request))

    @property
    def native_value(self) -> datetime | None:
        """The time of the last accepted post (or answered poll)."""
        return self._health.last_delivery

    @property
    def extra_state_attributes(self) -> dict[str, int]:
        """Refused posts since Home Assistant started."""
        return {f"refused_{reason}": count for reason, count in self._health.refused.items()}

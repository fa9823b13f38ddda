"""Sensors: the session state and the last incoming message."""

from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .const import LAST_MESSAGE_MAX_LENGTH
from .coordinator import SessionCoordinator, WhatsAppConfigEntry
from .entity import WhatsAppEntity
from .gateway import IncomingMessage, SessionState

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
    async_add_entities([SessionSensor(coordinator), LastMessageSensor(coordinator)])


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
    """The text of the last incoming message; kept across restarts."""

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
        self._async_listen_for_messages(self._on_message)

    @callback
    def _on_message(self, message: IncomingMessage) -> None:
        text = message.text if message.text is not None else message.caption
        self._attr_native_value = None if text is None else text[:LAST_MESSAGE_MAX_LENGTH]
        self._attr_extra_state_attributes = {
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "sender": message.sender,
            "sender_name": message.sender_name,
            "is_group": message.is_group,
            "kind": message.kind.value,
            "timestamp": message.timestamp.isoformat(),
        }
        self.async_write_ha_state()

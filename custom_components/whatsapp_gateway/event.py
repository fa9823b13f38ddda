"""The event entity: fires for every incoming message, with the message kind as event type.

A text that is a command ("/lights off") has the event type `command`, with its name and words.
"""

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import EVENT_TYPE_CALL, EVENT_TYPE_COMMAND
from .coordinator import SessionCoordinator, WhatsAppConfigEntry
from .entity import WhatsAppEntity
from .gateway import MessageKind
from .inbound import command_of, signal_call

PARALLEL_UPDATES = 0

# The part of a message's data the entity shows (the bus event carries all of it).
EVENT_ATTRIBUTES = (
    "message_id",
    "chat_id",
    "sender",
    "sender_name",
    "is_group",
    "text",
    "caption",
    "quoted_message_id",
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatsAppConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the account's message event entity."""
    async_add_entities([MessageEvent(entry.runtime_data.coordinator)])


class MessageEvent(WhatsAppEntity, EventEntity):
    """Incoming WhatsApp messages, for the UI's "event received" trigger."""

    _attr_translation_key = "message"
    _attr_event_types = [*(kind.value for kind in MessageKind), EVENT_TYPE_COMMAND, EVENT_TYPE_CALL]
    # Message content stays out of the recorder database.
    _unrecorded_attributes = frozenset({"text", "caption", "sender_name"})

    def __init__(self, coordinator: SessionCoordinator) -> None:
        super().__init__(coordinator, "message")

    async def async_added_to_hass(self) -> None:
        """Listen for the entry's messages."""
        await super().async_added_to_hass()
        self._async_listen_for_messages(self._on_message)
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signal_call(self.coordinator.config_entry.entry_id), self._on_call
            )
        )

    @callback
    def _on_call(self, data: dict[str, Any]) -> None:
        self._trigger_event(
            EVENT_TYPE_CALL, {key: data[key] for key in ("call_id", "caller", "caller_id", "state")}
        )
        self.async_write_ha_state()

    @callback
    def _on_message(self, data: dict[str, Any]) -> None:
        attributes = {key: data[key] for key in EVENT_ATTRIBUTES}
        if (command := command_of(data)) is None:
            self._trigger_event(data["kind"], attributes)
        else:
            name, args = command
            self._trigger_event(EVENT_TYPE_COMMAND, attributes | {"command": name, "args": args})
        self.async_write_ha_state()

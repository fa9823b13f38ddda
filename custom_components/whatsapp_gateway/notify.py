"""A notify entity per chat subentry: `notify.send_message` writes to that chat."""

from homeassistant.components.notify import NotifyEntity
from homeassistant.components.notify.const import NotifyEntityFeature
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_CHAT_ID, SUBENTRY_CHAT
from .coordinator import SessionCoordinator, WhatsAppConfigEntry
from .entity import WhatsAppEntity
from .gateway import Gateway, SentMessage
from .sending import async_send_each

# One send at a time per chat keeps messages in order.
PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatsAppConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a notify entity for each chat subentry."""
    coordinator = entry.runtime_data.coordinator
    for subentry_id, subentry in entry.subentries.items():
        if subentry.subentry_type == SUBENTRY_CHAT:
            async_add_entities([ChatNotify(coordinator, subentry)], config_subentry_id=subentry_id)


class ChatNotify(WhatsAppEntity, NotifyEntity):
    """Sends to one contact or group; a title is sent in bold above the message."""

    _attr_translation_key = "chat"
    _attr_name = None
    _attr_supported_features = NotifyEntityFeature.TITLE

    def __init__(self, coordinator: SessionCoordinator, subentry: ConfigSubentry) -> None:
        super().__init__(coordinator, "notify", subentry)
        self.chat_id: str = subentry.data[CONF_CHAT_ID]

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Send the message to the chat."""
        text = f"*{title}*\n{message}" if title else message

        async def send(gateway: Gateway, target: str, message_id: str | None) -> SentMessage:
            return await gateway.send_text(target, text, message_id=message_id)

        await async_send_each(self.hass, self.coordinator.config_entry, [self.chat_id], send)

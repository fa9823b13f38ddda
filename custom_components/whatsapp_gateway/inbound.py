"""Routes what a gateway delivers: bus events, entity updates and session changes.

Everything here runs in the event loop without I/O, except saving inline media of a
message, which goes to the executor before that message's event fires.
"""

from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
import re
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .const import (
    CONF_FIRE_OWN_MESSAGES,
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
    EVENT_MESSAGE_STATUS,
    LOGGER,
    SEEN_MESSAGES,
)
from .coordinator import SessionCoordinator, WhatsAppConfigEntry
from .gateway import InboundEvent, IncomingMessage, MessageStatusUpdate, SessionEvent

MEDIA_FOLDER = "whatsapp_gateway"
_UNSAFE_FILENAME = re.compile(r"[^\w.\-]+")


def signal_message(entry_id: str) -> str:
    """Dispatcher signal carrying each new incoming message of an entry."""
    return f"{DOMAIN}_{entry_id}_message"


class RecentIds:
    """A bounded set of recently seen keys: O(1) checks, oldest forgotten first."""

    def __init__(self, size: int = SEEN_MESSAGES) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, key: str) -> bool:
        """Remember a key; False when it was already there."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._keys)


class InboundRouter:
    """Turns parsed gateway events into what Home Assistant users see, each one once."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatsAppConfigEntry,
        coordinator: SessionCoordinator,
        device_id: str,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._coordinator = coordinator
        self._device_id = device_id
        # Saved where the media browser's "Local media" looks, so it can be sent on.
        media_root = hass.config.media_dirs.get("local") or hass.config.path("media")
        self._media_dir = Path(media_root, MEDIA_FOLDER, entry.entry_id)
        self.messages = RecentIds()
        self.statuses = RecentIds()

    @callback
    def async_dispatch(self, events: Iterable[InboundEvent]) -> None:
        """Handle what one webhook post (or poll) delivered."""
        for event in events:
            match event:
                case IncomingMessage():
                    self._message(event)
                case MessageStatusUpdate():
                    self._status(event)
                case SessionEvent():
                    self._coordinator.async_handle_session_event(event)

    def _message(self, message: IncomingMessage) -> None:
        if not self.messages.add(message.message_id):
            LOGGER.debug("Message %s was delivered again; ignored", message.message_id)
            return
        if message.from_me and not self._entry.options.get(CONF_FIRE_OWN_MESSAGES, False):
            return
        if message.media is not None and message.media.data is not None:
            self._entry.async_create_background_task(
                self._hass, self._fire_with_media(message), f"{DOMAIN} save media"
            )
            return
        self._fire(message, None)

    async def _fire_with_media(self, message: IncomingMessage) -> None:
        try:
            path: str | None = await self._hass.async_add_executor_job(self._save_media, message)
        except OSError as err:
            LOGGER.warning("Could not save the media of an incoming message: %s", err)
            path = None
        self._fire(message, path)

    def _save_media(self, message: IncomingMessage) -> str:
        assert message.media is not None
        assert message.media.data is not None
        name = _UNSAFE_FILENAME.sub("_", message.media.filename or "") or message.kind.value
        target = self._media_dir / f"{_UNSAFE_FILENAME.sub('_', message.message_id)}-{name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(message.media.data)
        return str(target)

    def _fire(self, message: IncomingMessage, media_path: str | None) -> None:
        self._hass.bus.async_fire(EVENT_MESSAGE_RECEIVED, self._event_data(message, media_path))
        async_dispatcher_send(self._hass, signal_message(self._entry.entry_id), message)

    def _event_data(self, message: IncomingMessage, media_path: str | None) -> dict[str, Any]:
        """The documented keys of `whatsapp_gateway_message_received`, and only those."""
        media = message.media
        location = message.location
        return {
            "config_entry_id": self._entry.entry_id,
            "device_id": self._device_id,
            "account": self._entry.unique_id,
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "sender": message.sender,
            "sender_id": message.sender_id,
            "sender_name": message.sender_name,
            "is_group": message.is_group,
            "from_me": message.from_me,
            "kind": message.kind.value,
            "text": message.text,
            "caption": message.caption,
            "media": None
            if media is None
            else {
                "mime_type": media.mime_type,
                "filename": media.filename,
                "url": media.url,
                "path": media_path,
            },
            "location": None
            if location is None
            else {
                "latitude": location.latitude,
                "longitude": location.longitude,
                "name": location.name,
            },
            "quoted_message_id": message.quoted_message_id,
            "timestamp": message.timestamp.isoformat(),
        }

    def _status(self, update: MessageStatusUpdate) -> None:
        for message_id in update.message_ids:
            if not self.statuses.add(f"{message_id}:{update.status}"):
                continue
            self._hass.bus.async_fire(
                EVENT_MESSAGE_STATUS,
                {
                    "config_entry_id": self._entry.entry_id,
                    "message_id": message_id,
                    "chat_id": update.chat_id,
                    "status": update.status.value,
                },
            )

"""Routes what a gateway delivers: bus events, entity updates and session changes.

Everything here runs in the event loop without I/O, except saving the media of a message
(fetched from the gateway first when it was not inlined), which happens before that
message's event fires.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
import re
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    CONF_FIRE_OWN_MESSAGES,
    CONF_GROUPS_MENTIONED_ONLY,
    CONF_MARK_READ,
    DOMAIN,
    EVENT_CALL,
    EVENT_COMMAND_RECEIVED,
    EVENT_MESSAGE_RECEIVED,
    EVENT_MESSAGE_STATUS,
    LOGGER,
    SEEN_MESSAGES,
)
from .coordinator import SessionCoordinator, WhatsAppConfigEntry
from .gateway import (
    Capability,
    DeliveryStatus,
    GatewayError,
    InboundEvent,
    InboundMedia,
    IncomingCall,
    IncomingMessage,
    MessageKind,
    MessageStatusUpdate,
    Poll,
    SessionEvent,
)
from .media_store import media_folder

_UNSAFE_FILENAME = re.compile(r"[^\w.\-]+")
MEMORY_KEY = f"{DOMAIN}_inbound_memory"
STORAGE_VERSION = 1
# Seen ids are saved at most this often (and when Home Assistant stops).
SAVE_DELAY = 10
# Catching up after a restart starts this long before the last save of the previous run.
CATCH_UP_OVERLAP = timedelta(minutes=2)


def command_of(data: dict[str, Any]) -> tuple[str, list[str]] | None:
    """A text message that starts with "/" is a command: its name and its words after it.

    The name is lower case ("/Lights off" from a phone that capitalises is "/lights").
    """
    text = data["text"]
    if data["kind"] != "text" or not text or not text.startswith("/"):
        return None
    name, *args = text.split()
    return (name.lower(), args) if len(name) > 1 else None


def signal_call(entry_id: str) -> str:
    """Dispatcher signal carrying each call to an entry (its event data)."""
    return f"{DOMAIN}_{entry_id}_call"


def signal_message(entry_id: str) -> str:
    """Dispatcher signal carrying each new incoming message of an entry (its event data)."""
    return f"{DOMAIN}_{entry_id}_message"


class RecentIds:
    """A bounded set of recently seen keys: O(1) checks, oldest forgotten first."""

    def __init__(self, keys: Iterable[str] = (), size: int = SEEN_MESSAGES) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict.fromkeys(list(keys)[-size:])
        self._size = size

    def add(self, key: str) -> bool:
        """Remember a key; False when it was already there."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True

    def __contains__(self, key: object) -> bool:
        """Whether the key was seen recently."""
        return key in self._keys

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._keys)

    def keys(self) -> list[str]:
        """The keys, oldest first."""
        return list(self._keys)


class Refusal(StrEnum):
    """Why a webhook post was refused."""

    SIGNATURE = "signature"
    UNSIGNED = "unsigned"
    PARSE = "parse"
    TOO_LARGE = "too_large"


@dataclass
class InboundHealth:
    """What came in since Home Assistant started, for the diagnostic sensor."""

    last_delivery: datetime | None = None
    refused: dict[Refusal, int] = field(default_factory=lambda: dict.fromkeys(Refusal, 0))
    _listeners: list[CALLBACK_TYPE] = field(default_factory=list)

    def delivered(self) -> None:
        """The gateway delivered (a post was accepted, or a poll answered)."""
        self.last_delivery = dt_util.utcnow()
        self._changed()

    def refuse(self, reason: Refusal) -> None:
        """A post was refused."""
        self.refused[reason] += 1
        self._changed()

    def listen(self, listener: CALLBACK_TYPE) -> Callable[[], None]:
        """Call the listener on every change, until the returned function is called."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


class InboundMemory:
    """What an entry's inbound path keeps across reloads, and (saved) across restarts.

    Message ids seen recently, so that a redelivery after a reload or a restart fires
    nothing; and the health figures. Kept in hass.data until the entry is removed.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.inbound"
        )
        self.messages = RecentIds()
        self.statuses = RecentIds()
        # Who is who: a sender's LID and phone number, as messages that carried both told.
        self.phones_by_lid: dict[str, str] = {}
        self._lids_by_phone: dict[str, str] = {}
        # The polls sent and received, by message id, so that a vote can name its options.
        self.polls: dict[str, Poll] = {}
        self.health = InboundHealth()
        self._save_pending = False
        # When an earlier run last saved (so was still receiving); None before the first run.
        self.last_running: datetime | None = None
        # Whether what the gateway posted while Home Assistant was down was fetched already.
        self.caught_up = False

    async def async_load(self) -> None:
        """Read what an earlier run saved."""
        stored = await self._store.async_load() or {}
        self.messages = RecentIds(_strings(stored.get("messages")))
        self.statuses = RecentIds(_strings(stored.get("statuses")))
        lids = stored.get("phones_by_lid")
        if isinstance(lids, dict):
            for lid, phone in lids.items():
                if isinstance(lid, str) and isinstance(phone, str):
                    self._pair(lid, phone)
        polls = stored.get("polls")
        if isinstance(polls, dict):
            for poll_id, poll in polls.items():
                if isinstance(poll, dict) and isinstance(poll_id, str):
                    question = poll.get("question")
                    self.polls[poll_id] = Poll(
                        question if isinstance(question, str) else None,
                        tuple(_strings(poll.get("options"))),
                    )
        last = stored.get("last_running")
        self.last_running = dt_util.parse_datetime(last) if isinstance(last, str) else None

    def identify(self, lid: str | None, phone: str | None) -> tuple[str | None, str | None]:
        """A sender's LID and number, each filled in from the other where known.

        A message that carries both tells the pair, which is remembered (the oldest pair is
        forgotten past the cap).
        """
        if lid and phone:
            if self.phones_by_lid.get(lid) != phone:
                self._pair(lid, phone)
                self.async_schedule_save()
            return lid, phone
        if lid:
            return lid, self.phones_by_lid.get(lid)
        if phone:
            return self._lids_by_phone.get(phone), phone
        return None, None

    def _pair(self, lid: str, phone: str) -> None:
        """Remember that a LID and a number are one person (what was loaded is not saved again)."""
        self.phones_by_lid[lid] = phone
        self._lids_by_phone[phone] = lid
        if len(self.phones_by_lid) > SEEN_MESSAGES:
            oldest = next(iter(self.phones_by_lid))
            self._lids_by_phone.pop(self.phones_by_lid.pop(oldest), None)

    def remember_poll(self, message_id: str, poll: Poll) -> None:
        """Keep a poll's question and options (the oldest are forgotten past the cap)."""
        self.polls[message_id] = Poll(poll.question, poll.options)
        if len(self.polls) > POLLS_KEPT:
            del self.polls[next(iter(self.polls))]
        self.async_schedule_save()

    @callback
    def async_schedule_save(self) -> None:
        """Save within SAVE_DELAY; a burst of messages is one write.

        Scheduled once until it is written: each call postponing it would never save while
        messages keep coming.
        """
        if not self._save_pending:
            self._save_pending = True
            self._store.async_delay_save(self._data, SAVE_DELAY)

    def _data(self) -> dict[str, Any]:
        # Written while running, and at the final write when Home Assistant stops.
        self._save_pending = False
        return {
            "messages": self.messages.keys(),
            "statuses": self.statuses.keys(),
            "phones_by_lid": self.phones_by_lid,
            "polls": {
                poll_id: {"question": poll.question, "options": list(poll.options)}
                for poll_id, poll in self.polls.items()
            },
            "last_running": dt_util.utcnow().isoformat(),
        }

    async def async_remove(self) -> None:
        """Delete the saved ids (the entry is gone)."""
        await self._store.async_remove()


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


async def async_get_memory(hass: HomeAssistant, entry_id: str) -> InboundMemory:
    """The entry's inbound memory, loaded on first use."""
    memories: dict[str, InboundMemory] = hass.data.setdefault(MEMORY_KEY, {})
    if (memory := memories.get(entry_id)) is None:
        memory = InboundMemory(hass, entry_id)
        await memory.async_load()
        memories[entry_id] = memories.get(entry_id) or memory
    return memories[entry_id]


async def async_forget_memory(hass: HomeAssistant, entry_id: str) -> None:
    """Drop and delete the memory of a removed entry."""
    memory = hass.data.get(MEMORY_KEY, {}).pop(entry_id, None) or InboundMemory(hass, entry_id)
    await memory.async_remove()


# How far a message got, in order: a receipt of a later status also means the earlier ones.
DELIVERY_ORDER: tuple[DeliveryStatus, ...] = (
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
    DeliveryStatus.PLAYED,
)
# The tags given to sent messages are kept for this many messages.
TAGGED_MESSAGES = 1024
# Polls remembered per account, for naming the options of votes.
POLLS_KEPT = 256


class InboundRouter:
    """Turns parsed gateway events into what Home Assistant users see, each one once."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatsAppConfigEntry,
        coordinator: SessionCoordinator,
        memory: InboundMemory,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._coordinator = coordinator
        self._memory = memory
        self._media_dir = media_folder(hass, entry.entry_id)
        # Sends waiting for a receipt: message id → (the status waited for, its future).
        self._waiting: dict[str, list[tuple[DeliveryStatus, asyncio.Future[DeliveryStatus]]]] = {}
        self._tags: OrderedDict[str, str] = OrderedDict()
        # Why messages failed, where the gateway said (for the error of a send that waited).
        self._failures: OrderedDict[str, str] = OrderedDict()

    @callback
    def remember_poll(self, message_id: str, poll: Poll) -> None:
        """A poll we sent: its votes will name the options."""
        self._memory.remember_poll(message_id, poll)

    def async_tag(self, message_id: str, tag: str) -> None:
        """Carry `tag` in the status events of a message sent."""
        self._tags[message_id] = tag
        if len(self._tags) > TAGGED_MESSAGES:
            self._tags.popitem(last=False)

    def failure_of(self, message_id: str) -> str | None:
        """Why the gateway said a message failed, if it said."""
        return self._failures.get(message_id)

    def reached(self, message_id: str) -> DeliveryStatus | None:
        """The furthest status a receipt reported for a sent message, if any."""
        if f"{message_id}:{DeliveryStatus.FAILED}" in self.statuses:
            return DeliveryStatus.FAILED
        for status in reversed(DELIVERY_ORDER):
            if f"{message_id}:{status}" in self.statuses:
                return status
        return None

    async def async_wait_for(self, message_id: str, wanted: DeliveryStatus) -> DeliveryStatus:
        """The status of the first receipt that reaches `wanted` (or says it failed).

        Cancel it to stop waiting.
        """
        if (reached := self.reached(message_id)) is not None and _reaches(reached, wanted):
            return reached
        future: asyncio.Future[DeliveryStatus] = self._hass.loop.create_future()
        waiting = self._waiting.setdefault(message_id, [])
        waiting.append((wanted, future))
        try:
            return await future
        finally:
            waiting.remove((wanted, future))
            if not waiting:
                del self._waiting[message_id]

    @property
    def messages(self) -> RecentIds:
        """Ids of the messages seen recently."""
        return self._memory.messages

    def ids_of(self, chat_id: str) -> set[str]:
        """A person's chat ids: by number and by LID, where a message told both."""
        ids = {chat_id}
        if chat_id.endswith("@lid"):
            if phone := self._memory.phones_by_lid.get(chat_id):
                ids.add(f"{phone}@s.whatsapp.net")
        else:
            lid, _ = self._memory.identify(None, chat_id.split("@")[0])
            if lid:
                ids.add(lid)
        return ids

    @property
    def statuses(self) -> RecentIds:
        """Delivery updates seen recently."""
        return self._memory.statuses

    @property
    def health(self) -> InboundHealth:
        """What came in since Home Assistant started."""
        return self._memory.health

    @callback
    def async_note_running(self) -> None:
        """Save soon, which records that Home Assistant was receiving until now."""
        self._memory.async_schedule_save()

    async def async_catch_up(self) -> None:
        """Fire what the gateway posted while Home Assistant was down, once after a start.

        Reloads need no catch-up: their posts were held.
        """
        memory = self._memory
        since, first = memory.last_running, not memory.caught_up
        memory.caught_up = True
        memory.async_schedule_save()
        gateway = self._coordinator.gateway
        if not first or since is None or Capability.CATCH_UP not in gateway.capabilities:
            return
        try:
            events = await gateway.missed_events(since - CATCH_UP_OVERLAP)
        except GatewayError as err:
            LOGGER.warning(
                "Could not ask the gateway of %s what arrived while Home Assistant was "
                "stopped; such messages are not fired: %s",
                self._entry.title,
                err,
            )
            return
        # Ids seen before the stop were saved: those fire nothing.
        self.async_dispatch(events)

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
                    if event.lid and event.phone:
                        # Our own LID: groups addressed by LID mention us by it.
                        self._memory.identify(event.lid, event.phone)
                    self._coordinator.async_handle_session_event(event)
                case IncomingCall():
                    self._call(event)

    def _call(self, call: IncomingCall) -> None:
        state = "ended" if call.ended else "ringing"
        if not self.messages.add(f"call:{call.call_id}:{state}"):
            return
        data = {
            "config_entry_id": self._entry.entry_id,
            "device_id": self._coordinator.device_id,
            "account": self._entry.unique_id,
            "call_id": call.call_id,
            "caller": call.caller,
            "caller_id": call.caller_id,
            "state": state,
            "timestamp": (call.timestamp or dt_util.utcnow()).isoformat(),
        }
        self._hass.bus.async_fire(EVENT_CALL, data)
        async_dispatcher_send(self._hass, signal_call(self._entry.entry_id), data)

    def _message(self, message: IncomingMessage) -> None:
        if not self.messages.add(message.message_id):
            LOGGER.debug("Message %s was delivered again; ignored", message.message_id)
            return
        self._memory.async_schedule_save()
        # Learnt from every message, our own too: that is how we learn our own LID.
        self._memory.identify(message.sender_lid, message.sender)
        if message.kind is MessageKind.POLL and message.poll is not None:
            self._memory.remember_poll(message.message_id, message.poll)
        if message.from_me and not self._entry.options.get(CONF_FIRE_OWN_MESSAGES, False):
            return
        if (
            message.is_group
            and not message.from_me
            and self._entry.options.get(CONF_GROUPS_MENTIONED_ONLY, False)
            and not self._mentions_us(message)
        ):
            LOGGER.debug("Group message %s does not mention us; ignored", message.message_id)
            return
        media = message.media
        if media is not None and (media.data is not None or self._can_download(media)):
            self._entry.async_create_background_task(
                self._hass, self._fire_with_media(message), f"{DOMAIN} save media"
            )
            return
        self._fire(message, None)

    def _mentions_us(self, message: IncomingMessage) -> bool:
        """Whether the message mentions this account, by its number or by its LID.

        Until our own LID is known (told at pairing, or by a message our phone sent in a group
        that goes by LIDs), a mention of a LID that is nobody we know may be us: it passes.
        """
        mentions = message.mentions
        phone = self._coordinator.own_phone
        if phone is None or phone in mentions:
            return True
        lid, _ = self._memory.identify(None, phone)
        if lid is not None:
            return lid in mentions
        return any(
            person.endswith("@lid") and self._memory.identify(person, None)[1] is None
            for person in mentions
        )

    async def _async_mark_read(self, message: IncomingMessage) -> None:
        """Blue ticks for a message Home Assistant took (the mark_read option)."""
        gateway = self._coordinator.gateway
        sender = message.sender_id if message.is_group else None
        try:
            await gateway.mark_read(message.chat_id, [message.message_id], sender=sender)
        except GatewayError as err:
            LOGGER.warning(
                "Could not mark message %s in %s as read: %s",
                message.message_id,
                message.chat_id,
                err,
            )

    def _can_download(self, media: InboundMedia) -> bool:
        gateway = self._coordinator.gateway
        return media.download is not None and Capability.MEDIA_DOWNLOAD in gateway.capabilities

    async def _fire_with_media(self, message: IncomingMessage) -> None:
        """Save the media (fetching it first when it was not inlined), then fire.

        The message fires whatever happens to its media: without a path if that failed.
        """
        assert message.media is not None
        path: str | None = None
        try:
            if message.media.data is None:
                media = await self._coordinator.gateway.download_media(message.media)
                message = replace(message, media=media)
            path = await self._hass.async_add_executor_job(self._save_media, message)
        except GatewayError as err:
            LOGGER.warning(
                "Could not fetch the media of message %s from the gateway: %s",
                message.message_id,
                err,
            )
        except OSError as err:
            LOGGER.warning("Could not save the media of an incoming message: %s", err)
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
        # Built once: the entities take their parts of the same data.
        data = self._event_data(message, media_path)
        self._hass.bus.async_fire(EVENT_MESSAGE_RECEIVED, data)
        if self._entry.options.get(CONF_MARK_READ) and not message.from_me:
            self._entry.async_create_background_task(
                self._hass, self._async_mark_read(message), f"{DOMAIN} mark read"
            )
        if (command := command_of(data)) is not None:
            name, args = command
            self._hass.bus.async_fire(
                EVENT_COMMAND_RECEIVED, {**data, "command": name, "args": args}
            )
        # The entities' work comes after: the webhook answers and the event goes out first.
        self._hass.loop.call_soon(
            async_dispatcher_send, self._hass, signal_message(self._entry.entry_id), data
        )

    def _event_data(self, message: IncomingMessage, media_path: str | None) -> dict[str, Any]:
        """The documented keys of `whatsapp_gateway_message_received`, and only those.

        The last-message sensor and the event entity take their parts of the same data.
        """
        media = message.media
        location = message.location
        contact = message.contact
        sender_lid, sender = self._memory.identify(message.sender_lid, message.sender)
        poll = self._poll_data(message)
        text = message.text
        if message.kind is MessageKind.POLL_VOTE and poll is not None:
            # The options chosen, as a text: a single-answer vote reads as its option.
            text = ", ".join(poll["selected"]) or None
        return {
            "config_entry_id": self._entry.entry_id,
            "device_id": self._coordinator.device_id,
            "account": self._entry.unique_id,
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "sender": sender,
            "sender_lid": sender_lid,
            "sender_id": message.sender_id,
            "sender_name": message.sender_name,
            "is_group": message.is_group,
            "from_me": message.from_me,
            "kind": message.kind.value,
            "text": text,
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
            "contact": None if contact is None else {"name": contact.name, "vcard": contact.vcard},
            "quoted_message_id": message.quoted_message_id,
            "mentions": list(message.mentions),
            "poll": poll,
            "timestamp": message.timestamp.isoformat(),
        }

    def _poll_data(self, message: IncomingMessage) -> dict[str, Any] | None:
        """A poll's question and options; for a vote, those of the poll and the options chosen."""
        poll = message.poll
        if poll is None:
            return None
        if message.kind is not MessageKind.POLL_VOTE:
            return {"question": poll.question, "options": list(poll.options), "selected": []}
        voted_on = self._memory.polls.get(message.quoted_message_id or "") or Poll()
        return {
            "question": voted_on.question,
            "options": list(voted_on.options),
            "selected": list(poll.chosen_of(voted_on.options)),
        }

    def _status(self, update: MessageStatusUpdate) -> None:
        for message_id in update.message_ids:
            if not self.statuses.add(f"{message_id}:{update.status}"):
                continue
            self._memory.async_schedule_save()
            if update.error:
                self._failures[message_id] = update.error
                if len(self._failures) > TAGGED_MESSAGES:
                    self._failures.popitem(last=False)
            self._hass.bus.async_fire(
                EVENT_MESSAGE_STATUS,
                {
                    "config_entry_id": self._entry.entry_id,
                    "message_id": message_id,
                    "chat_id": update.chat_id,
                    "status": update.status.value,
                    "error": update.error,
                    "message_tag": self._tags.get(message_id),
                },
            )
            for wanted, future in self._waiting.get(message_id, ()):
                if not future.done() and _reaches(update.status, wanted):
                    future.set_result(update.status)


def _reaches(status: DeliveryStatus, wanted: DeliveryStatus) -> bool:
    """Whether a receipt of `status` ends a wait for `wanted` (a failure ends every wait)."""
    if status is DeliveryStatus.FAILED:
        return True
    return DELIVERY_ORDER.index(status) >= DELIVERY_ORDER.index(wanted)

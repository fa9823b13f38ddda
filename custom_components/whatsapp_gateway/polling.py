"""Polling for messages, for gateways that keep a numbered message log.

The cursor is saved in a Home Assistant store after the messages it covers have fired, so a
restart goes on exactly where it stopped: nothing is lost and nothing fires twice.
"""

from datetime import datetime
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store

from .const import (
    CONF_INBOUND_MODE,
    CONF_KIND,
    CONF_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
    LOGGER,
    MAX_POLL_BACKOFF,
    InboundMode,
)
from .coordinator import WhatsAppConfigEntry
from .gateway import Capability, Gateway, GatewayError, gateway_descriptor
from .inbound import InboundRouter
from .webhook import reachable

STORAGE_VERSION = 1
# Polls in a row while the gateway keeps handing out events; then the timer takes over.
MAX_BATCHES_PER_POLL = 50


def uses_polling(hass: HomeAssistant, entry: WhatsAppConfigEntry) -> bool:
    """Whether messages of this entry are polled instead of pushed to the webhook.

    A gateway that can be polled is polled unless the user chose the webhook: its message log
    survives outages and restarts on both sides, which a webhook post does not. Some (GREEN-API)
    are polled automatically only when they cannot reach Home Assistant.
    """
    descriptor = gateway_descriptor(entry.data[CONF_KIND])
    if Capability.POLLING not in descriptor.capabilities:
        return False
    mode = InboundMode(entry.options.get(CONF_INBOUND_MODE, InboundMode.AUTO))
    if mode is not InboundMode.AUTO:
        return mode is InboundMode.POLLING
    return not (descriptor.gateway.polls_unless_reachable and reachable(hass, entry))


def cursor_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Where the polling position of an entry is kept."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.cursor")


class MessagePoller:
    """Asks the gateway for new messages at an interval, backing off while it fails."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatsAppConfigEntry,
        gateway: Gateway,
        router: InboundRouter,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._gateway = gateway
        self._router = router
        self._store = cursor_store(hass, entry.entry_id)
        self._interval = float(entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL))
        self._cursor: str | None = None
        self._failures = 0
        self._cancel_timer: CALLBACK_TYPE | None = None
        self._stopped = False

    @property
    def carries_receipts(self) -> bool:
        """Whether the polls bring delivery receipts (a queue does, a message log not)."""
        return self._gateway.receipts_when_polled

    async def async_start(self) -> None:
        """Load the saved position."""
        stored = await self._store.async_load()
        self._cursor = stored.get("cursor") if stored else None

    async def async_start_receiving(self) -> None:
        """Poll once now; the next polls follow on a timer."""
        try:
            await self._gateway.prepare_polling()
        except GatewayError as err:
            LOGGER.warning(
                "Could not switch %s to keeping its messages for polling: %s",
                self._entry.title,
                err,
            )
        self._entry.async_on_unload(self._async_stop)
        # Stopping Home Assistant unloads nothing, but its HTTP session goes: stop polling.
        # (A plain listener: removing a fired one-time listener at unload would log an error.)
        self._entry.async_on_unload(
            self._hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, self._async_stop)
        )
        await self._async_poll()

    async def async_check(self) -> None:
        """With each status reading: set back a gateway that no longer keeps its events.

        GREEN-API given a webhook URL in its console would hand them there: deaf otherwise.
        """
        if await self._gateway.polling_ready():
            return
        LOGGER.warning(
            "The gateway of %s no longer kept its messages for Home Assistant; set back",
            self._entry.title,
        )
        await self._gateway.prepare_polling()

    @callback
    def _async_stop(self, _: Event | None = None) -> None:
        self._stopped = True
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None

    @callback
    def _async_due(self, _: datetime) -> None:
        self._cancel_timer = None
        self._entry.async_create_background_task(
            self._hass, self._async_poll(), f"{DOMAIN} poll messages"
        )

    async def _async_poll(self) -> None:
        """Poll, and again at once while the gateway hands out more.

        A queue gives one notification at a time; each batch's cursor is saved after its
        events fired.
        """
        for _ in range(MAX_BATCHES_PER_POLL):
            if not await self._async_poll_once() or self._stopped:
                break
        else:
            self._schedule(0)
            return
        if not self._failures:
            self._schedule(self._interval)

    async def _async_poll_once(self) -> bool:
        """One poll; whether it brought events (and so there may be more)."""
        try:
            events, cursor = await self._gateway.poll_events(self._cursor)
        except GatewayError as err:
            self._failures += 1
            delay = min(self._interval * 2**self._failures, MAX_POLL_BACKOFF)
            if self._failures == 1:
                LOGGER.warning(
                    "Polling %s for messages failed; trying again with growing pauses: %s",
                    self._entry.title,
                    err,
                )
            self._schedule(delay)
            return False
        if self._failures:
            LOGGER.info("Polling %s for messages works again", self._entry.title)
            self._failures = 0
        self._router.health.delivered()
        self._router.async_dispatch(events)
        moved = cursor != self._cursor
        if moved:
            self._cursor = cursor
            await self._store.async_save({"cursor": cursor})
        return bool(events) and moved

    def _schedule(self, delay: float) -> None:
        if not self._stopped:
            self._cancel_timer = async_call_later(self._hass, delay, self._async_due)

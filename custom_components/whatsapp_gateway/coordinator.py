"""Runtime data and the session coordinator: webhook pushes first, a status poll as fallback."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import CONF_STATUS_INTERVAL, DEFAULT_STATUS_INTERVAL, DOMAIN, LOGGER
from .gateway import (
    Gateway,
    GatewayAuthError,
    GatewayError,
    GatewayRateLimited,
    SessionEvent,
    SessionState,
    SessionStatus,
)

if TYPE_CHECKING:
    from .inbound import InboundRouter

# States in which the account is no longer linked: the phone has to scan a QR again.
UNLINKED_STATES = frozenset({SessionState.LOGGED_OUT, SessionState.PAIRING})


class InboundChannel(Protocol):
    """How messages reach an entry: the gateway posts them, or we poll for them."""

    @property
    def carries_receipts(self) -> bool:
        """Whether delivery receipts come this way (posts carry them, some polls too)."""

    async def async_start(self) -> None:
        """Get ready before the entities are set up; nothing is handed on yet."""

    async def async_start_receiving(self) -> None:
        """Hand messages on from now on: the entities listen."""

    async def async_check(self) -> None:
        """With each status reading: mend what would stop messages from arriving."""


@dataclass(kw_only=True)
class WhatsAppRuntimeData:
    """What a loaded entry holds (the gateway and the device are the coordinator's)."""

    coordinator: SessionCoordinator
    inbound: InboundRouter
    channel: InboundChannel


type WhatsAppConfigEntry = ConfigEntry[WhatsAppRuntimeData]


def account_phone(entry: ConfigEntry[Any]) -> str | None:
    """The number an account was set up with; None where the gateway did not tell it."""
    unique_id = entry.unique_id or ""
    return unique_id if unique_id.isdigit() else None


class SessionCoordinator(DataUpdateCoordinator[SessionStatus]):
    """Holds the session status; webhooks push changes, a slow poll notices silent drops."""

    config_entry: WhatsAppConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: WhatsAppConfigEntry, gateway: Gateway, device_id: str
    ) -> None:
        interval = entry.options.get(CONF_STATUS_INTERVAL, DEFAULT_STATUS_INTERVAL)
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} session",
            update_interval=timedelta(seconds=interval),
            always_update=False,
        )
        self.gateway = gateway
        # The device standing for the account.
        self.device_id = device_id
        # Status readings in a row that found the session disconnected.
        self._disconnected_readings = 0
        # Checks the gateway still delivers to us (and heals it); the inbound channel's.
        self.inbound_check: Callable[[], Awaitable[None]] | None = None

    @property
    def own_phone(self) -> str | None:
        """The account's number: as the gateway tells it now, else the one it was set up with.

        None where the gateway never tells it (the account's id is then its address).
        """
        if self.data is not None and self.data.phone:
            return self.data.phone
        return account_phone(self.config_entry)

    async def _async_update_data(self) -> SessionStatus:
        try:
            status = await self.gateway.status()
            if self._should_reconnect(status):
                status = await self._async_reconnect(status)
        except GatewayAuthError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="invalid_auth",
                translation_placeholders={"error": str(err)},
            ) from err
        except GatewayError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
                retry_after=err.retry_after if isinstance(err, GatewayRateLimited) else None,
            ) from err
        if (
            status.state in UNLINKED_STATES
            and self.config_entry.state is ConfigEntryState.SETUP_IN_PROGRESS
        ):
            # During setup Home Assistant starts the reauth flow itself.
            raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="logged_out")
        if (
            self.data is not None
            and self.data.state is SessionState.LOGGED_OUT
            and status.state is SessionState.DISCONNECTED
        ):
            # The gateway pushed the unlink; a status reading cannot tell it from a drop.
            return self.data
        self._reauth_if_unlinked(self.data, status)
        await self._async_check_inbound()
        return status

    async def _async_check_inbound(self) -> None:
        """Heal a gateway that forgot our webhook; a failure waits for the next poll."""
        if self.inbound_check is None:
            return
        try:
            await self.inbound_check()
        except GatewayError as err:
            LOGGER.debug("Could not check the gateway's webhook settings: %s", err)

    async def _async_reconnect(self, status: SessionStatus) -> SessionStatus:
        """Start the session; a gateway that refuses stays disconnected until the next try."""
        try:
            await self.gateway.connect()
        except GatewayAuthError:
            raise
        except GatewayError as err:
            LOGGER.debug("Starting the WhatsApp session again failed: %s", err)
            return status
        return await self.gateway.status()

    def _should_reconnect(self, status: SessionStatus) -> bool:
        """Start the session again only when nothing else will.

        A gateway that holds no client is started at once. A disconnected one may be
        reconnecting by itself (some gateways do, and a connect meanwhile can start a
        second client), so that waits until two readings in a row found it down, and then
        backs off: connect at the 2nd, 4th, 8th … reading, at most every 32nd.
        """
        if status.state is not SessionState.DISCONNECTED:
            self._disconnected_readings = 0
            return False
        if self.data is not None and self.data.state is SessionState.LOGGED_OUT:
            return False  # linking again is the reauth flow's job
        self._disconnected_readings += 1
        if status.stopped:
            return True
        readings = self._disconnected_readings
        return readings >= 2 and (readings & (readings - 1) == 0 or readings % 32 == 0)

    def _reauth_if_unlinked(self, previous: SessionStatus, status: SessionStatus) -> None:
        """Ask the user to link the phone again; a reauth flow already running is reused."""
        if status.state not in UNLINKED_STATES:
            return
        if previous.state not in UNLINKED_STATES:
            LOGGER.info("A WhatsApp account was unlinked from its gateway and needs pairing again")
        self.config_entry.async_start_reauth(self.hass)

    @callback
    def async_handle_session_event(self, event: SessionEvent) -> None:
        """Apply a session change the gateway pushed."""
        current = self.data
        status = replace(
            current,
            state=event.state,
            phone=event.phone or current.phone,
            qr=event.qr if event.state is SessionState.PAIRING else None,
            detail=event.reason,
        )
        self.async_set_updated_data(status)
        self._reauth_if_unlinked(current, status)
        if status.state is SessionState.CONNECTED and current.state is not SessionState.CONNECTED:
            # Back after a drop: a gateway that restarted may have lost our webhook.
            self.config_entry.async_create_background_task(
                self.hass, self._async_check_inbound(), f"{DOMAIN} check webhook"
            )

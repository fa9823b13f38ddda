"""Runtime data and the session coordinator: webhook pushes first, a status poll as fallback."""

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

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


@dataclass(kw_only=True)
class WhatsAppRuntimeData:
    """What a loaded entry holds."""

    gateway: Gateway
    coordinator: SessionCoordinator
    inbound: InboundRouter
    device_id: str


type WhatsAppConfigEntry = ConfigEntry[WhatsAppRuntimeData]


class SessionCoordinator(DataUpdateCoordinator[SessionStatus]):
    """Holds the session status; webhooks push changes, a slow poll notices silent drops."""

    config_entry: WhatsAppConfigEntry

    def __init__(self, hass: HomeAssistant, entry: WhatsAppConfigEntry, gateway: Gateway) -> None:
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

    async def _async_update_data(self) -> SessionStatus:
        try:
            status = await self.gateway.status()
            if status.state is SessionState.DISCONNECTED:
                # Paired but not running (e.g. the gateway restarted): start it again.
                await self.gateway.connect()
                status = await self.gateway.status()
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
        self._reauth_if_unlinked(self.data, status)
        return status

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

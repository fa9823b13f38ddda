"""Simulated wuzapi server (asternic/wuzapi), following docs/reference/gateway-contracts.md §1.

The server's state is one `WuzapiServer`; its routes come in parts over it: the admin API,
the session API, the chat API and the control API that plays the phone.
"""

from __future__ import annotations

from aiohttp import web

from ..common import WebhookSender
from ..phones import Phone
from .admin import AdminApi
from .chat import ChatApi
from .phone import PhoneControl
from .server import (
    BUILDS,
    CURRENT_BUILD,
    OLD_BUILD,
    OLD_BUILD_EVENTS,
    WuzapiConfig,
    WuzapiServer,
    WuzapiUser,
)
from .session import SessionApi


class WuzapiSimulator:
    """A wuzapi server: its state, and the parts of its API serving it."""

    def __init__(self, config: WuzapiConfig, sender: WebhookSender) -> None:
        """Create the users the configuration lists."""
        self.server = WuzapiServer(config, sender)
        self.qr_rotation = self.server.qr_rotation
        self._phone = PhoneControl(self.server)
        self._parts = (
            AdminApi(self.server),
            SessionApi(self.server),
            ChatApi(self.server),
            self._phone,
        )

    def page_phones(self) -> list[Phone]:
        """Every user's account, for the phone page."""
        return self._phone.page_phones()

    def routes(self) -> list[web.RouteDef]:
        """Every route of the product and of its control API."""
        return [route for part in self._parts for route in part.routes()]


__all__ = [
    "BUILDS",
    "CURRENT_BUILD",
    "OLD_BUILD",
    "OLD_BUILD_EVENTS",
    "WuzapiConfig",
    "WuzapiServer",
    "WuzapiSimulator",
    "WuzapiUser",
]

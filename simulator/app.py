"""Assemble the simulated products into one aiohttp application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .chatapi import ChatApiConfig, ChatApiSimulator
from .cloudapi import CloudApiConfig, CloudApiSimulator
from .common import Fault, Faults, WebhookSender, read_json
from .evolution import EvolutionConfig, EvolutionSimulator
from .greenapi import GreenApiConfig, GreenApiSimulator
from .maytapi import MaytapiConfig, MaytapiSimulator
from .phones import Phone, PhonePage
from .waabot import WaabotConfig, WaabotSimulator
from .waha import WahaConfig, WahaSimulator
from .wuzapi import WuzapiConfig, WuzapiSimulator

PRODUCTS = ("wuzapi", "maytapi", "chatapi", "waabot", "waha", "evolution", "greenapi", "cloudapi")


@dataclass
class SimulatorConfig:
    """Which products to serve and how."""

    products: tuple[str, ...] = PRODUCTS
    wuzapi: WuzapiConfig = field(default_factory=WuzapiConfig)
    maytapi: MaytapiConfig = field(default_factory=MaytapiConfig)
    chatapi: ChatApiConfig = field(default_factory=ChatApiConfig)
    waabot: WaabotConfig = field(default_factory=WaabotConfig)
    waha: WahaConfig = field(default_factory=WahaConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    greenapi: GreenApiConfig = field(default_factory=GreenApiConfig)
    cloudapi: CloudApiConfig = field(default_factory=CloudApiConfig)

    def sign_in(self, url: str) -> dict[str, dict[str, str]]:
        """For each product served at `url`: what to enter in the integration's form."""
        return {
            product: getattr(self, product).sign_in(url)
            for product in PRODUCTS
            if product in self.products
        }


class Simulator:
    """The running simulator: products, shared webhook sender and injected faults."""

    def __init__(self, config: SimulatorConfig) -> None:
        """Create the products the configuration asks for."""
        unknown = set(config.products) - set(PRODUCTS)
        if unknown:
            raise ValueError(f"Unknown products: {', '.join(sorted(unknown))}")
        self.config = config
        self.sender = WebhookSender()
        self.faults = Faults()
        self.wuzapi = (
            WuzapiSimulator(config.wuzapi, self.sender) if "wuzapi" in config.products else None
        )
        self.maytapi = (
            MaytapiSimulator(config.maytapi, self.sender) if "maytapi" in config.products else None
        )
        self.chatapi = (
            ChatApiSimulator(config.chatapi, self.sender) if "chatapi" in config.products else None
        )
        self.waabot = (
            WaabotSimulator(config.waabot, self.sender) if "waabot" in config.products else None
        )
        self.waha = WahaSimulator(config.waha, self.sender) if "waha" in config.products else None
        self.evolution = (
            EvolutionSimulator(config.evolution, self.sender)
            if "evolution" in config.products
            else None
        )
        self.greenapi = (
            GreenApiSimulator(config.greenapi, self.sender)
            if "greenapi" in config.products
            else None
        )
        self.cloudapi = (
            CloudApiSimulator(config.cloudapi, self.sender)
            if "cloudapi" in config.products
            else None
        )

    def routes(self) -> list[web.RouteDef]:
        """Routes of the enabled products and the shared control API."""
        routes = [
            web.get("/__emulator/webhook_log", self.webhook_log),
            web.post("/__emulator/faults", self.add_fault),
            web.get("/__emulator/faults", self.list_faults),
        ]
        for product in self.products:
            routes += product.routes()
        return routes + PhonePage(self.page_phones).routes()

    @property
    def products(
        self,
    ) -> list[
        WuzapiSimulator
        | MaytapiSimulator
        | ChatApiSimulator
        | WaabotSimulator
        | WahaSimulator
        | EvolutionSimulator
        | GreenApiSimulator
        | CloudApiSimulator
    ]:
        """The products served."""
        served = (
            self.wuzapi,
            self.maytapi,
            self.chatapi,
            self.waabot,
            self.waha,
            self.evolution,
            self.greenapi,
            self.cloudapi,
        )
        return [product for product in served if product is not None]

    def page_phones(self) -> list[Phone]:
        """The phones of every product served, for the phone page."""
        return [phone for product in self.products for phone in product.page_phones()]

    async def webhook_log(self, request: web.Request) -> web.Response:
        """Every webhook post made so far."""
        return web.json_response([delivery.as_dict() for delivery in self.sender.log])

    async def add_fault(self, request: web.Request) -> web.Response:
        """Fail the next requests: {"status": 503, "times": 1, "path": "/chat", "retry_after": 5}.

        Status 0 drops the connection without serving the request; status -1 serves it and
        then drops the connection, so the answer is lost.
        """
        body: dict[str, Any] = await read_json(request)
        try:
            fault = Fault(
                status=int(body.get("status", 500)),
                times=int(body.get("times", 1)),
                path=str(body.get("path", "/")),
                retry_after=int(body["retry_after"]) if "retry_after" in body else None,
            )
        except (TypeError, ValueError) as err:
            raise web.HTTPBadRequest(text=str(err)) from None
        self.faults.pending.append(fault)
        return web.json_response({"ok": True})

    async def list_faults(self, request: web.Request) -> web.Response:
        """The faults still waiting for their requests."""
        return web.json_response(
            [
                {"status": fault.status, "times": fault.times, "path": fault.path}
                for fault in self.faults.pending
            ]
        )

    async def on_startup(self, app: web.Application) -> None:
        """Start background work (QR rotation, Maytapi ack batches)."""
        if self.wuzapi:
            self.wuzapi.qr_rotation.start()
        if self.maytapi:
            self.maytapi.ack_batches.start()

    async def on_cleanup(self, app: web.Application) -> None:
        """Stop background work and close the webhook session."""
        if self.wuzapi:
            await self.wuzapi.qr_rotation.stop()
        if self.maytapi:
            await self.maytapi.ack_batches.stop()
        await self.sender.close()


SIMULATOR_KEY: web.AppKey[Simulator] = web.AppKey("simulator")


def create_app(config: SimulatorConfig | None = None) -> web.Application:
    """The aiohttp application serving the configured products."""
    simulator = Simulator(config or SimulatorConfig())
    app = web.Application(middlewares=[simulator.faults.middleware], client_max_size=64 * 2**20)
    app[SIMULATOR_KEY] = simulator
    app.add_routes(simulator.routes())
    app.on_startup.append(simulator.on_startup)
    app.on_cleanup.append(simulator.on_cleanup)
    return app

"""Shared fixtures: the simulator on loopback, a webhook receiver and gateway clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.whatsapp_gateway.gateway import (
    ChatApiGateway,
    CloudApiGateway,
    EvolutionGateway,
    Gateway,
    GreenApiGateway,
    MaytapiGateway,
    WaabotGateway,
    WahaGateway,
    WuzapiGateway,
    create_gateway,
)
from simulator import (
    ChatApiConfig,
    CloudApiConfig,
    EvolutionConfig,
    GreenApiConfig,
    MaytapiConfig,
    SimulatorConfig,
    WaabotConfig,
    WahaConfig,
    WuzapiConfig,
    create_app,
)

FIXTURES = Path(__file__).parent / "fixtures"
ADMIN_TOKEN = "admin-token"
USER_TOKEN = "user-token"
PRODUCT_ID = "sim-product"
API_KEY = "sim-key"
PHONE_ID = "12"
HMAC_KEY = "0123456789abcdef0123456789abcdef-ha-test"
CHATAPI_INSTANCE = "424242"
CHATAPI_TOKEN = "chatapi-token"
WAABOT_EMAIL = "ha@example.com"
WAABOT_PASSWORD = "sim-password"
WAHA_KEY = "sim-waha-key"
EVOLUTION_KEY = "sim-evolution-key"
GREEN_ID = "1101000001"
GREEN_TOKEN = "sim-green-token"


def fixture_bytes(name: str) -> bytes:
    """Raw bytes of a file in tests/fixtures."""
    return (FIXTURES / name).read_bytes()


@dataclass
class Received:
    """One webhook post as the receiver saw it."""

    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookSink:
    """A loopback HTTP endpoint standing in for Home Assistant's webhook."""

    url: str = ""
    queue: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    async def handle(self, request: web.Request) -> web.Response:
        self.queue.put_nowait(Received(dict(request.headers), await request.read()))
        return web.Response(text="ok")

    async def handshake(self, request: web.Request) -> web.Response:
        """Meta's check of the address: the challenge, for the sink's verify token."""
        if request.query.get("hub.verify_token") != SINK_VERIFY_TOKEN:
            return web.Response(status=403)
        return web.Response(text=request.query.get("hub.challenge", ""))

    async def next(self) -> Received:
        """The next post; fails the test if none comes within five seconds."""
        return await asyncio.wait_for(self.queue.get(), 5)

    async def next_of(self, gateway: Gateway, event_type: type) -> Any:
        """Skip posts until one parses into an event of this type, and return that event."""
        while True:
            received = await self.next()
            for event in gateway.parse_webhook(received.headers, received.body):
                if isinstance(event, event_type):
                    return event


@dataclass(frozen=True)
class Delivery:
    """One webhook post the simulator made, as its control API reports it."""

    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None


@dataclass
class SimulatorHandle:
    """The running simulator, its URL and its control API (the tests' only way in)."""

    url: str
    session: aiohttp.ClientSession
    # The Waabot account's first instance, as the control API listed it at the start.
    waabot_instance: dict[str, Any] = field(default_factory=dict)

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST to the control API and return its JSON answer."""
        async with self.session.post(f"{self.url}/__emulator/{path}", json=body or {}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def get(self, path: str) -> Any:
        """GET from the control API."""
        async with self.session.get(f"{self.url}/__emulator/{path}") as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def fault(self, **fault: Any) -> None:
        """Make the next matching request fail."""
        await self.control("faults", fault)

    async def faults(self) -> list[dict[str, Any]]:
        """The faults not yet used up: status, times left and path."""
        pending: list[dict[str, Any]] = await self.get("faults")
        return pending

    async def wuzapi_user(self, key: str = USER_TOKEN) -> dict[str, Any]:
        """A wuzapi user (by id, token or name) with its settings."""
        users = await self.get("wuzapi/users")
        return next(user for user in users if key in (user["id"], user["token"], user["name"]))

    async def webhook_log(self) -> list[Delivery]:
        """Every webhook post made so far, oldest first."""
        return [
            Delivery(item["url"], item["headers"], item["body"].encode(), item["status"])
            for item in await self.get("webhook_log")
        ]


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    """The HTTP session the library is given (as Home Assistant would inject its own).

    Sockets are allowed, on loopback only, for the simulator and the webhook receiver.
    """
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def webhook_sink(socket_enabled: None) -> AsyncIterator[WebhookSink]:
    """A running webhook receiver."""
    sink = WebhookSink()
    app = web.Application()
    app.router.add_post("/hook/{id}", sink.handle)
    app.router.add_get("/hook/{id}", sink.handshake)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    sink.url = str(server.make_url("/hook/secret-id"))
    yield sink
    await server.close()


type StartSimulator = Callable[..., Awaitable[SimulatorHandle]]


@pytest.fixture
async def start_simulator(session: aiohttp.ClientSession) -> AsyncIterator[StartSimulator]:
    """Start a simulator with a custom configuration (several may run at once)."""
    servers: list[TestServer] = []

    async def start(
        *,
        wuzapi: WuzapiConfig | None = None,
        maytapi: MaytapiConfig | None = None,
        waabot: WaabotConfig | None = None,
        waha: WahaConfig | None = None,
        evolution: EvolutionConfig | None = None,
        greenapi: GreenApiConfig | None = None,
        cloudapi: CloudApiConfig | None = None,
    ) -> SimulatorHandle:
        config = SimulatorConfig(
            wuzapi=wuzapi or WuzapiConfig(auto_receipts=False),
            maytapi=maytapi or MaytapiConfig(ack_interval=0),
            chatapi=ChatApiConfig(instance_id=CHATAPI_INSTANCE, token=CHATAPI_TOKEN),
            waabot=waabot or WaabotConfig(email=WAABOT_EMAIL, password=WAABOT_PASSWORD),
            waha=waha or WahaConfig(api_key=WAHA_KEY),
            evolution=evolution or EvolutionConfig(api_key=EVOLUTION_KEY),
            greenapi=greenapi or GreenApiConfig(id_instance=GREEN_ID, api_token=GREEN_TOKEN),
            cloudapi=cloudapi or CloudApiConfig(),
        )
        app = create_app(config)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        handle = SimulatorHandle(str(server.make_url("")).rstrip("/"), session)
        handle.waabot_instance = (await handle.get("waabot/instances"))[0]
        return handle

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def simulator(start_simulator: StartSimulator) -> SimulatorHandle:
    """A simulator serving both products with default settings."""
    return await start_simulator()


@pytest.fixture
def wuzapi(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> WuzapiGateway:
    """A wuzapi client for the simulator's first user."""
    gateway = create_gateway(
        "wuzapi", session, {"url": simulator.url, "token": USER_TOKEN, "admin_token": ADMIN_TOKEN}
    )
    assert isinstance(gateway, WuzapiGateway)
    return gateway


@pytest.fixture
def maytapi(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> MaytapiGateway:
    """A Maytapi client for the simulator's phone 12."""
    gateway = create_gateway(
        "maytapi",
        session,
        {"url": simulator.url, "product_id": PRODUCT_ID, "api_key": API_KEY, "phone_id": PHONE_ID},
    )
    assert isinstance(gateway, MaytapiGateway)
    return gateway


@pytest.fixture
def chatapi(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> ChatApiGateway:
    """A Chat-API client for the simulator's instance."""
    gateway = create_gateway(
        "chatapi",
        session,
        {"url": f"{simulator.url}/instance{CHATAPI_INSTANCE}", "token": CHATAPI_TOKEN},
    )
    assert isinstance(gateway, ChatApiGateway)
    return gateway


def waabot_options(simulator: SimulatorHandle) -> dict[str, str]:
    """Options of a Waabot client for the simulator's first instance."""
    instance = simulator.waabot_instance
    return {
        "url": f"{simulator.url}/api/v1",
        "email": WAABOT_EMAIL,
        "password": WAABOT_PASSWORD,
        "session_id": instance["session_id"],
        "access_token": instance["settings"]["access_token"],
        "instance_id": instance["_id"],
    }


@pytest.fixture
def waabot(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> WaabotGateway:
    """A Waabot client for the simulator's first instance."""
    gateway = create_gateway("waabot", session, waabot_options(simulator))
    assert isinstance(gateway, WaabotGateway)
    return gateway


@pytest.fixture
def waha(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> WahaGateway:
    """A WAHA client for the simulator's session "default"."""
    gateway = create_gateway("waha", session, {"url": simulator.url, "api_key": WAHA_KEY})
    assert isinstance(gateway, WahaGateway)
    return gateway


@pytest.fixture
def evolution(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> EvolutionGateway:
    """An Evolution API client for the instance "home-assistant" (not created yet)."""
    gateway = create_gateway(
        "evolution",
        session,
        {"url": simulator.url, "api_key": EVOLUTION_KEY, "instance": "home-assistant"},
    )
    assert isinstance(gateway, EvolutionGateway)
    return gateway


def greenapi_options(simulator: SimulatorHandle) -> dict[str, str]:
    """Options of a GREEN-API client for the simulator's instance."""
    return {"url": simulator.url, "id_instance": GREEN_ID, "api_token": GREEN_TOKEN}


@pytest.fixture
def greenapi(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> GreenApiGateway:
    """A GREEN-API client for the simulator's instance."""
    gateway = create_gateway("greenapi", session, greenapi_options(simulator))
    assert isinstance(gateway, GreenApiGateway)
    return gateway


CLOUD = CloudApiConfig()
SINK_VERIFY_TOKEN = "verify-me"


def cloudapi_options(simulator: SimulatorHandle) -> dict[str, str]:
    """Options of a Cloud API client for the simulator's number."""
    return {
        "url": f"{simulator.url}/v21.0",
        "access_token": CLOUD.access_token,
        "phone_number_id": CLOUD.phone_number_id,
        "app_secret": CLOUD.app_secret,
    }


@pytest.fixture
def cloudapi(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> CloudApiGateway:
    """A Cloud API client for the simulator's number."""
    gateway = create_gateway("cloudapi", session, cloudapi_options(simulator))
    assert isinstance(gateway, CloudApiGateway)
    return gateway


async def pair_wuzapi(
    simulator: SimulatorHandle, gateway: WuzapiGateway, phone: str = "491511234567"
) -> None:
    """Connect and scan the QR, the way a user pairs the phone."""
    await gateway.connect()
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/scan", {"phone": phone, "name": "Home"})

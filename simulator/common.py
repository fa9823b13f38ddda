"""Pieces every simulated product uses: webhook delivery, injected faults, ids and clocks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

_LOGGER = logging.getLogger(__name__)

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def now() -> datetime:
    """The simulator's clock (aware, local offset as wuzapi prints it)."""
    return datetime.now(UTC).astimezone()


def message_id() -> str:
    """An id shaped like WhatsApp's own: 3EB0 and upper-case hex."""
    return "3EB0" + secrets.token_hex(9).upper()


def json_bytes(data: Any) -> bytes:
    """Compact JSON with sorted keys, the way Go's json.Marshal writes a map."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty or broken body counts as {}."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class Delivery:
    """One webhook post the simulator made, kept for tests and the phone page."""

    product: str
    url: str
    content_type: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view for the control API."""
        return {
            "product": self.product,
            "url": self.url,
            "content_type": self.content_type,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "status": self.status,
            "error": self.error,
        }


@dataclass
class WebhookSender:
    """Posts webhooks like a gateway: fire and forget, failures only logged."""

    session: ClientSession | None = None
    log: list[Delivery] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def post(
        self,
        product: str,
        url: str,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> Delivery:
        """Deliver now and record the outcome."""
        all_headers = {"Content-Type": content_type, **(headers or {})}
        delivery = Delivery(product, url, content_type, all_headers, body)
        self.log.append(delivery)
        if self.session is None:
            self.session = ClientSession(timeout=ClientTimeout(total=10))
        try:
            async with self.session.post(url, data=body, headers=all_headers) as response:
                delivery.status = response.status
                await response.read()
        # Whatever goes wrong with the post, a gateway only logs it and goes on.
        except Exception as err:  # noqa: BLE001
            delivery.error = str(err) or type(err).__name__
            _LOGGER.warning("Webhook to %s failed: %s", url, delivery.error)
        return delivery

    def later(self, coro: Awaitable[Any]) -> None:
        """Run a delivery in the background, as real gateways do after answering."""

        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        """Finish background deliveries and close the HTTP session."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()


@dataclass
class Periodic:
    """Background work repeated every `interval` seconds; a zero interval means never."""

    interval: float
    work: Callable[[], Awaitable[Any]]
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start repeating."""
        if self.interval > 0:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop repeating."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.work()


def hmac_hex(key: str, body: bytes) -> str:
    """The signature header value: hex HMAC-SHA256 of the exact body."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


# Fault status: the request is served, but its answer is lost (a time-out, as the client sees).
LOST_ANSWER = -1


@dataclass
class Fault:
    """Answer the next `times` requests under `path` with `status` instead of serving them."""

    status: int
    times: int
    path: str
    retry_after: int | None = None


@dataclass
class Faults:
    """Injected failures, set through the control API."""

    pending: list[Fault] = field(default_factory=list)

    def take(self, path: str) -> Fault | None:
        """The fault that applies to this request, consuming one use of it."""
        for fault in self.pending:
            if path.startswith(fault.path):
                fault.times -= 1
                if fault.times <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Serve the injected fault instead of the route, except on the control API."""
        if not request.path.startswith("/__emulator") and (fault := self.take(request.path)):
            if fault.status == LOST_ANSWER:
                # Serve the request, then drop the connection before the answer goes out.
                await handler(request)
                if request.transport is not None:
                    request.transport.close()
                raise web.HTTPBadRequest
            if fault.status == 0:
                # Close the connection without answering, like a crashed server.
                if request.transport is not None:
                    request.transport.close()
                raise web.HTTPBadRequest
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
            return web.Response(status=fault.status, text="injected fault", headers=headers)
        return await handler(request)

"""The measurements: each figure of ours beside its floor, sampled in turns in the same run."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import itertools
import json
import statistics
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from simulator.common import hmac_hex
from simulator.wuzapi.events import message_event, message_info

from .bench_floor import EVENT as FLOOR_EVENT
from .stack import CONTACT, BenchError, Stack

OUR_EVENT = "whatsapp_gateway_message_received"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# How long a message may take to arrive before it counts as lost.
ARRIVAL_TIMEOUT = 10.0


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class Events:
    """Home Assistant's websocket: the bus events both sides fire, and command results."""

    ws: aiohttp.ClientWebSocketResponse
    arrivals: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    waiting: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    results: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, stack: Stack, token: str) -> Events:
        """Log in and subscribe to both message events."""
        ws = await session.ws_connect(f"{stack.ha_url}/api/websocket", max_msg_size=0)
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        if (await ws.receive_json())["type"] != "auth_ok":
            raise BenchError("Home Assistant refused the benchmark's token")
        events = cls(ws)
        events.reader = asyncio.create_task(events._read())
        for event_type in (OUR_EVENT, FLOOR_EVENT):
            await events.command({"type": "subscribe_events", "event_type": event_type})
        return events

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if data["type"] == "event":
                arrived = time.perf_counter()
                message_id = data["event"]["data"]["message_id"]
                self.arrivals[message_id].append(arrived)
                if (waiter := self.waiting.pop(message_id, None)) is not None:
                    waiter.set_result(arrived)
            elif (result := self.results.pop(data["id"], None)) is not None:
                result.set_result(data)

    def expect(self, message_id: str) -> asyncio.Future[float]:
        """When the event of this message arrives."""
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[message_id] = waiter
        return waiter

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send a websocket command and wait for its result."""
        number = next(self.ids)
        result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.results[number] = result
        await self.ws.send_json({"id": number, **command})
        answer = await asyncio.wait_for(result, 60)
        if not answer.get("success"):
            raise BenchError(f"{command['type']} failed: {answer.get('error')}")
        return answer

    async def close(self) -> None:
        """Stop reading."""
        await self.ws.close()
        if self.reader is not None:
            await self.reader


@dataclass
class Target:
    """Where a message post goes: our webhook (signed as wuzapi signs) or the floor's."""

    name: str
    url: str
    key: str | None
    user: dict[str, Any]

    def post(self, message_id: str) -> tuple[bytes, dict[str, str]]:
        """A wuzapi form post of a text message, as the real server makes it."""
        chat = f"{CONTACT}@s.whatsapp.net"
        info = message_info(chat, chat, message_id)
        info["PushName"] = "Anna"
        event = {"type": "Message", "event": message_event(info, {"conversation": "ping"})}
        fields = {
            "jsonData": json.dumps(event),
            "userID": self.user["id"],
            "instanceName": self.user["name"],
        }
        body = urlencode(sorted(fields.items())).encode()
        headers = dict(FORM)
        if self.key:
            headers["x-hmac-signature"] = hmac_hex(self.key, body)
        return body, headers


@dataclass
class Bench:
    """The running stack, seen from a benchmark client."""

    stack: Stack
    session: aiohttp.ClientSession
    events: Events
    ours: Target
    floor: Target
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    posted: int = 0

    def message_id(self) -> str:
        """An id no message had before."""
        return f"3EB0BENCH{next(self.serial):08d}"

    async def _post(self, target: Target, body: bytes, headers: dict[str, str]) -> None:
        async with self.session.post(target.url, data=body, headers=headers) as response:
            if response.status != 200:
                raise BenchError(f"{target.name} answered {response.status}")
        self.posted += 1

    async def latency(self, samples: int) -> dict[str, list[float]]:
        """Seconds from the start of a post until its event, one post at a time."""
        seconds: dict[str, list[float]] = {"ours": [], "floor": []}
        for number in range(samples):
            pair = (self.ours, self.floor) if number % 2 else (self.floor, self.ours)
            for target in pair:
                message_id = self.message_id()
                body, headers = target.post(message_id)
                arrival = self.events.expect(message_id)
                start = time.perf_counter()
                await self._post(target, body, headers)
                seconds[target.name].append(await asyncio.wait_for(arrival, 5) - start)
        return seconds

    async def throughput(self, target: Target, count: int, concurrency: int) -> dict[str, float]:
        """Messages per second with `concurrency` posts at once; lost and doubled ones."""
        ids = [self.message_id() for _ in range(count)]
        posts = [target.post(message_id) for message_id in ids]
        arrivals = [self.events.expect(message_id) for message_id in ids]
        queue = iter(posts)

        async def worker() -> None:
            for body, headers in queue:
                await self._post(target, body, headers)

        cpu = self.stack.cpu_seconds()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        done, _ = await asyncio.wait(arrivals, timeout=ARRIVAL_TIMEOUT)
        end = max((arrival.result() for arrival in done), default=time.perf_counter())
        cpu = self.stack.cpu_seconds() - cpu
        await asyncio.sleep(0.2)  # a doubled event would come right after the first
        for message_id in ids:
            self.events.waiting.pop(message_id, None)
        received = [message_id for message_id in ids if self.events.arrivals.get(message_id)]
        doubled = sum(len(self.events.arrivals[message_id]) - 1 for message_id in received)
        return {
            "rate": len(received) / (end - start),
            "lost": count - len(received),
            "doubled": doubled,
            "cpu_us": cpu / count * 1e6,
        }

    async def fill(self, total: int) -> None:
        """Post messages to our webhook until `total` were posted in all (ids to remember)."""
        missing = max(0, total - self.posted)
        if missing:
            await self.throughput(self.ours, missing, 32)

    async def call(self, domain: str, service: str, data: dict[str, Any]) -> float:
        """Seconds an action takes, called the way the frontend calls it."""
        start = time.perf_counter()
        await self.events.command(
            {"type": "call_service", "domain": domain, "service": service, "service_data": data}
        )
        return time.perf_counter() - start

    async def interleaved(
        self,
        samples: int,
        ours: Callable[[int], Awaitable[float]],
        floor: Callable[[int], Awaitable[float]],
    ) -> dict[str, list[float]]:
        """Both sides sampled in turns (the first of each pair alternates)."""
        seconds: dict[str, list[float]] = {"ours": [], "floor": []}
        for number in range(samples):
            pair = (("ours", ours), ("floor", floor))
            for name, run in pair if number % 2 else reversed(pair):
                seconds[name].append(await run(number))
        return seconds


def summary(values: list[float]) -> dict[str, float]:
    """p50, p90 and p99 in milliseconds."""
    return {
        "p50": statistics.median(values) * 1000,
        "p90": percentile(values, 0.9) * 1000,
        "p99": percentile(values, 0.99) * 1000,
    }

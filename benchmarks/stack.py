"""What the benchmark runs against: a real Home Assistant, and the gateway simulator.

Home Assistant runs as its own process, with a throw-away configuration, on loopback.

Home Assistant gets the integration, a floor component (`bench_floor/`) and `rest_command`
posting the same requests to the gateway as our actions do.
"""

from __future__ import annotations

import asyncio
import base64
import compileall
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
from aiohttp import web

from demo.stack import COMPONENT, log_problems
from simulator import SimulatorConfig, WuzapiConfig, create_app

FLOOR_COMPONENT = Path(__file__).resolve().parent / "bench_floor"
USER_TOKEN = "bench-user-token"  # noqa: S105 - the simulator's benchmark user
CONTACT = "491700000002"
# A picture of a realistic size for send_file (a camera snapshot is larger; this keeps the
# template of the rest_command floor small enough to render quickly).
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64


class BenchError(Exception):
    """The benchmark could not run."""


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _configuration(ha_port: int, gateway: str, folder: Path) -> str:
    """configuration.yaml: only what the benchmark needs, so the process stays small."""
    image = "data:image/png;base64," + base64.b64encode(PICTURE).decode()
    text_payload = json.dumps({"Phone": CONTACT, "Body": "{{ message }}", "Id": "{{ id }}"})
    image_payload = json.dumps({"Phone": CONTACT, "Image": image, "Id": "{{ id }}"})
    return f"""
homeassistant:
  name: Benchmark
  time_zone: UTC
  internal_url: http://127.0.0.1:{ha_port}
  allowlist_external_dirs:
    - {folder}
http:
  server_host: 127.0.0.1
  server_port: {ha_port}
api:
websocket_api:
config:
onboarding:
webhook:
bench_floor:
  gateway: {gateway}
  token: {USER_TOKEN}
rest_command:
  floor_send_text:
    url: {gateway}/chat/send/text
    method: post
    headers:
      Token: {USER_TOKEN}
    content_type: application/json
    payload: '{text_payload}'
  floor_send_image:
    url: {gateway}/chat/send/image
    method: post
    headers:
      Token: {USER_TOKEN}
    content_type: application/json
    payload: '{image_payload}'
logger:
  default: warning
"""


@dataclass
class Stack:
    """Home Assistant as a child process, the simulator in this process.

    `compiled`: the integration comes with its bytecode, as Home Assistant finds it from its
    second start on (Python wrote it at the first). Without, Python compiles its sources when
    Home Assistant imports them, as at the first start after an install or an update.
    """

    compiled: bool = True
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="wa-bench-")))
    ha_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    gateway_url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def ha_url(self) -> str:
        """Where Home Assistant answers."""
        return f"http://127.0.0.1:{self.ha_port}"

    @property
    def picture(self) -> Path:
        """The picture send_file sends."""
        return self.folder / "picture.png"

    async def start(self) -> None:
        """The simulator, then Home Assistant; returns once both answer."""
        config = SimulatorConfig(
            products=("wuzapi",),
            # Receipts would post back to Home Assistant during the outbound figures.
            wuzapi=WuzapiConfig(user_tokens=(USER_TOKEN,), auto_receipts=False),
        )
        self._runner = web.AppRunner(create_app(config), access_log=None)
        await self._runner.setup()
        gateway_port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", gateway_port).start()
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        ha_config = self.folder / "config"
        (ha_config / "custom_components").mkdir(parents=True)
        component = ha_config / "custom_components" / "whatsapp_gateway"
        if self.compiled:
            # A copy, so that the bytecode goes there rather than into the repository.
            ignore = shutil.ignore_patterns("__pycache__")
            await asyncio.to_thread(shutil.copytree, COMPONENT, component, ignore=ignore)
            await asyncio.to_thread(compileall.compile_dir, component, quiet=1)
        else:
            component.symlink_to(COMPONENT)
        (ha_config / "custom_components" / "bench_floor").symlink_to(FLOOR_COMPONENT)
        (ha_config / "configuration.yaml").write_text(
            _configuration(self.ha_port, self.gateway_url, self.folder)
        )
        self.picture.write_bytes(PICTURE)
        with (self.folder / "home-assistant.out").open("wb") as log:
            # Started once, before anything is measured: blocking here holds up nothing.
            self.process = subprocess.Popen(  # noqa: S603, ASYNC220 - our interpreter and HA
                [sys.executable, "-m", "homeassistant", "--config", str(ha_config), "--skip-pip"],
                # Not the repository: there Python would take its custom_components package.
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        await self._wait_for_home_assistant()

    async def _wait_for_home_assistant(self) -> None:
        timeout = 240
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise BenchError(f"Home Assistant stopped; see {self.folder}/*.out")
                try:
                    async with session.get(f"{self.ha_url}/api/onboarding") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        raise BenchError(f"Home Assistant did not start within {timeout:.0f} s")

    async def access_token(self, session: aiohttp.ClientSession) -> str:
        """Onboard the benchmark's user; its access token."""
        client_id = f"{self.ha_url}/"
        async with session.post(
            f"{self.ha_url}/api/onboarding/users",
            json={
                "client_id": client_id,
                "name": "Benchmark",
                "username": "bench",
                "password": "bench-password",
                "language": "en",
            },
        ) as response:
            code = (await response.json())["auth_code"]
        async with session.post(
            f"{self.ha_url}/auth/token",
            data={"grant_type": "authorization_code", "client_id": client_id, "code": code},
        ) as response:
            token: str = (await response.json())["access_token"]
        return token

    async def wait_running(self, session: aiohttp.ClientSession, token: str) -> None:
        """Until Home Assistant has set up everything its configuration names.

        Its HTTP server, and so onboarding, answers long before then.
        """
        for _ in range(480):
            config = await json_request(session, "GET", f"{self.ha_url}/api/config", token)
            if config["state"] == "RUNNING":
                return
            await asyncio.sleep(0.5)
        raise BenchError("Home Assistant did not finish starting")

    def cpu_seconds(self) -> float:
        """The processor time Home Assistant has used so far (user and system)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Home Assistant's resident memory."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise BenchError("no VmRSS in /proc")

    def log_problems(self) -> list[str]:
        """Warnings, errors and tracebacks of our code in Home Assistant's log.

        (Others' do not matter here: this Home Assistant is set up for measuring only.)
        """
        log = self.folder / "config" / "home-assistant.log"
        return log_problems(log, ours_only=True) if log.exists() else []

    async def stop(self) -> None:
        """Stop Home Assistant, then the simulator (once; a second call does nothing)."""
        if self.process is not None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 60)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def json_request(
    session: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> Any:
    """One REST call to Home Assistant; its JSON answer."""
    async with session.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        if response.status >= 400:
            raise BenchError(f"{method} {url} answered {response.status}: {await response.text()}")
        return await response.json()

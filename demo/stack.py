"""The demo stack: the gateway simulator and a real Home Assistant, onboarded by API.

Used by `scripts/develop` (kept running for a person) and by `scripts/e2e` (driven by a browser).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
import shutil
import subprocess
import sys
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from simulator import SimulatorConfig

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config"
COMPONENT = ROOT / "custom_components" / "whatsapp_gateway"
USERNAME = "demo"
PASSWORD = "demo-password"  # noqa: S105 - the published login of a local demo
# Home Assistant's onboarding steps, in the order the frontend takes them after the user step.
ONBOARDING_STEPS = ("user", "core_config", "analytics", "integration")
# Finishing the core_config step through the API also starts the flows of met, radio_browser,
# google_translate and shopping_list, whose requirements the demo does not install (each logs a
# traceback). configuration.yaml already holds what that step asks, so a new demo configuration
# starts with it (and the two after it) marked done in Home Assistant's onboarding store.
ONBOARDING_STORE = {
    "version": 4,
    "minor_version": 1,
    "key": "onboarding",
    "data": {"done": list(ONBOARDING_STEPS[1:])},
}


class DemoError(Exception):
    """The demo could not be brought up."""


def http(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    token: str | None = None,
    timeout: float = 30,
) -> Any:
    """One HTTP request; the JSON answer (or None for an empty one)."""
    headers: dict[str, str] = {}
    data: bytes | None = None
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = Request(url, data=data, method=method, headers=headers)  # noqa: S310 - http only
    try:
        with urlopen(request, timeout=timeout) as response:  # noqa: S310 - http only
            body = response.read()
    except HTTPError as err:
        raise DemoError(f"{method} {url} answered {err.code}: {err.read().decode()}") from err
    return json.loads(body) if body else None


def wait_until(what: str, ready: Callable[[], bool], timeout: float) -> None:
    """Ask `ready` every half second until it says yes; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def log_problems(log: Path, *, ours_only: bool = False) -> list[str]:
    """Errors and tracebacks in Home Assistant's log, and the warnings of our own code.

    With `ours_only`, only the records that involve our code.
    """
    problems = []
    for record in re.split(r"\n(?=\d{4}-\d\d-\d\d )", log.read_text(encoding="utf-8")):
        level = record.split(" ", 3)[2] if record.count(" ") >= 3 else ""
        ours = (
            "[custom_components.whatsapp_gateway" in record
            or "custom_components/whatsapp_gateway/" in record
        )
        if ours_only and not ours:
            continue
        if (
            level in ("ERROR", "CRITICAL")
            or "Traceback (most recent call last)" in record
            or (level == "WARNING" and ours)
        ):
            problems.append(record)
    return problems


def status_of(url: str) -> int | None:
    """The HTTP status a GET of `url` gets, or None when nothing answers."""
    try:
        with urlopen(url, timeout=2) as response:  # noqa: S310 - http only
            status: int = response.status
    except HTTPError as err:
        return err.code
    except (URLError, OSError):
        return None
    return status


def fresh_config(target: Path) -> Path:
    """A copy of the demo configuration in `target`, as on a first start.

    Only our files are copied, nothing that Home Assistant wrote into config/.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in ("configuration.yaml", "automations.yaml"):
        shutil.copy(DEMO_CONFIG / name, target / name)
    shutil.copytree(DEMO_CONFIG / "www", target / "www")
    (target / "custom_components").mkdir()
    (target / "custom_components" / "whatsapp_gateway").symlink_to(COMPONENT)
    return target


@dataclass
class Demo:
    """The simulator and Home Assistant as child processes."""

    config: Path = DEMO_CONFIG
    simulator_port: int = 8081
    # Fixed: Home Assistant 2026.10 takes its HTTP settings from the UI, not from YAML.
    ha_port: int = 8123
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def ha_url(self) -> str:
        """Where Home Assistant answers."""
        return f"http://127.0.0.1:{self.ha_port}"

    @property
    def simulator_url(self) -> str:
        """Where the simulated gateway answers; the URL to enter in the config flow."""
        return f"http://127.0.0.1:{self.simulator_port}"

    @property
    def redirect_uri(self) -> str:
        """Where the frontend's login returns to; Home Assistant's own client id is its base URL."""
        return f"{self.ha_url}/?auth_callback=1"

    @property
    def sign_in(self) -> dict[str, dict[str, str]]:
        """For each simulated gateway, what to enter in the integration's form, by label."""
        return SimulatorConfig().sign_in(self.simulator_url)

    @property
    def phone_url(self) -> str:
        """The simulated phone."""
        return f"{self.simulator_url}/phone"

    def start(self) -> None:
        """Start both servers and wait until they answer."""
        for port in (self.ha_port, self.simulator_port):
            if status_of(f"http://127.0.0.1:{port}/") is not None:
                raise DemoError(f"port {port} is already in use (is the demo running already?)")
        onboarding = self.config / ".storage" / "onboarding"
        if not onboarding.exists():
            onboarding.parent.mkdir(exist_ok=True)
            onboarding.write_text(json.dumps(ONBOARDING_STORE), encoding="utf-8")
        # Every simulated gateway, with the simulator's default credentials (see sign_in).
        self._spawn(
            "simulator", [sys.executable, "-m", "simulator", "--port", str(self.simulator_port)]
        )
        self._spawn(
            "home-assistant",
            [sys.executable, "-m", "homeassistant", "--config", str(self.config), "--skip-pip"],
        )
        self._wait_for("the simulator", self.phone_url, 30)
        # A first start takes longest (database, translations). The frontend's manifest is
        # served once the frontend, and so onboarding, is set up.
        self._wait_for("Home Assistant", f"{self.ha_url}/manifest.json", 180)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.config / f"{name}.out").open("wb")
        self.processes.append(
            subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                command,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Ctrl-C reaches the demo only, which then stops the servers in order (they
                # would otherwise stop first, and the demo report them as crashed).
                start_new_session=True,
            )
        )
        log.close()

    def _wait_for(self, what: str, url: str, timeout: float) -> None:
        def ready() -> bool:
            if any(process.poll() is not None for process in self.processes):
                raise DemoError(f"{what} stopped; see {self.config}/*.out")
            return status_of(url) == 200

        wait_until(what, ready, timeout)

    def onboard(self) -> str:
        """Finish Home Assistant's onboarding as the demo user; an access token of that user."""
        client_id = f"{self.ha_url}/"
        if status_of(f"{self.ha_url}/api/onboarding") == 404:
            # Home Assistant only offers the onboarding API until onboarding is finished.
            done = set(ONBOARDING_STEPS)
        else:
            steps = http("GET", f"{self.ha_url}/api/onboarding")
            done = {step["step"] for step in steps if step["done"]}
        if "user" in done:
            code = self._login(client_id)
        else:
            code = http(
                "POST",
                f"{self.ha_url}/api/onboarding/users",
                json_body={
                    "client_id": client_id,
                    "name": "Demo",
                    "username": USERNAME,
                    "password": PASSWORD,
                    "language": "en",
                },
            )["auth_code"]
        tokens = http(
            "POST",
            f"{self.ha_url}/auth/token",
            form={"grant_type": "authorization_code", "client_id": client_id, "code": code},
        )
        token: str = tokens["access_token"]
        redirect = {"client_id": client_id, "redirect_uri": self.redirect_uri}
        for step in ONBOARDING_STEPS[1:]:
            if step not in done:
                body = redirect if step == "integration" else {}
                http("POST", f"{self.ha_url}/api/onboarding/{step}", json_body=body, token=token)
        return token

    def _login(self, client_id: str) -> str:
        """An authorization code for the demo user, through the login flow the frontend uses."""
        flow = http(
            "POST",
            f"{self.ha_url}/auth/login_flow",
            json_body={
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.redirect_uri,
            },
        )
        result = http(
            "POST",
            f"{self.ha_url}/auth/login_flow/{flow['flow_id']}",
            json_body={"client_id": client_id, "username": USERNAME, "password": PASSWORD},
        )
        if result.get("type") != "create_entry":
            raise DemoError(
                f"the demo login ({USERNAME}) was refused; delete {self.config}/.storage "
                "to start the demo from scratch"
            )
        code: str = result["result"]
        return code

    def stop(self) -> None:
        """Stop both servers (Home Assistant first, so the gateway is there while it unloads)."""
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

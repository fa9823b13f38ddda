"""Home Assistant with the integration, talking to the simulator over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
import logging
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant import loader
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_USER,
    ConfigFlow,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.data_entry_flow import FlowHandler, FlowManager, FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.whatsapp_gateway.const import (
    DOMAIN,
    PAIR_POLL_INTERVAL,
)
from custom_components.whatsapp_gateway.gateway import GATEWAYS
from tests.conftest import (
    SimulatorHandle,
    StartSimulator,
)
from tests.translations import problems_with

from .kinds import CONTACT, HA_URLS, KINDS, WEBHOOK_ID, Kind, Maytapi, Wuzapi

WUZAPI_PHONE = Wuzapi.phone
MAYTAPI_PHONE = Maytapi.phone


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ in every integration test."""


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing may log an error (or worse) during a test."""
    yield
    errors = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.get_records("call")
        if record.levelno >= logging.ERROR
    ]
    assert not errors, errors


def flow_category(hass: HomeAssistant, flow: FlowHandler) -> str | None:
    """Where a flow of ours finds its texts: `config`, `options` or `config_subentries.<type>`."""
    if isinstance(flow, ConfigFlow):
        return "config" if flow.handler == DOMAIN else None
    if isinstance(flow, OptionsFlow):
        entry_id, category = flow.handler, "options"
    elif isinstance(flow, ConfigSubentryFlow):
        entry_id, subentry_type = flow.handler
        category = f"config_subentries.{subentry_type}"
    else:
        return None
    entry = hass.config_entries.async_get_entry(entry_id)
    return category if entry and entry.domain == DOMAIN else None


def flow_result_keys(category: str, result: Any) -> list[str]:
    """The translation keys the frontend looks up to show this result."""
    step = f"{category}.step.{result.get('step_id')}"
    kind = result["type"]
    if kind is FlowResultType.ABORT:
        return [f"{category}.abort.{result['reason']}"]
    if kind is FlowResultType.MENU:
        return [f"{step}.title"] + [f"{step}.menu_options.{o}" for o in result["menu_options"]]
    if kind is FlowResultType.SHOW_PROGRESS:
        return [f"{step}.title", f"{category}.progress.{result['progress_action']}"]
    if kind is not FlowResultType.FORM:
        return []
    fields = [str(key) for key in result["data_schema"].schema] if result["data_schema"] else []
    keys = [f"{step}.title"]
    keys += [f"{step}.{part}.{name}" for name in fields for part in ("data", "data_description")]
    keys += [f"{category}.error.{error}" for error in (result.get("errors") or {}).values()]
    return keys


@pytest.fixture(autouse=True)
def every_text_translated(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever a test makes us show (a flow step, an error, a repair issue) exists in every
    language and gets every placeholder its text needs there."""
    problems: list[str] = []
    handle_step = FlowManager._async_handle_step
    get_or_create = ir.IssueRegistry.async_get_or_create
    error_init = HomeAssistantError.__init__

    async def checked_step(manager: FlowManager, flow: FlowHandler, *args: Any) -> Any:
        result = await handle_step(manager, flow, *args)
        if category := flow_category(hass, flow):
            given = result.get("description_placeholders")
            for key in flow_result_keys(category, result):
                problems.extend(problems_with(key, given))
        return result

    def checked_issue(registry: ir.IssueRegistry, domain: str, issue_id: str, **kw: Any) -> Any:
        if domain == DOMAIN:
            for part in ("title", "description"):
                key = f"issues.{kw['translation_key']}.{part}"
                problems.extend(problems_with(key, kw.get("translation_placeholders")))
        return get_or_create(registry, domain, issue_id, **kw)

    def checked_error(error: HomeAssistantError, *args: Any, **kw: Any) -> None:
        error_init(error, *args, **kw)
        if kw.get("translation_domain") == DOMAIN:
            key = f"exceptions.{kw['translation_key']}.message"
            problems.extend(problems_with(key, kw.get("translation_placeholders")))

    monkeypatch.setattr(FlowManager, "_async_handle_step", checked_step)
    monkeypatch.setattr(ir.IssueRegistry, "async_get_or_create", checked_issue)
    monkeypatch.setattr(HomeAssistantError, "__init__", checked_error)
    yield
    assert not problems, sorted(set(problems))


@pytest.fixture
async def ha_client(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, tmp_path: Path
) -> TestClient:
    """Home Assistant's HTTP server on loopback; its address is the internal and external URL.

    The media folder is the test's own temporary folder.
    """
    media = tmp_path / "media"
    media.mkdir()
    hass.config.media_dirs = {"local": str(media)}
    # Everything that adds HTTP routes loads first: the router is frozen once the server runs.
    for component in (
        "http",
        "webhook",
        "repairs",
        "notify",
        "image",
        "media_source",
        "diagnostics",
        DOMAIN,
    ):
        assert await async_setup_component(hass, component, {})
    client = await hass_client_no_auth()
    url = str(client.make_url("/")).rstrip("/")
    await hass.config.async_update(internal_url=url, external_url=url)
    HA_URLS.append(url)
    return client


@dataclass
class Bus:
    """Collects Home Assistant bus events and state changes so tests can wait for them."""

    hass: HomeAssistant
    events: dict[str, list[Event]] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def listen(self, event_type: str) -> list[Event]:
        """Start collecting one event type."""
        collected = self.events.setdefault(event_type, [])

        @callback
        def collect(event: Event) -> None:
            collected.append(event)
            self.hass.async_create_task(self._notify())

        self.hass.bus.async_listen(event_type, collect)
        return collected

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, condition: Callable[[], Any]) -> None:
        """Wait (at most five seconds) until the condition holds after some bus activity."""
        async with asyncio.timeout(5), self.changed:
            while not condition():
                await self.changed.wait()


@pytest.fixture
def bus(hass: HomeAssistant) -> Bus:
    """Bus events of the integration, and state changes."""
    collector = Bus(hass)
    collector.listen("state_changed")
    return collector


def state(hass: HomeAssistant, entity_id: str) -> State:
    """The current state, which must exist."""
    current = hass.states.get(entity_id)
    assert current is not None, f"{entity_id} does not exist"
    return current


@pytest.fixture
async def simulator(start_simulator: StartSimulator, ha_client: TestClient) -> SimulatorHandle:
    """The simulator (both products), with Home Assistant's HTTP server already up."""
    return await start_simulator()


async def pair_wuzapi_user(simulator: SimulatorHandle) -> None:
    """Connect the wuzapi user and scan its QR, as the phone would."""
    await Wuzapi(simulator).link()


async def pair_maytapi_phone(simulator: SimulatorHandle) -> None:
    """Scan the QR of Maytapi phone 12."""
    await Maytapi(simulator).link()


def wuzapi_entry(
    simulator: SimulatorHandle,
    *,
    options: dict[str, Any] | None = None,
    chats: Sequence[tuple[str, str]] = (),
) -> MockConfigEntry:
    """An entry "Home" for the simulator's wuzapi user."""
    return Wuzapi(simulator).entry(options=options, chats=chats)


def maytapi_entry(simulator: SimulatorHandle) -> MockConfigEntry:
    """An entry "Shop" for the simulator's Maytapi phone 12 (with a webhook id of its own)."""
    return Maytapi(simulator).entry(title="Shop", webhook_id=WEBHOOK_ID[::-1])


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry and set it up."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def wuzapi_account(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> AsyncIterator[MockConfigEntry]:
    """A loaded wuzapi account with one chat, whose phone is linked."""
    await pair_wuzapi_user(simulator)
    return await setup_entry(
        hass, wuzapi_entry(simulator, chats=[("491700000002@s.whatsapp.net", "Anna")])
    )


@pytest.fixture
async def maytapi_account(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> AsyncIterator[MockConfigEntry]:
    """A loaded Maytapi account whose phone is linked."""
    await pair_maytapi_phone(simulator)
    return await setup_entry(hass, maytapi_entry(simulator))


# Driving flows and timers


async def start(hass: HomeAssistant, kind: str) -> dict[str, Any]:
    """Open the flow and pick the gateway."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [descriptor.kind for descriptor in GATEWAYS]
    result = await configure(hass, result, {"next_step_id": kind})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == kind
    return result


async def configure(
    hass: HomeAssistant, result: dict[str, Any], user_input: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Submit a step (or, without input, reload it the way the frontend does)."""
    return await hass.config_entries.flow.async_configure(result["flow_id"], user_input)


def tick(hass: HomeAssistant, delta: Any = PAIR_POLL_INTERVAL) -> None:
    """Let the pairing watcher look at the gateway again (or give up, after the time-out)."""
    # A second more than needed, so that a timer set just now is due as well.
    async_fire_time_changed(hass, dt_util.utcnow() + delta + timedelta(seconds=1))


async def tick_until(
    hass: HomeAssistant, condition: Callable[[], Any], delta: Any = PAIR_POLL_INTERVAL
) -> None:
    """Let the pairing watcher look again, as often as it takes, until the condition holds."""
    for _ in range(500):
        tick(hass, delta)
        await asyncio.sleep(0.01)  # the watcher's request, on loopback
        if condition():
            return
    raise AssertionError("the condition never held")


async def watcher_done(
    hass: HomeAssistant, result: dict[str, Any], delta: Any = PAIR_POLL_INTERVAL
) -> None:
    """Wake the pairing watcher and wait until it has finished (linked or timed out).

    A tick that comes while the watcher's request is still in flight finds no timer to fire:
    tick again until it is done, instead of waiting for its timer in real time.
    """
    task = hass.config_entries.flow._progress[result["flow_id"]].async_get_progress_task()
    assert task is not None
    # A bounded number of tries, not asyncio.timeout: firing fake time would fire that too.
    for _ in range(500):
        tick(hass, delta)
        await asyncio.wait({task}, timeout=0.01)
        if task.done():
            break
    assert task.done()
    await hass.async_block_till_done()  # the flow manager's follow-up step


async def served(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait, a bounded number of short turns on loopback, until the simulator shows it did
    something (asked of it over HTTP)."""
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def poll(hass: HomeAssistant, seconds: int = 61) -> None:
    """Let the status poll run."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    # The coordinator refreshes in a background task.
    await hass.async_block_till_done(wait_background_tasks=True)


def reauth_flows(hass: HomeAssistant) -> list[dict]:
    """The reauth flows in progress."""
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


@pytest.fixture
async def account(hass: HomeAssistant, kind: Kind) -> MockConfigEntry:
    """A loaded account of the test's `kind`, whose phone is linked, with a chat "Anna"."""
    await kind.link()
    return await setup_entry(hass, kind.entry(chats=[(f"{CONTACT}@s.whatsapp.net", "Anna")]))


async def start_kind(name: str, start_simulator: StartSimulator) -> Kind:
    """The driver of a gateway kind (or wuzapi build), with a simulator configured for it."""
    driver = KINDS[name]
    return driver(await start_simulator(**driver.simulator_options()))


@asynccontextmanager
async def restarted_home_assistant(
    hass: HomeAssistant, entry: MockConfigEntry
) -> AsyncIterator[tuple[HomeAssistant, Bus, MockConfigEntry]]:
    """A second Home Assistant with the same storage and the same entry, set up.

    The first one is stopped before; the second one is stopped after.
    """
    await hass.async_stop()
    async with async_test_home_assistant(config_dir=hass.config.config_dir) as restarted:
        restarted.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        collector = Bus(restarted)
        again = MockConfigEntry(
            domain=DOMAIN,
            entry_id=entry.entry_id,
            unique_id=entry.unique_id,
            title=entry.title,
            data=dict(entry.data),
        )
        yield restarted, collector, again
        await restarted.async_stop()

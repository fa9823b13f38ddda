"""Setting up, unloading and recovering an account."""

from __future__ import annotations

import logging
import sys

from aiohttp.test_utils import TestClient
import homeassistant.components
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatsapp_gateway.const import DOMAIN
from custom_components.whatsapp_gateway.gateway import OPTIONS_VERSION_KEY, WuzapiOptions
from custom_components.whatsapp_gateway.webhook import gateway_is_local
from tests.conftest import PHONE_ID, USER_TOKEN, SimulatorHandle

from .conftest import (
    maytapi_entry,
    pair_maytapi_phone,
    pair_wuzapi_user,
    poll,
    reauth_flows,
    setup_entry,
    state,
    wuzapi_entry,
)


async def maytapi_webhook(simulator: SimulatorHandle) -> str:
    """Where the simulator's Maytapi phone posts its events."""
    phones = await simulator.get("maytapi/phones")
    url: str = next(phone["webhook"] for phone in phones if str(phone["id"]) == PHONE_ID)
    return url


async def test_load_and_unload(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """A linked account loads with its entities and unloads cleanly."""
    assert wuzapi_account.state is ConfigEntryState.LOADED
    assert state(hass, "sensor.home_session").state == "connected"
    assert state(hass, "notify.anna").state != STATE_UNAVAILABLE
    assert state(hass, "image.home_qr_code").state == STATE_UNKNOWN  # nothing to scan: no error
    await hass.config_entries.async_unload(wuzapi_account.entry_id)
    assert wuzapi_account.state is ConfigEntryState.NOT_LOADED


async def test_settings_get_their_version_at_setup(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry
) -> None:
    """An entry stored before gateway options had versions is given the current one once."""
    assert wuzapi_account.data[OPTIONS_VERSION_KEY] == WuzapiOptions.version
    assert wuzapi_account.data["token"] == USER_TOKEN  # the rest as it was


async def test_gateway_down_at_setup(hass: HomeAssistant, ha_client: TestClient) -> None:
    """An unreachable gateway means: try again later."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="491511234567",
        data={"kind": "wuzapi", "url": "http://127.0.0.1:9", "token": "t", "webhook_id": "w"},
    )
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    # What the integrations page shows: said once, in words.
    assert entry.reason is not None
    assert entry.reason.startswith(
        "Cannot reach the WhatsApp gateway: no connection to http://127.0.0.1:9 for the "
        "status request"
    )
    assert entry.reason.lower().count("cannot") == 1


async def test_unknown_gateway_kind(
    hass: HomeAssistant, ha_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry for a gateway this version does not know cannot be set up, and says why."""
    entry = MockConfigEntry(domain=DOMAIN, data={"kind": "carrier-pigeon", "webhook_id": "w"})
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "Unknown gateway kind 'carrier-pigeon'" in caplog.text
    caplog.clear()  # Home Assistant logs that error itself; it is the expected outcome


async def test_logged_out_at_setup_starts_reauth(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> None:
    """A session that is not linked asks the user to link the phone again."""
    entry = await setup_entry(hass, wuzapi_entry(simulator))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert len(reauth_flows(hass)) == 1


async def test_wrong_token_at_setup_starts_reauth(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> None:
    """A token the gateway refuses leads to reauth too."""
    entry = wuzapi_entry(simulator)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": "wrong"})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert len(reauth_flows(hass)) == 1


async def test_unreachable_then_back(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The gateway goes away: entities unavailable, logged once; it comes back by itself."""
    # Status 503 on every try of two polls (aiohttp itself retries a dropped connection).
    await simulator.fault(status=503, times=2, path="/session/status")
    await poll(hass)
    await poll(hass)
    for entity_id in ("sensor.home_session", "sensor.home_last_message", "event.home_message"):
        assert state(hass, entity_id).state == STATE_UNAVAILABLE
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "Cannot reach the WhatsApp gateway: " in message
    # Said once, and in words: no doubled "cannot reach", no internal tag such as "(status)".
    assert message.lower().count("cannot reach") == 1
    assert "(status)" not in message
    assert "is unavailable (HTTP 503) for the status request" in message
    caplog.clear()  # the one error above is the expected "log once"

    await poll(hass)
    assert state(hass, "sensor.home_session").state == "connected"
    assert state(hass, "sensor.home_last_message").state != STATE_UNAVAILABLE
    assert "data recovered" in caplog.text


async def test_dropped_socket_is_left_to_reconnect_by_itself(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """One disconnected reading starts nothing: whatsmeow is reconnecting, and a connect
    meanwhile would start a second client on the server."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/drop_socket")
    await hass.async_block_till_done()
    await poll(hass)
    assert state(hass, "sensor.home_session").state == "disconnected"
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/reconnect")
    await poll(hass)
    assert state(hass, "sensor.home_session").state == "connected"
    assert (await simulator.wuzapi_user())["clients"] == 1


async def test_stopped_session_is_started_again(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """A restarted gateway runs no client: the second disconnected reading connects it, the
    fourth would try again, not every one in between."""
    await simulator.control("wuzapi/restart")
    await poll(hass)
    assert state(hass, "sensor.home_session").state == "disconnected"
    assert not (await simulator.wuzapi_user())["client"]
    await simulator.fault(status=500, path="/session/connect")  # the first try fails
    await poll(hass)
    await poll(hass)
    assert not (await simulator.wuzapi_user())["client"]
    await poll(hass)
    assert state(hass, "sensor.home_session").state == "connected"
    assert (await simulator.wuzapi_user())["clients"] == 1


async def test_logout_from_phone(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """Unlinking on the phone shows as logged out at once and starts a reauth flow."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/logout_from_phone")
    await hass.async_block_till_done()
    assert state(hass, "sensor.home_session").state == "logged_out"
    assert len(reauth_flows(hass)) == 1
    # The poll agrees, and does not start a second flow.
    await poll(hass)
    assert state(hass, "sensor.home_session").state == "logged_out"
    assert len(reauth_flows(hass)) == 1


@pytest.mark.parametrize("then", ["reload", "status poll"])
async def test_cloud_gateway_without_external_url(
    hass: HomeAssistant, simulator: SimulatorHandle, issue_registry: ir.IssueRegistry, then: str
) -> None:
    """Maytapi runs on the internet: without an external URL there is a repair issue. Once
    one is set, a reload or (without one) the next status poll registers the webhook."""
    await hass.config.async_update(external_url=None)
    await pair_maytapi_phone(simulator)
    entry = await setup_entry(hass, maytapi_entry(simulator))
    assert entry.state is ConfigEntryState.LOADED
    issue = issue_registry.async_get_issue(DOMAIN, f"webhook_unreachable_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {"title": "Shop"}
    assert await maytapi_webhook(simulator) == ""

    url = hass.config.internal_url
    await hass.config.async_update(external_url=url)
    if then == "reload":
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
    else:
        await poll(hass)
    assert issue_registry.async_get_issue(DOMAIN, f"webhook_unreachable_{entry.entry_id}") is None
    assert (await maytapi_webhook(simulator)).startswith(url)


async def test_webhook_refused_at_setup(hass: HomeAssistant, simulator: SimulatorHandle) -> None:
    """A gateway that refuses the webhook address means: try again later."""
    await pair_wuzapi_user(simulator)
    await simulator.fault(status=500, times=1, path="/webhook")
    entry = await setup_entry(hass, wuzapi_entry(simulator))
    assert entry.state is ConfigEntryState.SETUP_RETRY
    # Home Assistant tries again by itself; the webhook is registered anew and all is well.
    await poll(hass, 300)
    assert entry.state is ConfigEntryState.LOADED
    assert (await simulator.wuzapi_user())["webhook"].endswith(entry.data["webhook_id"])


class FakeCloud:
    """Stands in for Home Assistant Cloud (Nabu Casa), which cannot run in tests."""

    class CloudNotAvailable(Exception):
        pass

    def __init__(self) -> None:
        self.created: list[str] = []
        self.deleted: list[str] = []

    def async_active_subscription(self, hass: HomeAssistant) -> bool:
        return True

    async def async_create_cloudhook(self, hass: HomeAssistant, webhook_id: str) -> str:
        self.created.append(webhook_id)
        return f"https://hooks.nabu.casa/{webhook_id}"

    async def async_delete_cloudhook(self, hass: HomeAssistant, webhook_id: str) -> None:
        self.deleted.append(webhook_id)


async def test_cloud_gateway_uses_cloudhook(
    hass: HomeAssistant,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Without an external URL but with Home Assistant Cloud, a cloudhook is created and kept."""
    cloud = FakeCloud()
    monkeypatch.setitem(sys.modules, "homeassistant.components.cloud", cloud)
    monkeypatch.setattr(homeassistant.components, "cloud", cloud, raising=False)
    hass.config.components.add("cloud")
    await hass.config.async_update(external_url=None)
    await pair_maytapi_phone(simulator)
    entry = await setup_entry(hass, maytapi_entry(simulator))
    hook = f"https://hooks.nabu.casa/{entry.data['webhook_id']}"
    assert await maytapi_webhook(simulator) == hook
    assert entry.data["cloudhook_url"] == hook
    assert issue_registry.async_get_issue(DOMAIN, f"webhook_unreachable_{entry.entry_id}") is None

    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert len(cloud.created) == 1  # the stored cloudhook is reused

    await hass.config_entries.async_remove(entry.entry_id)
    assert cloud.deleted == [entry.data["webhook_id"]]


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://192.168.1.20:8080", True),
        ("http://127.0.0.1:8080", True),
        ("http://wuzapi:8080", True),
        ("http://gateway.local:8080", True),
        ("https://wuzapi.example.com", False),
        ("http://93.184.216.34:8080", False),
    ],
)
def test_gateway_is_local(url: str, local: bool) -> None:
    """Where a wuzapi server runs decides whether Home Assistant's internal URL will do."""
    entry = MockConfigEntry(domain=DOMAIN, data={"kind": "wuzapi", "url": url})
    assert gateway_is_local(entry) is local

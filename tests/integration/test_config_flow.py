"""The config flow against the simulator: credentials, QR and code pairing, reauth, options."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import translation
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatsapp_gateway.config_flow import qr_markdown
from custom_components.whatsapp_gateway.const import DOMAIN, PAIR_TIMEOUT
from custom_components.whatsapp_gateway.gateway import WuzapiGateway
from simulator import MaytapiConfig, WuzapiConfig
from tests.conftest import (
    ADMIN_TOKEN,
    API_KEY,
    PHONE_ID,
    PRODUCT_ID,
    USER_TOKEN,
    SimulatorHandle,
    StartSimulator,
)
from tests.translations import LANGUAGES, texts

from .conftest import (
    MAYTAPI_PHONE,
    WUZAPI_PHONE,
    Bus,
    configure,
    flow_result_keys,
    pair_wuzapi_user,
    reauth_flows,
    setup_entry,
    start,
    state,
    tick,
    tick_until,
    watcher_done,
    wuzapi_entry,
)
from .kinds import Waabot

QR_PREFIX = "![QR code](data:image/png;base64,"


async def scan(simulator: SimulatorHandle, phone: str = WUZAPI_PHONE) -> None:
    """The phone scans the QR shown by the wuzapi user."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/scan", {"phone": phone, "name": "Home"})


async def reauth_showing_qr(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatorHandle
) -> dict[str, Any]:
    """Unlink the phone and take the reauth flow Home Assistant starts to the QR code."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/logout_from_phone")
    await hass.async_block_till_done()
    [result] = reauth_flows(hass)
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.MENU
    result = await configure(hass, result, {"next_step_id": "pair"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    return result


async def wuzapi_showing_qr(hass: HomeAssistant, simulator: SimulatorHandle) -> dict[str, Any]:
    """A new wuzapi account's flow, at its QR code."""
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    result = await configure(hass, result, {"next_step_id": "pair"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    return result


async def test_wuzapi_qr_pairing(hass: HomeAssistant, simulator: SimulatorHandle, bus: Bus) -> None:
    """URL and token, then the QR: it refreshes on rotation and the flow ends by itself."""
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url + "/", "token": USER_TOKEN})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["pair", "pairing_code"]

    result = await configure(hass, result, {"next_step_id": "pair"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "scan_qr"
    first_qr = result["description_placeholders"]["qr"]
    assert first_qr.startswith(QR_PREFIX)

    # WhatsApp rotates the code: the dialog is told to reload and then shows the new one.
    progressed = bus.listen("data_entry_flow_progressed")
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/rotate_qr")
    tick(hass)
    refresh = {"handler": DOMAIN, "flow_id": result["flow_id"], "refresh": True}
    await bus.until(lambda: any(e.data == refresh for e in progressed))
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["description_placeholders"]["qr"].startswith(QR_PREFIX)
    assert result["description_placeholders"]["qr"] != first_qr

    await scan(simulator)
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"WhatsApp +{WUZAPI_PHONE}"
    entry = result["result"]
    assert entry.unique_id == WUZAPI_PHONE
    assert entry.data["kind"] == "wuzapi"
    assert entry.data["url"] == simulator.url
    assert entry.data["token"] == USER_TOKEN
    assert len(entry.data["webhook_id"]) == 64
    assert len(entry.data["webhook_secret"]) == 64
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # The entity ids read as a WhatsApp account, not as a number (templates cannot start so).
    assert state(hass, f"sensor.whatsapp_{WUZAPI_PHONE}_session").state == "connected"


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_flows_in_every_language(
    hass: HomeAssistant, simulator: SimulatorHandle, language: str
) -> None:
    """Set up in each language, the texts Home Assistant loads for each step are ours in it."""
    hass.config.language = language
    seen: list[str] = []

    async def shown(result: dict[str, Any], category: str, prefix: str | None = None) -> None:
        loaded = await translation.async_get_translations(hass, language, category, [DOMAIN])
        for key in flow_result_keys(prefix or category, result):
            text = loaded.get(f"component.{DOMAIN}.{key}")
            assert text == texts(language)[key], key
            seen.append(key)
            if language != "en" and key.endswith("title"):
                assert text != texts("en")[key], f"{key} is still English"

    result = await start(hass, "wuzapi")
    await shown(result, "config")
    result = await configure(hass, result, {"url": simulator.url, "token": "wrong"})
    await shown(result, "config")
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    await shown(result, "config")
    result = await configure(hass, result, {"next_step_id": "pair"})
    await shown(result, "config")
    await scan(simulator)
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    await shown(result, "options")
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "chat"), context={"source": SOURCE_USER}
    )
    await shown(result, "config_subentries", "config_subentries.chat")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"chat_id": "0170 1234567"}
    )
    await shown(result, "config_subentries", "config_subentries.chat")
    assert "config.error.credential_refused" in seen
    assert "config.progress.scan_qr" in seen
    assert "options.step.init.data_description.status_interval" in seen
    assert "config_subentries.chat.error.national_number" in seen


@pytest.mark.parametrize("build", ["current", "2025-05"])
async def test_wuzapi_admin_token_creates_a_user(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, build: str
) -> None:
    """Without a user token, the admin token makes a new wuzapi user (and is not kept).

    A May-2025 build refuses the newer event names; the user is made with the old ones.
    """
    simulator = await start_simulator(wuzapi=WuzapiConfig(build=build, auto_receipts=False))
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url})
    assert result["errors"] == {"base": "token_required"}
    result = await configure(hass, result, {"url": simulator.url, "token": "wrong"})
    assert result["errors"] == {"token": "credential_refused"}
    # Each submit is taken as it is: the token refused before is not tried again.
    result = await configure(hass, result, {"url": simulator.url, "admin_token": ADMIN_TOKEN})
    assert result["type"] is FlowResultType.MENU
    users = await simulator.get("wuzapi/users")
    assert len(users) == 2
    assert users[1]["name"].startswith("home-assistant-")
    events = users[1]["events"]
    assert ("Message" in events) and ("QR" in events) is (build == "current")
    hass.config_entries.flow.async_abort(result["flow_id"])


@pytest.mark.parametrize(
    ("user_input", "error"),
    [
        ({"token": "wrong"}, {"token": "credential_refused"}),
        ({"url": "http://127.0.0.1:9", "token": USER_TOKEN}, {"base": "cannot_connect"}),
        ({"admin_token": "wrong"}, {"admin_token": "credential_refused"}),
    ],
)
async def test_wuzapi_errors_and_recovery(
    hass: HomeAssistant,
    simulator: SimulatorHandle,
    user_input: dict[str, str],
    error: dict[str, str],
) -> None:
    """Each credential problem has its error; fixing the input goes on."""
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url, **user_input})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == error
    await pair_wuzapi_user(simulator)
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY  # already linked: nothing to scan


@pytest.mark.parametrize("url", ["192.168.1.20:8080", "http://", "ftp://gateway", "wuzapi"])
async def test_an_address_that_is_no_web_address(
    hass: HomeAssistant, simulator: SimulatorHandle, url: str
) -> None:
    """An address without http:// (or without a host) is named as such, not "cannot
    connect"; nothing is asked of any gateway."""
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": url, "token": USER_TOKEN})
    assert result["errors"] == {"url": "invalid_url"}
    result = await configure(hass, result, {"url": simulator.url, "token": "wrong"})
    assert result["errors"] == {"token": "credential_refused"}


async def test_unexpected_error(
    hass: HomeAssistant,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in our code shows "unknown" instead of a broken dialog."""

    async def broken(self: WuzapiGateway) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(WuzapiGateway, "status", broken)
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    assert result["errors"] == {"base": "unknown"}
    assert "RuntimeError: bug" in caplog.text  # logged with its traceback, for a bug report
    caplog.clear()


async def test_already_configured(hass: HomeAssistant, simulator: SimulatorHandle) -> None:
    """The same WhatsApp account cannot be added twice."""
    await pair_wuzapi_user(simulator)
    await setup_entry(hass, wuzapi_entry(simulator))
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_pairing_code(hass: HomeAssistant, simulator: SimulatorHandle) -> None:
    """Link with phone number: the code is shown until the phone has entered it."""
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    result = await configure(hass, result, {"next_step_id": "pairing_code"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pairing_code"
    result = await configure(hass, result, {"phone": "12"})
    assert result["errors"] == {"phone": "invalid_phone"}
    result = await configure(hass, result, {"phone": "0151 1234567"})
    assert result["errors"] == {"phone": "national_number"}
    result = await configure(hass, result, {"phone": "+49 151 1234567"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "enter_code"
    code = result["description_placeholders"]["code"]
    user = await simulator.wuzapi_user()
    assert code == user["linking_code"]
    assert user["linking_phone"] == WUZAPI_PHONE

    await simulator.control(f"wuzapi/users/{USER_TOKEN}/link_code", {"code": code})
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == WUZAPI_PHONE
    assert result["title"] == f"WhatsApp +{WUZAPI_PHONE}"


async def test_pairing_code_gateway_error(hass: HomeAssistant, simulator: SimulatorHandle) -> None:
    """A gateway that refuses to give a code is an error on the form."""
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    result = await configure(hass, result, {"next_step_id": "pairing_code"})
    await simulator.fault(status=500, times=1, path="/session/pairphone")
    result = await configure(hass, result, {"phone": "+49 151 1234567"})
    assert result["errors"] == {"base": "cannot_connect"}
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_time_out_then_retry(hass: HomeAssistant, simulator: SimulatorHandle) -> None:
    """Nobody scans in time: a step offers to try again, and the retry works."""
    result = await wuzapi_showing_qr(hass, simulator)
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/qr_timeout")
    await watcher_done(hass, result, PAIR_TIMEOUT)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "pair_timeout"
    assert result["menu_options"] == ["pair", "pairing_code"]

    result = await configure(hass, result, {"next_step_id": "pair"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["description_placeholders"]["qr"].startswith(QR_PREFIX)  # a fresh code
    await scan(simulator)
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_closing_the_dialog_stops_watching(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> None:
    """An abandoned pairing leaves nothing running."""
    result = await wuzapi_showing_qr(hass, simulator)
    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()
    assert hass.config_entries.flow.async_progress() == []


async def test_maytapi_existing_phone(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: Any
) -> None:
    """Product id and key, pick the phone, scan its QR (Maytapi has no pairing code)."""
    simulator = await start_simulator(maytapi=MaytapiConfig(ack_interval=0))
    result = await start(hass, "maytapi")
    result = await configure(
        hass, result, {"product_id": PRODUCT_ID, "api_key": "wrong", "url": simulator.url}
    )
    assert result["errors"] == {"api_key": "credential_refused"}
    # Maytapi tells which of the two it refused.
    result = await configure(
        hass, result, {"product_id": "other", "api_key": API_KEY, "url": simulator.url}
    )
    assert result["errors"] == {"product_id": "credential_refused"}
    result = await configure(
        hass, result, {"product_id": PRODUCT_ID, "api_key": API_KEY, "url": simulator.url}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "maytapi_phone"
    # Readable and translated: the session sensor's state name, not Maytapi's "qr-code".
    assert result["data_schema"].schema["phone_id"].config["options"] == [
        {"value": PHONE_ID, "label": f"{PHONE_ID} (Waiting for the phone)"},
        {"value": "new", "label": "new"},
    ]
    result = await configure(hass, result, {"phone_id": PHONE_ID})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["description_placeholders"]["qr"].startswith(QR_PREFIX)

    await simulator.control(f"maytapi/phones/{PHONE_ID}/scan", {"number": MAYTAPI_PHONE})
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"WhatsApp +{MAYTAPI_PHONE}"
    assert result["data"]["phone_id"] == PHONE_ID
    assert result["data"]["product_id"] == PRODUCT_ID
    # Listing and picking added no phone: that costs money, only the user asks for it.
    assert [phone["id"] for phone in await simulator.get("maytapi/phones")] == [int(PHONE_ID)]


async def test_maytapi_new_phone(hass: HomeAssistant, simulator: SimulatorHandle) -> None:
    """ "Add a new phone" creates one; when the plan is full that is an error on the form."""
    result = await start(hass, "maytapi")
    result = await configure(
        hass, result, {"product_id": PRODUCT_ID, "api_key": API_KEY, "url": simulator.url}
    )
    result = await configure(hass, result, {"phone_id": "new"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert len(await simulator.get("maytapi/phones")) == 2
    hass.config_entries.flow.async_abort(result["flow_id"])

    result = await start(hass, "maytapi")
    result = await configure(
        hass, result, {"product_id": PRODUCT_ID, "api_key": API_KEY, "url": simulator.url}
    )
    result = await configure(hass, result, {"phone_id": "new"})
    assert result["errors"] == {"base": "cannot_add_phone"}


async def test_reauth_same_phone(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """After an unlink, reauth links the same phone again and keeps the entities."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/logout_from_phone")
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await configure(hass, flow)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"]["account"] == "Home"
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.MENU
    result = await configure(hass, result, {"next_step_id": "pair"})
    await scan(simulator)
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert wuzapi_account.state is ConfigEntryState.LOADED
    assert state(hass, "sensor.home_session").state == "connected"
    assert state(hass, "notify.anna")


async def test_reauth_other_phone(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """Another phone scanning the code is refused and unlinked again; at once the session
    shows it is not linked, and linking is asked for again."""
    result = await reauth_showing_qr(hass, wuzapi_account, simulator)
    await scan(simulator, phone="491709999999")
    await watcher_done(hass, result)
    assert state(hass, "sensor.home_session").state == "connected"  # the stranger, for now
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert not (await simulator.wuzapi_user())["paired"]
    assert state(hass, "sensor.home_session").state == "logged_out"
    await hass.async_block_till_done()
    [again] = reauth_flows(hass)
    assert again["flow_id"] != result["flow_id"]
    assert again["context"]["entry_id"] == wuzapi_account.entry_id


async def test_credentials_refused_while_waiting_for_the_phone(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> None:
    """A token revoked while the QR code is shown ends the wait with the reason, at once."""
    result = await wuzapi_showing_qr(hass, simulator)
    await simulator.fault(status=401, path="/session/status")
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "pairing_refused"
    assert "rejected the user token" in result["description_placeholders"]["error"]


@pytest.mark.parametrize(("status", "error"), [(503, "cannot_connect"), (401, "invalid_auth")])
async def test_reauth_errors_and_recovery(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    status: int,
    error: str,
) -> None:
    """Reauth shows why the gateway cannot be checked; once it can, all is well again."""
    result = await wuzapi_account.start_reauth_flow(hass)
    await simulator.fault(status=status, times=1, path="/session/status")
    result = await configure(hass, result, {})
    assert result["errors"] == {"base": error}
    # Still linked: nothing to scan, the account is simply fine again.
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"


async def test_reconfigure(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: Any
) -> None:
    """A new token for the same account is taken; one for another account is refused."""
    simulator = await start_simulator(
        wuzapi=WuzapiConfig(user_tokens=(USER_TOKEN, "other-token"), auto_receipts=False)
    )
    await pair_wuzapi_user(simulator)
    entry = await setup_entry(hass, wuzapi_entry(simulator))

    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    # The form shows the address back, never the token.
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested == {"url": simulator.url}
    result = await configure(hass, result, {"url": simulator.url, "token": "nope"})
    assert result["errors"] == {"token": "credential_refused"}
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"

    other = await simulator.wuzapi_user("other-token")
    async with simulator.session.post(
        f"{simulator.url}/session/connect", headers={"Token": "other-token"}, json={}
    ):
        pass
    await simulator.control(f"wuzapi/users/{other['id']}/scan", {"phone": "491709999999"})
    result = await entry.start_reconfigure_flow(hass)
    result = await configure(hass, result, {"url": simulator.url, "token": "other-token"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert entry.data["token"] == USER_TOKEN


async def test_options(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """Options are saved and the account reloads with them."""
    result = await hass.config_entries.options.async_init(wuzapi_account.entry_id)
    assert result["type"] is FlowResultType.FORM
    modes = result["data_schema"].schema["inbound_mode"].config["options"]
    assert modes == ["auto", "webhook"]  # wuzapi cannot be polled for messages
    # The help texts say what fits, so that a refused number is not a riddle.
    help_texts = await translation.async_get_translations(hass, "en", "options", [DOMAIN])
    status_help = help_texts[
        f"component.{DOMAIN}.options.step.init.data_description.status_interval"
    ]
    placeholders = result["description_placeholders"]
    assert "10 to 3600 seconds" in status_help.format(**placeholders)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "inbound_mode": "webhook",
            "status_interval": 120.0,
            "fire_own_messages": True,
            "media_keep_days": 7.0,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert wuzapi_account.options == {
        "inbound_mode": "webhook",
        "status_interval": 120,
        "fire_own_messages": True,
        "mark_read": False,
        "show_typing": False,
        "groups_mentioned_only": False,
        "media_keep_days": 7,
        "media_max_mb": 1000,
    }
    assert wuzapi_account.runtime_data.coordinator.update_interval.total_seconds() == 120


async def test_chat_subentries(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """Adding a chat gives it a notify entity; bad and duplicate chats are refused."""
    flow = await hass.config_entries.subentries.async_init(
        (wuzapi_account.entry_id, "chat"), context={"source": SOURCE_USER}
    )
    assert flow["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(
        flow["flow_id"], {"chat_id": "hello"}
    )
    assert result["errors"] == {"chat_id": "invalid_chat"}
    result = await hass.config_entries.subentries.async_configure(
        flow["flow_id"], {"chat_id": "0170 123"}
    )
    assert result["errors"] == {"chat_id": "national_number"}
    result = await hass.config_entries.subentries.async_configure(
        flow["flow_id"], {"chat_id": "120363012345678901@g.us", "name": "Family"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert state(hass, "notify.family")

    flow = await hass.config_entries.subentries.async_init(
        (wuzapi_account.entry_id, "chat"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        flow["flow_id"], {"chat_id": "+49 170 0000002"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    subentry = next(s for s in wuzapi_account.subentries.values() if s.title == "Family")
    result = await wuzapi_account.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"chat_id": "120363012345678901@g.us", "name": "Our family"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert wuzapi_account.subentries[subentry.subentry_id].title == "Our family"

    # notify.send_message writes to the chat.
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.anna", "message": "Dinner is ready", "title": "Kitchen"},
        blocking=True,
    )
    [request] = await simulator.get(f"wuzapi/users/{USER_TOKEN}/sent")
    assert request["endpoint"] == "/chat/send/text"
    assert request["body"]["Phone"] == "491700000002"
    assert request["body"]["Body"] == "*Kitchen*\nDinner is ready"


async def add_chat(hass: HomeAssistant, entry: MockConfigEntry, chat_id: str) -> str:
    """Add a chat without a name; the title it gets."""
    flow = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "chat"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        flow["flow_id"], {"chat_id": chat_id}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    title: str = result["title"]
    return title


async def test_a_group_added_without_a_name_gets_its_subject(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """wuzapi tells a group's subject: that is the chat's name. Where it cannot (a group the
    account is not in, a gateway that does not know), the id is."""
    await simulator.control("wuzapi/groups", {"jid": "120363000000000001@g.us", "name": "Family"})
    assert await add_chat(hass, wuzapi_account, "120363000000000001@g.us") == "Family"
    assert await add_chat(hass, wuzapi_account, "120363000000000002@g.us") == (
        "120363000000000002@g.us"
    )
    assert await add_chat(hass, wuzapi_account, "+49 170 0000009") == "+491700000009"


async def test_qr_not_ready_yet(hass: HomeAssistant, simulator: SimulatorHandle, bus: Bus) -> None:
    """A gateway that has no QR at first: the dialog waits, then shows it when it comes."""
    result = await start(hass, "wuzapi")
    result = await configure(hass, result, {"url": simulator.url, "token": USER_TOKEN})
    await simulator.fault(status=500, times=2, path="/session/qr")
    await simulator.fault(status=503, times=1, path="/session/status")
    progressed = bus.listen("data_entry_flow_progressed")
    result = await configure(hass, result, {"next_step_id": "pair"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["description_placeholders"]["qr"] == ""
    await tick_until(hass, lambda: progressed)
    result = await configure(hass, result)
    assert result["description_placeholders"]["qr"].startswith(QR_PREFIX)
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_wrong_account_that_cannot_be_unlinked(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """Even when unlinking the stranger fails, the entry is not taken over; the dialog says
    the other phone is still linked and what to do about it."""
    result = await reauth_showing_qr(hass, wuzapi_account, simulator)
    await scan(simulator, phone="491709999999")
    await simulator.fault(status=500, times=1, path="/session/logout")
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["reason"] == "wrong_account_still_linked"
    assert "logout" in result["description_placeholders"]["error"]
    assert (await simulator.wuzapi_user())["paired"]
    assert wuzapi_account.unique_id == WUZAPI_PHONE


async def test_maytapi_reconfigure(
    hass: HomeAssistant, maytapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """Maytapi credentials can be changed; the phone stays the same."""
    result = await maytapi_account.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await configure(
        hass, result, {"product_id": PRODUCT_ID, "api_key": API_KEY, "url": simulator.url}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert maytapi_account.data["phone_id"] == PHONE_ID


def test_qr_markdown_without_image() -> None:
    """A gateway that gives only the QR text has no picture to embed."""
    assert qr_markdown(None) == ""
    assert qr_markdown(b"\x89PNG").startswith(QR_PREFIX)


async def test_waabot_new_instance_and_reconfigure(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> None:
    """A new Waabot instance is created and linked; later the password can be changed."""
    waabot = Waabot(simulator)
    result = await start(hass, "waabot")
    result = await configure(hass, result, waabot.credentials())
    assert result["step_id"] == "waabot_instance"
    result = await configure(hass, result, {"session_id": "new"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    created = (await simulator.get("waabot/instances"))[-1]
    await simulator.control(
        f"waabot/instances/{created['session_id']}/scan", {"number": "2348000000001"}
    )
    await watcher_done(hass, result)
    result = await configure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data["session_id"] == created["session_id"]
    assert entry.data["instance_id"] == created["_id"]
    await hass.async_block_till_done()

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await configure(hass, result, {**waabot.credentials(), "password": "wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await configure(hass, result, waabot.credentials())
    assert result["reason"] == "reconfigure_successful"

    # Another account of the same login: the instances are listed by number and state.
    result = await start(hass, "waabot")
    result = await configure(hass, result, waabot.credentials())
    options = result["data_schema"].schema["session_id"].config["options"]
    assert [option["label"] for option in options] == [
        f"{simulator.waabot_instance['session_id']} (Waiting for the phone)",
        "+2348000000001 (Connected)",
        "new",
    ]
    assert entry.data["session_id"] == created["session_id"]


def test_qr_markdown_names_the_image_type() -> None:
    """A JPEG QR (as Chat-API documents it) is shown as a JPEG; nothing shows nothing."""
    assert qr_markdown(b"\xff\xd8\xff\xe0 jpeg").startswith("![QR code](data:image/jpeg;base64,")
    assert qr_markdown(b"\x89PNG\r\n\x1a\n").startswith("![QR code](data:image/png;base64,")
    assert qr_markdown(None) == ""

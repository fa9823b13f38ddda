"""Never deaf, never lost, never doubled: the inbound path against every webhook gateway."""

from __future__ import annotations

from datetime import timedelta
import json
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from homeassistant.util.aiohttp import MockRequest
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.whatsapp_gateway.const import (
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
    HEALTH_WRITE_DELAY,
)
from custom_components.whatsapp_gateway.diagnostics import async_get_config_entry_diagnostics
from simulator import WuzapiConfig
from tests.conftest import PHONE_ID, PRODUCT_ID, USER_TOKEN, StartSimulator, fixture_bytes

from .conftest import Bus, poll, restarted_home_assistant, setup_entry, start_kind, state
from .kinds import CONTACT, KINDS, Kind, Wuzapi

WEBHOOK_KINDS = [name for name, driver in KINDS.items() if not driver.polled]
ANNA = f"{CONTACT}@s.whatsapp.net"


@pytest.fixture(params=WEBHOOK_KINDS)
async def kind(
    request: pytest.FixtureRequest, start_simulator: StartSimulator, ha_client: TestClient
) -> Kind:
    """Each gateway that pushes its messages, in turn."""
    return await start_kind(request.param, start_simulator)


def texts(bus: Bus) -> list[str]:
    """The texts of the messages fired so far."""
    return [event.data["text"] for event in bus.events.get(EVENT_MESSAGE_RECEIVED, [])]


async def test_posts_during_a_reload_all_fire(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """While the entry is not loaded its posts are held, then each fires once."""
    bus.listen(EVENT_MESSAGE_RECEIVED)
    assert await hass.config_entries.async_unload(account.entry_id)
    for text in ("one", "two", "three"):
        await kind.write(text=text, **{"from": CONTACT})
    deliveries = [d for d in await kind.simulator.webhook_log() if b"three" in d.body]
    assert deliveries and all(d.status == 200 for d in deliveries)
    assert texts(bus) == []

    assert await hass.config_entries.async_setup(account.entry_id)
    await hass.async_block_till_done()
    assert texts(bus) == ["one", "two", "three"]
    # The same posts again (the gateway retries): nothing new.
    for delivery in (await kind.simulator.webhook_log())[-3:]:
        async with kind.simulator.session.post(
            delivery.url, data=delivery.body, headers=delivery.headers
        ) as response:
            assert response.status == 200
    await hass.async_block_till_done()
    assert texts(bus) == ["one", "two", "three"]


async def test_options_reload_loses_nothing(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """A message written while the options are saved (the entry reloads) fires once."""
    bus.listen(EVENT_MESSAGE_RECEIVED)
    reload = hass.async_create_task(hass.config_entries.async_reload(account.entry_id))
    await kind.write(text="during", **{"from": CONTACT})
    await reload
    await hass.async_block_till_done()
    assert account.state is ConfigEntryState.LOADED
    assert texts(bus) == ["during"]


async def test_held_posts_are_bounded(
    hass: HomeAssistant,
    kind: Kind,
    account: MockConfigEntry,
    bus: Bus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond the bound a post is answered 503, which a retrying gateway repeats later."""
    monkeypatch.setattr("custom_components.whatsapp_gateway.webhook.MAX_HELD_POSTS", 1)
    bus.listen(EVENT_MESSAGE_RECEIVED)
    assert await hass.config_entries.async_unload(account.entry_id)
    await kind.write(text="kept", **{"from": CONTACT})
    await kind.write(text="refused", **{"from": CONTACT})
    assert (await kind.simulator.webhook_log())[-1].status == 503
    assert await hass.config_entries.async_setup(account.entry_id)
    await hass.async_block_till_done()
    assert texts(bus) == ["kept"]


async def test_removed_entry_takes_its_webhook(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """Once the entry is deleted nothing is held for it any more."""
    bus.listen(EVENT_MESSAGE_RECEIVED)
    assert await hass.config_entries.async_remove(account.entry_id)
    await kind.write(text="gone", **{"from": CONTACT})
    assert texts(bus) == []
    assert account.data["webhook_id"] not in hass.data[webhook.DOMAIN]  # Home Assistant's own


async def test_forgotten_webhook_is_healed_within_one_poll(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """A gateway that lost our webhook gets it back at the next status poll (where Home
    Assistant sets it: the Cloud API's is the user's, in Meta's dashboard)."""
    bus.listen(EVENT_MESSAGE_RECEIVED)
    if not kind.sets_webhook:
        assert await kind.webhook() is None  # the number's token cannot read it
        return
    ours = await kind.webhook()
    assert ours
    await kind.forget_webhook()
    assert await kind.webhook() != ours
    await poll(hass)
    assert await kind.webhook() == ours
    await kind.receive(hass, text="heard", **{"from": CONTACT})
    assert texts(bus) == ["heard"]


async def test_redelivery_after_a_restart_fires_nothing(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """The ids seen are saved: a post delivered again after a restart is not news."""
    bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.receive(hass, text="once", **{"from": CONTACT})
    assert texts(bus) == ["once"]
    delivery = next(d for d in reversed(await kind.simulator.webhook_log()) if b"once" in d.body)
    async with restarted_home_assistant(hass, account) as (restarted, again, second):
        fired = again.listen(EVENT_MESSAGE_RECEIVED)
        await setup_entry(restarted, second)
        assert second.state is ConfigEntryState.LOADED
        # The second Home Assistant serves no HTTP: the post goes in as Home Assistant
        # Cloud relays one, through the webhook component.
        request = MockRequest(
            content=delivery.body,
            mock_source="gateway",
            method="POST",
            headers=delivery.headers,
            remote="127.0.0.1",  # a LAN gateway's webhook takes posts from the LAN only
        )
        response = await webhook.async_handle_webhook(
            restarted, account.data["webhook_id"], request
        )
        assert response.status == 200
        await restarted.async_block_till_done()
        assert fired == []


async def test_last_delivery_sensor(
    hass: HomeAssistant, kind: Kind, account: MockConfigEntry, bus: Bus
) -> None:
    """When the gateway last delivered, and what was refused, written once per burst."""
    before = dt_util.utcnow()
    for text in ("a", "b", "c"):
        await kind.write(text=text, **{"from": CONTACT})
    async with kind.simulator.session.post(
        (await kind.simulator.webhook_log())[-1].url, data=b"{not json", headers={}
    ) as response:
        assert response.status in (400, 401)
    writes = [
        e for e in bus.events["state_changed"] if e.data["entity_id"] == "sensor.home_last_delivery"
    ]
    assert writes == []  # coalesced: nothing written yet
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=HEALTH_WRITE_DELAY + 1))
    await hass.async_block_till_done()
    sensor = state(hass, "sensor.home_last_delivery")
    assert dt_util.parse_datetime(sensor.state) >= before.replace(microsecond=0)
    # Refused as not understood, or (by gateways that sign) as not signed.
    reasons = ("refused_parse", "refused_signature", "refused_unsigned")
    assert sum(sensor.attributes[reason] for reason in reasons) == 1
    writes = [
        e for e in bus.events["state_changed"] if e.data["entity_id"] == "sensor.home_last_delivery"
    ]
    assert len(writes) == 1


@pytest.mark.parametrize("reload", [False, True])
async def test_gateway_that_stops_signing(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    bus: Bus,
    reload: bool,
) -> None:
    """wuzapi posts unsigned when it lost its key: refused, a repair issue, the key again.

    The issue goes with the first signed post, also when the entry was reloaded meanwhile.
    """
    kind = Wuzapi(await start_simulator(wuzapi=WuzapiConfig(auto_receipts=False)))
    await kind.link()
    entry = await setup_entry(hass, kind.entry())
    bus.listen(EVENT_MESSAGE_RECEIVED)
    issues = ir.async_get(hass)
    await kind.simulator.control(f"wuzapi/users/{USER_TOKEN}/lose_hmac_key")
    await kind.receive(hass, text="lost", **{"from": CONTACT})
    assert texts(bus) == []
    issue = issues.async_get_issue(DOMAIN, f"webhook_unsigned_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {"title": "Home"}
    assert not (await kind.simulator.wuzapi_user())["hmac_unreadable"]  # the key was pushed again
    if reload:
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()

    await kind.receive(hass, text="signed again", **{"from": CONTACT})
    assert texts(bus) == ["signed again"]
    assert issues.async_get_issue(DOMAIN, f"webhook_unsigned_{entry.entry_id}") is None
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["inbound"]["refused"]["unsigned"] == 1


async def test_old_build_is_unsigned_in_diagnostics(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient
) -> None:
    """A build that cannot sign is checked by its token, and diagnostics say so."""
    driver = await start_kind("wuzapi-2025-05", start_simulator)
    await driver.link()
    entry = await setup_entry(hass, driver.entry())
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["inbound"]["webhook_auth"] == "token"


async def test_maytapi_catches_up_after_a_restart(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, bus: Bus
) -> None:
    """What Maytapi posted while Home Assistant was stopped fires once after the start: it
    logs every post, delivered or not. What was seen before the stop fires nothing."""
    kind = await start_kind("maytapi", start_simulator)
    await kind.link()
    entry = await setup_entry(hass, kind.entry())
    bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.receive(hass, text="before", **{"from": CONTACT})
    assert texts(bus) == ["before"]
    async with restarted_home_assistant(hass, entry) as (restarted, again, second):
        # Home Assistant is down: the gateway's posts fail.
        await kind.simulator.control(
            f"maytapi/phones/{PHONE_ID}/webhook", {"url": "http://127.0.0.1:9/down"}
        )
        for text in ("while down 1", "while down 2"):
            await kind.write(text=text, **{"from": CONTACT})
        assert all(d.status is None for d in (await kind.simulator.webhook_log())[-2:])
        fired = again.listen(EVENT_MESSAGE_RECEIVED)
        await setup_entry(restarted, second)
        assert [event.data["text"] for event in fired] == ["while down 1", "while down 2"]
        # A reload catches nothing up again: it held its posts instead.
        assert await restarted.config_entries.async_reload(second.entry_id)
        await restarted.async_block_till_done()
        assert len(fired) == 2


async def test_first_start_does_not_replay_history(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, bus: Bus
) -> None:
    """A new account fires nothing of what its gateway logged before it was set up."""
    kind = await start_kind("maytapi", start_simulator)
    await kind.link()
    await kind.simulator.control(
        f"maytapi/phones/{PHONE_ID}/webhook", {"url": "http://127.0.0.1:9/elsewhere"}
    )
    await kind.write(text="old news", **{"from": CONTACT})
    bus.listen(EVENT_MESSAGE_RECEIVED)
    await setup_entry(hass, kind.entry())
    assert texts(bus) == []


async def test_catch_up_that_fails_is_said(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A gateway that cannot give its log: the entry loads anyway, and a warning says so."""
    kind = await start_kind("maytapi", start_simulator)
    await kind.link()
    entry = await setup_entry(hass, kind.entry())
    async with restarted_home_assistant(hass, entry) as (restarted, _, second):
        await kind.simulator.fault(status=500, path="/api/sim-product/logs")
        await setup_entry(restarted, second)
        assert second.state is ConfigEntryState.LOADED
    assert "what arrived while Home Assistant was stopped" in caplog.text


async def test_seen_ids_are_saved_while_messages_keep_coming(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    hass_storage: dict[str, Any],
) -> None:
    """A steady stream does not postpone the save for ever: it is written within 10 s."""
    kind = await start_kind("wuzapi", start_simulator)
    await kind.link()
    entry = await setup_entry(hass, kind.entry())
    key = f"{DOMAIN}.{entry.entry_id}.inbound"
    start = dt_util.utcnow()
    for second in range(0, 12, 3):
        await kind.write(text=f"at {second}", id=f"ID{second}", **{"from": CONTACT})
        async_fire_time_changed(hass, start + timedelta(seconds=second + 0.5))
        await hass.async_block_till_done()
    assert "ID0" in hass_storage[key]["data"]["messages"]


@pytest.mark.parametrize("name", ["wuzapi", "wuzapi-2025-05"])
async def test_wuzapi_restarted_with_a_fresh_database(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    bus: Bus,
    name: str,
) -> None:
    """wuzapi restarts and has lost webhook, events and key: one poll gives them back, the
    session is started again (at once where the build says no client runs), messages flow."""
    kind = await start_kind(name, start_simulator)
    await kind.link()
    await setup_entry(hass, kind.entry())
    bus.listen(EVENT_MESSAGE_RECEIVED)
    ours = await kind.webhook()
    await kind.simulator.control("wuzapi/restart", {"forget": True})
    await poll(hass)
    assert await kind.webhook() == ours
    if name == "wuzapi":
        assert (await kind.simulator.wuzapi_user())["hmac_key"] is not None
        await poll(hass)  # a second disconnected reading: now it connects
    assert state(hass, "sensor.home_session").state == "connected"
    assert (await kind.simulator.wuzapi_user())["clients"] == 1
    await kind.receive(hass, text="back", **{"from": CONTACT})
    assert texts(bus) == ["back"]


async def test_posts_relayed_by_home_assistant_cloud(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, bus: Bus
) -> None:
    """A cloud gateway reaching Home Assistant through a cloudhook: Home Assistant Cloud hands
    the post on as a MockRequest, which must be read like any other."""
    kind = await start_kind("maytapi", start_simulator)
    await kind.link()
    entry = await setup_entry(hass, kind.entry())
    bus.listen(EVENT_MESSAGE_RECEIVED)
    post = json.loads(fixture_bytes("maytapi_message_text.json"))
    post |= {"product_id": PRODUCT_ID, "phone_id": int(PHONE_ID)}
    body = json.dumps(post).encode()
    request = MockRequest(
        content=body,
        mock_source="cloudhook",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    response = await webhook.async_handle_webhook(hass, entry.data["webhook_id"], request)
    assert response.status == 200
    await hass.async_block_till_done()
    assert len(bus.events[EVENT_MESSAGE_RECEIVED]) == 1


async def test_undocumented_wuzapi_answers_break_nothing(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient
) -> None:
    """Where wuzapi's answers are not documented (media delivery, the HMAC key read back), an
    error there neither stops the setup nor the healing of a lost key."""
    kind = Wuzapi(await start_simulator(wuzapi=WuzapiConfig(auto_receipts=False)))
    await kind.link()
    await kind.simulator.fault(status=500, path="/session/s3/config")
    entry = await setup_entry(hass, kind.entry())
    assert entry.state is ConfigEntryState.LOADED
    # The key is lost, and its read-back answers an error.
    await kind.simulator.control(f"wuzapi/users/{USER_TOKEN}/settings", {"hmac_key": None})
    await kind.simulator.fault(status=500, path="/session/hmac/config")
    await poll(hass)
    assert (await kind.simulator.wuzapi_user())["hmac_key"] is not None

"""Entities beyond the webhook path: restore, QR image, diagnostics."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, mock_restore_cache
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.whatsapp_gateway.diagnostics import async_get_config_entry_diagnostics
from tests.conftest import HMAC_KEY, USER_TOKEN, SimulatorHandle

from .conftest import WEBHOOK_ID, WUZAPI_PHONE, pair_wuzapi_user, setup_entry, state, wuzapi_entry


async def test_last_message_survives_a_restart(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> None:
    """The last message sensor shows the last message from before the restart."""
    mock_restore_cache(
        hass,
        [
            State(
                "sensor.home_last_message",
                "see you",
                {
                    "sender": "491700000002",
                    "chat_id": "491700000002@s.whatsapp.net",
                    "kind": "text",
                },
            )
        ],
    )
    await pair_wuzapi_user(simulator)
    await setup_entry(hass, wuzapi_entry(simulator))
    last = state(hass, "sensor.home_last_message")
    assert last.state == "see you"
    assert last.attributes["sender"] == "491700000002"


async def test_unique_ids_and_categories(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """Unique ids come from the account's number; diagnostic entities are marked so."""
    entries = er.async_entries_for_config_entry(entity_registry, wuzapi_account.entry_id)
    by_id = {entry.entity_id: entry for entry in entries}
    assert by_id["sensor.home_session"].unique_id == f"{WUZAPI_PHONE}_session"
    assert by_id["sensor.home_session"].entity_category == "diagnostic"
    assert by_id["image.home_qr_code"].entity_category == "diagnostic"
    assert by_id["event.home_message"].unique_id == f"{WUZAPI_PHONE}_message"
    subentry_id = next(iter(wuzapi_account.subentries))
    assert by_id["notify.anna"].unique_id == f"{WUZAPI_PHONE}_{subentry_id}_notify"
    assert by_id["notify.anna"].config_subentry_id == subentry_id
    assert state(hass, "sensor.home_session").attributes["options"] == [
        "connected",
        "connecting",
        "pairing",
        "disconnected",
        "logged_out",
        "failed",
    ]


async def test_qr_image_while_pairing(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    hass_client: ClientSessionGenerator,
) -> None:
    """While the gateway shows a QR, the image entity shows it too."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/logout_from_phone")
    async with simulator.session.post(
        f"{simulator.url}/session/connect", headers={"Token": USER_TOKEN}, json={}
    ) as response:
        assert response.status == 200
    await hass.async_block_till_done()
    image = state(hass, "image.home_qr_code")
    assert image.state != STATE_UNAVAILABLE
    assert state(hass, "sensor.home_session").state == "pairing"
    client = await hass_client()
    response = await client.get(image.attributes["entity_picture"])
    assert response.status == 200
    assert (await response.read()).startswith(b"\x89PNG")


async def test_diagnostics_are_redacted(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, ha_client: TestClient
) -> None:
    """Diagnostics help support without tokens, webhook ids or phone numbers."""
    diagnostics = await async_get_config_entry_diagnostics(hass, wuzapi_account)
    text = json.dumps(diagnostics)
    for secret in (USER_TOKEN, HMAC_KEY, WEBHOOK_ID, WUZAPI_PHONE, "491700000002"):
        assert secret not in text
    assert diagnostics["session"]["state"] == "connected"
    assert diagnostics["gateway"]["kind"] == "wuzapi"
    assert diagnostics["gateway"]["on_local_network"] is True
    assert diagnostics["inbound"]["webhook_unreachable"] is False
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    assert diagnostics["entry"]["chats"] == [{"title": "**REDACTED**", "chat_id": "**REDACTED**"}]


async def test_diagnostics_snapshot(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    ha_client: TestClient,
    snapshot: SnapshotAssertion,
) -> None:
    """What support gets, as a whole: any new field shows up here for review."""
    diagnostics = await async_get_config_entry_diagnostics(hass, wuzapi_account)
    assert diagnostics == snapshot(exclude=props("url"))


async def test_entity_states_snapshot(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every entity of an account: what its registry entry and its state say."""
    entries = er.async_entries_for_config_entry(entity_registry, wuzapi_account.entry_id)
    seen = {}
    for entity in sorted(entries, key=lambda entity: entity.entity_id):
        current = state(hass, entity.entity_id)
        seen[entity.entity_id] = {
            "unique_id": entity.unique_id.replace(str(entity.config_subentry_id), "<chat>"),
            "translation_key": entity.translation_key,
            "entity_category": entity.entity_category,
            "device_class": entity.original_device_class,
            "state": current.state,
            # The picture's address and its access token change from run to run.
            "attributes": {
                key: value
                for key, value in current.attributes.items()
                if key not in ("entity_picture", "access_token")
            },
        }
    assert seen == snapshot

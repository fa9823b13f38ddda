"""Small guards that each protect users from something, each with a test that fails without it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from homeassistant.components.webhook import DOMAIN as WEBHOOK_DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatsapp_gateway import sending
from custom_components.whatsapp_gateway.const import (
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
    LAST_MESSAGE_MAX_LENGTH,
    MAX_RETRY_AFTER,
)
from custom_components.whatsapp_gateway.diagnostics import async_get_config_entry_diagnostics
from custom_components.whatsapp_gateway.inbound import RecentIds
from custom_components.whatsapp_gateway.media_store import media_folder
from tests.conftest import USER_TOKEN, SimulatorHandle

from .conftest import Bus, maytapi_entry, pair_maytapi_phone, setup_entry, state
from .kinds import WEBHOOK_ID


def test_dedupe_window_is_bounded_and_forgets_the_oldest() -> None:
    seen = RecentIds(size=3)
    assert [seen.add(key) for key in "abcd"] == [True] * 4
    assert len(seen) == 3
    assert not seen.add("d")  # still remembered
    assert seen.add("a")  # the oldest went first
    assert RecentIds(["x", "y", "z", "w"], size=2).keys() == ["z", "w"]


async def inbound(simulator: SimulatorHandle, **message: Any) -> None:
    """A contact writes to the wuzapi account."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/inbound", message)


async def test_last_message_is_capped(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """A state holds at most 255 characters; the event carries the whole text."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await inbound(simulator, text="x" * 300)
    await hass.async_block_till_done()
    assert len(state(hass, "sensor.home_last_message").state) == LAST_MESSAGE_MAX_LENGTH
    assert len(received[0].data["text"]) == 300


async def test_media_file_names_stay_in_the_media_folder(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """A file name (or message id) from the gateway cannot point outside the media folder."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    data = "data:application/pdf;base64," + base64.b64encode(b"%PDF").decode()
    await inbound(
        simulator,
        kind="document",
        id="../../../evil",
        filename="../../../../etc/passwd",
        mime_type="application/pdf",
        data=data,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    path = Path(received[0].data["media"]["path"])
    folder = media_folder(hass, wuzapi_account.entry_id)
    assert await hass.async_add_executor_job(lambda: path.resolve().parent == folder.resolve())
    assert await hass.async_add_executor_job(path.read_bytes) == b"%PDF"


async def test_retry_after_is_honoured_up_to_a_cap(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway's Retry-After is waited for; one beyond the cap fails at once instead."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(sending.asyncio, "sleep", sleep)
    monkeypatch.setattr(sending, "SEND_RETRY_DELAYS", (1.0,))
    await simulator.fault(status=429, path="/chat/send/text", retry_after=7)
    await hass.services.async_call(
        DOMAIN, "send_message", {"target": "491700000002", "message": "a"}, blocking=True
    )
    assert waits == [7.0]
    await simulator.fault(status=429, path="/chat/send/text", retry_after=int(MAX_RETRY_AFTER) + 1)
    with pytest.raises(HomeAssistantError, match="rate limiting"):
        await hass.services.async_call(
            DOMAIN, "send_message", {"target": "491700000002", "message": "b"}, blocking=True
        )
    assert waits == [7.0]


async def test_webhooks_of_lan_gateways_are_local_only(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """A gateway on the LAN posts from the LAN: Home Assistant refuses its webhook from the
    internet. A cloud gateway's webhook has to take posts from the internet."""
    await pair_maytapi_phone(simulator)
    shop = await setup_entry(hass, maytapi_entry(simulator))
    handlers = hass.data[WEBHOOK_DOMAIN]
    assert handlers[WEBHOOK_ID].local_only is True
    assert handlers[shop.data["webhook_id"]].local_only is False


async def test_cloudhook_url_is_redacted(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry
) -> None:
    """A cloudhook URL lets anyone post messages: diagnostics never show it."""
    hook = "https://hooks.nabu.casa/secret-hook-id"
    hass.config_entries.async_update_entry(
        wuzapi_account, data={**wuzapi_account.data, "cloudhook_url": hook}
    )
    diagnostics = await async_get_config_entry_diagnostics(hass, wuzapi_account)
    assert diagnostics["entry"]["data"]["cloudhook_url"] == "**REDACTED**"
    assert "secret-hook-id" not in str(diagnostics)


@pytest.mark.parametrize("source", ["file", "media"])
async def test_local_files_over_the_cap_are_refused(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    """A local file or a media-source file over the size cap is refused, and nothing sent."""
    monkeypatch.setattr("custom_components.whatsapp_gateway.services.MAX_FILE_BYTES", 1000)
    media_dir = Path(hass.config.media_dirs["local"])
    big = media_dir / "big.bin"
    await hass.async_add_executor_job(big.write_bytes, b"x" * 1001)
    hass.config.allowlist_external_dirs = {str(media_dir)}
    where: dict[str, Any] = (
        {"file": str(big)}
        if source == "file"
        else {"media": {"media_content_id": "media-source://media_source/local/big.bin"}}
    )
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN, "send_file", {"target": "491700000002", **where}, blocking=True
        )
    assert raised.value.translation_key == "file_too_large"
    assert await simulator.get(f"wuzapi/users/{USER_TOKEN}/sent") == []

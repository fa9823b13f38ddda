"""Saved incoming media: pruned by age and size, and removed with its account."""

from __future__ import annotations

from datetime import datetime, timedelta
import os
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.whatsapp_gateway.media_store import PRUNE_INTERVAL, media_folder, prune
from tests.conftest import USER_TOKEN, SimulatorHandle

from .conftest import pair_wuzapi_user, setup_entry, wuzapi_entry

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=dt_util.UTC)


def saved(folder: Path, name: str, size: int, days_old: float) -> Path:
    """A saved file of that size, last written that many days ago."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"x" * size)
    stamp = (NOW - timedelta(days=days_old)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_prune_by_age_then_by_size(tmp_path: Path) -> None:
    old = saved(tmp_path, "old.jpg", 10, days_old=40)
    middle = saved(tmp_path, "middle.jpg", 600, days_old=5)
    new = saved(tmp_path, "new.jpg", 600, days_old=1)
    assert prune(tmp_path, keep_days=30, max_bytes=1000, now=NOW) == 2
    assert (old.exists(), middle.exists(), new.exists()) == (False, False, True)
    assert prune(tmp_path, keep_days=30, max_bytes=1000, now=NOW) == 0
    assert prune(tmp_path / "none", keep_days=30, max_bytes=1000, now=NOW) == 0


async def image(simulator: SimulatorHandle, hass: HomeAssistant) -> None:
    """A contact sends a picture; it is saved."""
    await simulator.control(
        f"wuzapi/users/{USER_TOKEN}/inbound",
        {"kind": "image", "mime_type": "image/png", "data": "data:image/png;base64,iVBORw0KGgo="},
    )
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_media_pruned_on_schedule_and_removed_with_the_account(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    folder = media_folder(hass, wuzapi_account.entry_id)
    await image(simulator, hass)
    [fresh] = await hass.async_add_executor_job(lambda: list(folder.iterdir()))
    stale = await hass.async_add_executor_job(saved, folder, "stale.png", 10, 400)
    async_fire_time_changed(hass, dt_util.utcnow() + PRUNE_INTERVAL + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await hass.async_add_executor_job(lambda: (fresh.exists(), stale.exists())) == (
        True,
        False,
    )

    assert await hass.config_entries.async_remove(wuzapi_account.entry_id)
    assert not await hass.async_add_executor_job(folder.exists)


async def test_media_option_applies_at_setup(
    hass: HomeAssistant, simulator: SimulatorHandle
) -> None:
    """With one day to keep files, a two-day-old file goes when the account is set up."""

    await pair_wuzapi_user(simulator)
    entry = wuzapi_entry(simulator, options={"media_keep_days": 1})
    folder = media_folder(hass, entry.entry_id)
    two_days_old = await hass.async_add_executor_job(saved, folder, "a.png", 10, 2)
    await setup_entry(hass, entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not await hass.async_add_executor_job(two_days_old.exists)

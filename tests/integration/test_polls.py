"""Poll votes name the options chosen: from wuzapi where it can, else from the polls we keep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.whatsapp_gateway.const import DOMAIN, EVENT_MESSAGE_RECEIVED
from custom_components.whatsapp_gateway.inbound import SAVE_DELAY
from tests.conftest import USER_TOKEN, SimulatorHandle, StartSimulator

from .conftest import (
    Bus,
    pair_wuzapi_user,
    poll,
    setup_entry,
    start_kind,
    state,
    wuzapi_entry,
)

ANNA = "491700000002"
BERT = "491700000003"
QUESTION = "Pizza or pasta?"
WHEN = ["Today", "Tomorrow", "Never"]


async def write(simulator: SimulatorHandle, **message: Any) -> None:
    """A contact writes to the wuzapi account."""
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/inbound", message)


async def send_poll(hass: HomeAssistant) -> str:
    """Ask Anna "Pizza or pasta?"; the poll's id."""
    response = await hass.services.async_call(
        DOMAIN,
        "send_poll",
        {"target": ANNA, "question": QUESTION, "options": ["Pizza", "Pasta"]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return str(response["messages"][0]["message_id"])  # type: ignore[index]


async def test_a_vote_on_our_poll(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle, bus: Bus
) -> None:
    """Anna votes on the poll Home Assistant sent: a poll_vote with the poll, the options and
    the one chosen (also as its text); the event entity shows it."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    poll_id = await send_poll(hass)
    await write(simulator, **{"from": ANNA}, kind="vote", poll_id=poll_id, options=["Pasta"])
    await hass.async_block_till_done()
    [vote] = received
    assert (vote.data["kind"], vote.data["text"], vote.data["quoted_message_id"]) == (
        "poll_vote",
        "Pasta",
        poll_id,
    )
    assert vote.data["poll"] == {
        "question": QUESTION,
        "options": ["Pizza", "Pasta"],
        "selected": ["Pasta"],
    }
    assert state(hass, "event.home_message").attributes["event_type"] == "poll_vote"


async def test_votes_wuzapi_cannot_name(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    bus: Bus,
    hass_storage: dict[str, Any],
) -> None:
    """wuzapi forgets the polls it sent when it restarts, and never knew those of others: its
    vote then carries only hashes. The polls Home Assistant keeps still name the options
    chosen; they are saved."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    ours = await send_poll(hass)
    await write(simulator, **{"from": ANNA}, kind="poll", id="THEIRS", text="When?", options=WHEN)
    await hass.async_block_till_done()
    assert [(e.data["kind"], e.data["text"], e.data["poll"]) for e in received] == [
        ("poll", "When?", {"question": "When?", "options": WHEN, "selected": []})
    ]
    await simulator.control("wuzapi/restart", {})
    await poll(hass)  # the integration starts the session again

    await write(simulator, **{"from": BERT}, kind="vote", poll_id=ours, options=["Pizza"])
    await write(simulator, **{"from": BERT}, kind="vote", poll_id="THEIRS", options=WHEN[::2])
    await write(simulator, **{"from": BERT}, kind="vote", poll_id="UNKNOWN", options=["X"])
    await hass.async_block_till_done()
    assert [(e.data["text"], e.data["poll"]) for e in received[1:]] == [
        ("Pizza", {"question": QUESTION, "options": ["Pizza", "Pasta"], "selected": ["Pizza"]}),
        ("Today, Never", {"question": "When?", "options": WHEN, "selected": WHEN[::2]}),
        # A poll nobody kept: the vote still fires, without names.
        (None, {"question": None, "options": [], "selected": []}),
    ]
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=SAVE_DELAY + 1))
    await hass.async_block_till_done()
    saved = hass_storage[f"{DOMAIN}.{wuzapi_account.entry_id}.inbound"]["data"]["polls"]
    assert saved == {
        ours: {"question": QUESTION, "options": ["Pizza", "Pasta"]},
        "THEIRS": {"question": "When?", "options": WHEN},
    }


async def test_the_saved_polls_are_used_after_a_restart(
    hass: HomeAssistant, simulator: SimulatorHandle, bus: Bus, hass_storage: dict[str, Any]
) -> None:
    """A vote on a poll of an earlier run is named from what that run saved."""
    await pair_wuzapi_user(simulator)
    entry = wuzapi_entry(simulator)
    hass_storage[f"{DOMAIN}.{entry.entry_id}.inbound"] = {
        "version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}.inbound",
        "data": {"polls": {"OLD": {"question": "When?", "options": WHEN}, "BAD": ["x"]}},
    }
    await setup_entry(hass, entry)
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await write(simulator, **{"from": BERT}, kind="vote", poll_id="OLD", options=["Tomorrow"])
    await hass.async_block_till_done()
    assert received[0].data["poll"]["selected"] == ["Tomorrow"]


@pytest.mark.parametrize("name", ["wuzapi", "waha", "evolution"])
async def test_a_vote_on_our_poll_on_every_gateway_that_reports_votes(
    hass: HomeAssistant,
    start_simulator: StartSimulator,
    ha_client: TestClient,
    bus: Bus,
    name: str,
) -> None:
    """Whatever the gateway's shape of a vote (wuzapi's decrypted pollVote, WAHA's poll.vote,
    Evolution's tally), the event names the option chosen and the poll's question."""
    kind = await start_kind(name, start_simulator)
    await kind.link()
    await setup_entry(hass, kind.entry())
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    poll_id = await send_poll(hass)
    await kind.receive(hass, kind="vote", poll_id=poll_id, options=["Pasta"], **{"from": ANNA})
    [vote] = received
    assert (vote.data["kind"], vote.data["text"], vote.data["sender"]) == (
        "poll_vote",
        "Pasta",
        ANNA,
    )
    assert vote.data["poll"] == {
        "question": QUESTION,
        "options": ["Pizza", "Pasta"],
        "selected": ["Pasta"],
    }

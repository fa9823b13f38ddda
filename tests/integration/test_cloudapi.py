"""The Cloud API's own ways: Meta's check of the webhook, the setup notice, the 24 hours, and
templates."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.whatsapp_gateway.const import (
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
    EVENT_MESSAGE_STATUS,
)
from custom_components.whatsapp_gateway.diagnostics import async_get_config_entry_diagnostics
from simulator import CloudApiConfig
from tests.conftest import HMAC_KEY, StartSimulator

from .conftest import Bus, setup_entry, start_kind
from .kinds import CONTACT, WEBHOOK_ID, CloudApi, Kind


async def call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    """An action of the integration, with its response."""
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


async def test_meta_checks_the_webhook_and_the_notice_goes(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, bus: Bus
) -> None:
    """Until Meta checked the address, a repair issue says what to enter in its app; a check
    with another token is refused; the right one is answered, and the notice goes for good."""
    kind = await start_kind("cloudapi", start_simulator)
    entry = await setup_entry(hass, kind.entry())
    registry = ir.async_get(hass)
    issue = registry.async_get_issue(DOMAIN, f"webhook_handshake_{entry.entry_id}")
    assert issue is not None
    url = issue.translation_placeholders["url"]  # type: ignore[index]
    assert url.endswith(f"/api/webhook/{WEBHOOK_ID}")
    assert issue.translation_placeholders["verify_token"] == HMAC_KEY  # type: ignore[index]
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["inbound"]["webhook_handshake"] is True

    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    path = f"/api/webhook/{WEBHOOK_ID}"
    wrong = await ha_client.get(path, params={**query, "hub.verify_token": "typo"})
    assert wrong.status == 403
    assert registry.async_get_issue(DOMAIN, f"webhook_handshake_{entry.entry_id}") is not None

    # The user enters both in Meta's dashboard and selects "Verify and save".
    answer = await kind.simulator.control(
        "cloudapi/dashboard", {"callback_url": url, "verify_token": HMAC_KEY, "verify": True}
    )
    assert answer == {"verified": True}
    assert registry.async_get_issue(DOMAIN, f"webhook_handshake_{entry.entry_id}") is None
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["inbound"]["webhook_handshake"] is False
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.write(text="ping", **{"from": CONTACT})
    await hass.async_block_till_done()
    assert [event.data["text"] for event in received] == ["ping"]

    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert registry.async_get_issue(DOMAIN, f"webhook_handshake_{entry.entry_id}") is None


async def test_unsigned_posts_are_refused(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, bus: Bus
) -> None:
    kind = await start_kind("cloudapi", start_simulator)
    await kind.link()
    await setup_entry(hass, kind.entry())
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await kind.write(text="signed", **{"from": CONTACT})
    [delivery] = [d for d in await kind.simulator.webhook_log() if b"signed" in d.body]
    unsigned = await ha_client.post(f"/api/webhook/{WEBHOOK_ID}", data=delivery.body)
    forged = await ha_client.post(
        f"/api/webhook/{WEBHOOK_ID}",
        data=delivery.body,
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert (unsigned.status, forged.status) == (401, 401)
    await hass.async_block_till_done()
    assert [event.data["text"] for event in received] == ["signed"]


async def test_templates(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient
) -> None:
    """send_template sends the approved template with its parameters, and answers its id."""
    kind = await start_kind("cloudapi", start_simulator)
    await kind.link()
    await setup_entry(hass, kind.entry())
    response = await call(
        hass,
        "send_template",
        target=f"+{CONTACT}",
        template="door_alert",
        language="de",
        parameters=["Haustür"],
    )
    [sent] = response["messages"]
    [record] = await kind.simulator.get("cloudapi/sent")
    assert sent["message_id"] == record["id"]
    assert record["body"]["template"] == {
        "name": "door_alert",
        "language": {"code": "de"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Haustür"}]}],
    }


async def test_templates_only_where_the_gateway_has_them(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient
) -> None:
    kind: Kind = await start_kind("wuzapi", start_simulator)
    await kind.link()
    await setup_entry(hass, kind.entry())
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "send_template", target=CONTACT, template="door_alert")
    assert str(refused.value) == "wuzapi cannot do this: it does not support message templates"


async def test_outside_the_24_hours_a_text_fails_with_meta_s_reason(
    hass: HomeAssistant, start_simulator: StartSimulator, ha_client: TestClient, bus: Bus
) -> None:
    """A text to someone who has not written for 24 hours: the wait for its delivery fails,
    naming the chat, and the status event says why; a template gets through."""
    simulator = await start_simulator(cloudapi=CloudApiConfig(enforce_window=True))
    kind = CloudApi(simulator)
    await kind.link()
    await setup_entry(hass, kind.entry())
    statuses = bus.listen(EVENT_MESSAGE_STATUS)
    with pytest.raises(HomeAssistantError) as failed:
        await call(
            hass, "send_message", target="+49 170 0000009", message="hi", wait_for="delivered"
        )
    assert str(failed.value) == (
        "The gateway reports that the message to +49 170 0000009 (Message failed to send "
        "because more than 24 hours have passed since the customer last replied to this "
        "number.) could not be delivered"
    )
    [status] = statuses
    assert status.data["status"] == "failed"
    assert "more than 24 hours have passed" in status.data["error"]
    response = await call(hass, "send_template", target="+49 170 0000009", template="door_alert")
    await hass.async_block_till_done()
    assert response["messages"][0]["message_id"].startswith("wamid.")
    assert len(statuses) == 1  # no failure for the template

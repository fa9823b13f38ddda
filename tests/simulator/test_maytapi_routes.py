"""The simulated Maytapi API answers like Maytapi does, also on routes the library skips."""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import API_KEY, PHONE_ID, PRODUCT_ID, SimulatorHandle, WebhookSink

KEY = {"x-maytapi-key": API_KEY}
BASE = f"/api/{PRODUCT_ID}"
PHONE = f"{BASE}/{PHONE_ID}"


async def call(
    simulator: SimulatorHandle, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with simulator.session.request(
        method, simulator.url + path, headers=KEY, json=body
    ) as resp:
        if resp.content_type == "image/png":
            return resp.status, await resp.read()
        return resp.status, await resp.json()


async def test_product_routes(simulator: SimulatorHandle, webhook_sink: WebhookSink) -> None:
    assert (await call(simulator, "GET", f"{BASE}/product"))[1] == {
        "pid": PRODUCT_ID,
        "webhook": "",
        "ack_delivery": True,
        "phone_limit": 2,
    }
    assert (await call(simulator, "POST", f"{BASE}/setWebhook", {}))[1]["message"] == (
        "webhook is required"
    )
    answer = (await call(simulator, "POST", f"{BASE}/setWebhook", {"webhook": webhook_sink.url}))[1]
    assert answer["webhook"] == webhook_sink.url

    # the product webhook receives events when the phone has none of its own
    await simulator.control(f"maytapi/phones/{PHONE_ID}/scan", {"number": "905307654321"})
    received = await webhook_sink.next()
    assert b'"status":"active"' in received.body
    logs = (await call(simulator, "GET", f"{BASE}/logs"))[1]["data"]
    assert logs["count"] == "1"
    assert logs["list"][0]["data"]["response"] == {"body": "OK", "statusCode": 200}


async def test_phone_routes(simulator: SimulatorHandle) -> None:
    status, screen = await call(simulator, "GET", f"{PHONE}/screen")
    assert status == 200 and screen.startswith(b"\x89PNG")
    answer = (await call(simulator, "POST", f"{PHONE}/config", {"webhook": "http://flat"}))[1]
    assert answer["status"]["webhook"] == "http://flat"
    answer = (await call(simulator, "POST", f"{PHONE}/config", {"ackDelivery": False}))[1]
    assert answer["status"] == {"webhook": "http://flat", "ack_delivery": False}
    assert (await call(simulator, "POST", f"{PHONE}/config", {"webhook": 5}))[0] == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "text", "message": "x"}, "to_number is required"),
        ({"to_number": "1", "type": "poll"}, "type must be one of"),
        ({"to_number": "1", "type": "location"}, "latitude and longitude are required"),
        (
            {"to_number": "1", "type": "media", "message": "ftp://x"},
            "message must be a URL or a base64",
        ),
        (
            {"to_number": "1", "type": "media", "message": "data:image/png;base64,@@"},
            "message must be a URL or a base64",
        ),
        ({"to_number": "1", "type": "reaction", "message": "x"}, "reply_to is required"),
    ],
)
async def test_send_validation(simulator: SimulatorHandle, body: Any, message: str) -> None:
    status, answer = await call(simulator, "POST", f"{PHONE}/sendMessage", body)
    assert status == 400 and answer["success"] is False
    assert answer["message"].startswith(message)


async def test_media_by_url_is_accepted(simulator: SimulatorHandle) -> None:
    status, answer = await call(
        simulator,
        "POST",
        f"{PHONE}/sendMessage",
        {"to_number": "905301234567", "type": "media", "message": "https://example.invalid/a.jpg"},
    )
    assert status == 200 and answer["data"]["chatId"] == "905301234567@c.us"


async def test_control_api(simulator: SimulatorHandle, webhook_sink: WebhookSink) -> None:
    control = f"{simulator.url}/__emulator/maytapi/phones"
    async with simulator.session.post(f"{control}/99/scan", json={}) as resp:
        assert resp.status == 404
    async with simulator.session.post(
        f"{control}/{PHONE_ID}/set_status", json={"status": "x"}
    ) as r:
        assert r.status == 400
    await simulator.control(f"maytapi/phones/{PHONE_ID}/set_status", {"status": "active"})
    async with simulator.session.post(f"{control}/{PHONE_ID}/scan", json={}) as resp:
        assert resp.status == 409
    await simulator.control(f"maytapi/phones/{PHONE_ID}/set_status", {"status": "qr-code"})
    async with simulator.session.post(f"{control}/{PHONE_ID}/inbound", json={"kind": "x"}) as r:
        assert r.status == 400
    await call(simulator, "POST", f"{PHONE}/config", {"webhook": {"webhook": webhook_sink.url}})
    for body in (
        {"kind": "location", "latitude": 1.5, "longitude": 2.5},
        {"kind": "contact", "contact_name": "Bob", "vcard": "BEGIN:VCARD"},
        {"kind": "voice", "mime_type": "audio/ogg"},
    ):
        answer = await simulator.control(f"maytapi/phones/{PHONE_ID}/inbound", body)
        assert answer["event"]["type"] == "message"
    async with simulator.session.get(f"{control}/{PHONE_ID}/sent") as resp:
        assert await resp.json() == []
    log = await (await simulator.session.get(f"{simulator.url}/__emulator/webhook_log")).json()
    assert [entry["product"] for entry in log] == ["maytapi"] * 3
    async with simulator.session.post(
        f"{simulator.url}/__emulator/faults", json={"status": "x"}
    ) as resp:
        assert resp.status == 400

"""The phone page's API plays the phone of any gateway, as each gateway's client sees it."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    DeliveryStatus,
    Gateway,
    IncomingMessage,
    MediaKind,
    MessageStatusUpdate,
    OutgoingMedia,
    SessionState,
    WuzapiGateway,
)
from custom_components.whatsapp_gateway.gateway.media import to_data_url

from ..conftest import SimulatorHandle, WebhookSink

# The products that hold an account from the start (WAHA and Evolution API get theirs when
# the integration creates its session or instance).
PRODUCTS = ("wuzapi", "maytapi", "chatapi", "waabot", "greenapi")
# The Cloud API's number is registered with Meta: it is on the page, but nothing links it.
LISTED = (*PRODUCTS, "cloudapi")
NUMBER = "491700000001"
CONTACT = "491700000002"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


async def phones(simulator: SimulatorHandle) -> list[dict[str, Any]]:
    """The phone page's picker."""
    answer: list[dict[str, Any]] = await simulator.get("phones")
    return answer


async def phone_of(simulator: SimulatorHandle, product: str) -> str:
    """The path of the product's first phone under /__emulator/phones."""
    return next(
        f"{p['product']}/{p['id']}" for p in await phones(simulator) if p["product"] == product
    )


async def act(
    simulator: SimulatorHandle, phone: str, action: str, body: dict[str, Any]
) -> tuple[int, Any]:
    """POST a phone action; its status and answer (JSON, or the refusal's text)."""
    url = f"{simulator.url}/__emulator/phones/{phone}/{action}"
    async with simulator.session.post(url, json=body) as response:
        if response.status == 200:
            return response.status, await response.json()
        return response.status, await response.text()


async def next_status(
    sink: WebhookSink, gateway: Gateway, status: DeliveryStatus
) -> MessageStatusUpdate:
    """The next receipt with this status (gateways may send others before it)."""
    while True:
        update: MessageStatusUpdate = await sink.next_of(gateway, MessageStatusUpdate)
        if update.status is status:
            return update


@pytest.fixture(params=PRODUCTS)
def product(request: pytest.FixtureRequest) -> str:
    """Each product in turn."""
    name: str = request.param
    return name


@pytest.fixture
def gateway(request: pytest.FixtureRequest, product: str) -> Gateway:
    """The product's client, for the simulator's first account."""
    client: Gateway = request.getfixturevalue(product)
    return client


async def test_every_product_has_a_phone(simulator: SimulatorHandle) -> None:
    listed = await phones(simulator)
    assert [phone["product"] for phone in listed] == list(LISTED)
    assert all(phone["number"] == "" for phone in listed if phone["product"] != "cloudapi")
    assert [phone["label"] for phone in listed][1:3] == [
        "Maytapi phone 12",
        "Chat-API instance 424242",
    ]


async def test_link_by_qr_then_talk_then_unlink(
    simulator: SimulatorHandle, webhook_sink: WebhookSink, product: str, gateway: Gateway
) -> None:
    phone = await phone_of(simulator, product)
    await gateway.connect()
    qr = await gateway.login_qr()
    view = await simulator.get(f"phones/{phone}")
    # The page shows the very image Home Assistant gets.
    assert qr.image is not None and view["qr_image"] == to_data_url(qr.image, "image/png")

    status, refused = await act(simulator, phone, "scan", {"qr": "2@an-old-code", "number": NUMBER})
    assert (status, refused) == (409, "that QR code has expired")
    status, view = await act(simulator, phone, "scan", {"qr": view["qr"], "number": NUMBER})
    assert (status, view["number"], view["qr"], view["qr_image"]) == (200, NUMBER, "", "")
    linked = await gateway.status()
    assert (linked.state, linked.phone) == (SessionState.CONNECTED, NUMBER)

    await gateway.configure_webhook(webhook_sink.url, None)
    status, written = await act(
        simulator, phone, "write", {"from": CONTACT, "name": "Alice", "text": "ping"}
    )
    message = await webhook_sink.next_of(gateway, IncomingMessage)
    assert (message.message_id, message.text, message.sender) == (written["id"], "ping", CONTACT)
    sent = await gateway.send_text(CONTACT, "pong")
    view = await simulator.get(f"phones/{phone}")
    assert [(line["direction"], line["id"], line["text"]) for line in view["chat"]] == [
        ("in", written["id"], "ping"),
        ("out", sent.message_id, "pong"),
    ]

    status, view = await act(simulator, phone, "read", {"ids": [sent.message_id]})
    if view == "Waabot posts no read receipts":
        assert status == 409
    else:
        assert view["chat"][1]["read"] is True
        read = await next_status(webhook_sink, gateway, DeliveryStatus.READ)
        assert read.message_ids == (sent.message_id,)

    status, view = await act(simulator, phone, "unlink", {})
    assert (status, view["number"]) == (200, "")
    assert (await gateway.status()).state is not SessionState.CONNECTED


async def test_what_home_assistant_sends_shows_as_bubbles(
    simulator: SimulatorHandle, product: str, gateway: Gateway
) -> None:
    phone = await phone_of(simulator, product)
    await gateway.connect()
    await act(simulator, phone, "scan", {"number": NUMBER})
    image = OutgoingMedia(PNG, "image/png", "snap.png", MediaKind.IMAGE)
    picture = await gateway.send_media(CONTACT, image, caption="Front door")
    document = OutgoingMedia(b"%PDF-1.4", "application/pdf", "bill.pdf", MediaKind.DOCUMENT)
    await gateway.send_media(CONTACT, document)
    await gateway.send_location(CONTACT, 52.5, 13.4)
    lines = (await simulator.get(f"phones/{phone}"))["chat"]
    assert [(line["kind"], line["text"]) for line in lines] == [
        ("image", "Front door"),
        ("document", ""),
        ("location", "52.5, 13.4"),
    ]
    assert lines[0]["id"] == picture.message_id
    assert lines[0]["media"] == to_data_url(PNG, "image/png")
    assert lines[1]["filename"] == "bill.pdf"


async def test_a_group_message(
    simulator: SimulatorHandle, webhook_sink: WebhookSink, product: str, gateway: Gateway
) -> None:
    phone = await phone_of(simulator, product)
    await gateway.connect()
    await act(simulator, phone, "scan", {"number": NUMBER})
    await gateway.configure_webhook(webhook_sink.url, None)
    group = "120363000000000001@g.us"
    await act(simulator, phone, "write", {"from": CONTACT, "text": "hi all", "group": group})
    message = await webhook_sink.next_of(gateway, IncomingMessage)
    assert (message.is_group, message.chat_id, message.sender) == (True, group, CONTACT)


async def test_wuzapi_links_by_the_pairing_code(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway
) -> None:
    phone = await phone_of(simulator, "wuzapi")
    await wuzapi.connect()
    code = await wuzapi.request_pairing_code("+49 170 0000001")
    [listed] = [p for p in await phones(simulator) if p["product"] == "wuzapi"]
    # The phone links by typing the code now: it shows no QR code to scan.
    assert (listed["awaiting_code"], listed["qr"]) == (True, False)
    status, refused = await act(simulator, phone, "code", {"code": "WRONG-123"})
    assert (status, refused) == (409, "wrong or no pairing code")
    status, view = await act(simulator, phone, "code", {"code": f" {code} ", "name": "Mine"})
    assert (status, view["number"], view["awaiting_code"]) == (200, NUMBER, False)
    assert (await wuzapi.status()).state is SessionState.CONNECTED


@pytest.mark.parametrize("other", ["maytapi", "chatapi", "waabot"])
async def test_other_gateways_refuse_a_pairing_code(simulator: SimulatorHandle, other: str) -> None:
    product = other
    status, refused = await act(
        simulator, await phone_of(simulator, product), "code", {"code": "x"}
    )
    assert (status, refused) == (409, f"{product} links phones by QR code only")


async def test_unknown_phones_and_actions(simulator: SimulatorHandle) -> None:
    async with simulator.session.get(f"{simulator.url}/__emulator/phones/wuzapi/nobody") as answer:
        assert (answer.status, await answer.text()) == (404, "no wuzapi phone nobody")
    status, text = await act(simulator, await phone_of(simulator, "chatapi"), "dance", {})
    assert (status, text) == (404, "no phone action dance")


async def test_scanning_twice_is_refused(
    simulator: SimulatorHandle, product: str, gateway: Gateway
) -> None:
    phone = await phone_of(simulator, product)
    await gateway.connect()
    await act(simulator, phone, "scan", {})
    status, text = await act(simulator, phone, "scan", {})
    assert status == 409 and "not showing a QR code" in text


async def test_page_is_served(simulator: SimulatorHandle, session: aiohttp.ClientSession) -> None:
    async with session.get(simulator.url + "/phone") as response:
        assert (response.status, response.content_type) == (200, "text/html")
        page = await response.text()
    for part in ('fetch("/__emulator/phones"', 'id="scan"', 'id="pairing-code"', 'id="read"'):
        assert part in page

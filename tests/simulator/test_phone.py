"""The phone page and its conversation view: what Home Assistant sent, what the phone wrote."""

from __future__ import annotations

from typing import Any

from custom_components.whatsapp_gateway.gateway import MediaKind, OutgoingMedia, WuzapiGateway
from custom_components.whatsapp_gateway.gateway.media import to_data_url

from ..conftest import USER_TOKEN, SimulatorHandle

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


async def chat(simulator: SimulatorHandle) -> dict[str, Any]:
    async with simulator.session.get(
        f"{simulator.url}/__emulator/wuzapi/users/{USER_TOKEN}/chat"
    ) as response:
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result


async def test_pairing_shows_the_qr_home_assistant_gets(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway
) -> None:
    state = await chat(simulator)
    assert (state["qr"], state["jid"], state["chat"]) == ("", "", [])
    await wuzapi.connect()
    qr = await wuzapi.login_qr()
    state = await chat(simulator)
    assert qr.image is not None
    assert state["qr_image"] == to_data_url(qr.image, "image/png")
    await simulator.control(
        f"wuzapi/users/{USER_TOKEN}/scan", {"qr": state["qr"], "phone": "491700000001"}
    )
    state = await chat(simulator)
    assert (state["qr"], state["jid"], state["loggedIn"]) == ("", "491700000001", True)


async def test_conversation_in_both_directions(
    simulator: SimulatorHandle, wuzapi: WuzapiGateway
) -> None:
    await wuzapi.connect()
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/scan", {"phone": "491700000001"})
    inbound = await simulator.control(
        f"wuzapi/users/{USER_TOKEN}/inbound",
        {"from": "491700000002", "name": "Alice", "text": "ping"},
    )
    text = await wuzapi.send_text("491700000002", "pong", reply_to=inbound["id"])
    image = OutgoingMedia(PNG, "image/png", "snap.png", MediaKind.IMAGE)
    picture = await wuzapi.send_media("491700000002", image, caption="Front door")
    await wuzapi.send_location("491700000002", 52.5, 13.4)

    lines = (await chat(simulator))["chat"]
    assert [(line["direction"], line["kind"], line["text"]) for line in lines] == [
        ("in", "text", "ping"),
        ("out", "text", "pong"),
        ("out", "image", "Front door"),
        ("out", "location", "52.5, 13.4"),
    ]
    assert lines[0]["id"] == inbound["id"]
    assert (lines[0]["sender"], lines[0]["name"]) == ("491700000002@s.whatsapp.net", "Alice")
    assert (lines[1]["id"], lines[1]["reply_to"]) == (text.message_id, inbound["id"])
    assert lines[2]["id"] == picture.message_id
    assert lines[2]["media"] == to_data_url(PNG, "image/png")
    assert lines[2]["chat"] == "491700000002@s.whatsapp.net"

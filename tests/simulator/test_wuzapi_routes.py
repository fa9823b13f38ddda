"""The simulated wuzapi server answers like wuzapi does on the routes the library uses."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from simulator import WuzapiConfig
from simulator.wuzapi import OLD_BUILD

from ..conftest import ADMIN_TOKEN, USER_TOKEN, SimulatorHandle, StartSimulator

ADMIN = {"Authorization": ADMIN_TOKEN}
USER = {"Token": USER_TOKEN}
PNG_URL = "data:image/png;base64," + base64.b64encode(b"png").decode()


async def call(
    simulator: SimulatorHandle,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    async with simulator.session.request(
        method, simulator.url + path, headers=headers, json=body
    ) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def paired(simulator: SimulatorHandle) -> SimulatorHandle:
    assert (await call(simulator, "POST", "/session/connect", USER, {"Subscribe": ["All"]}))[
        0
    ] == 200
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/scan", {"phone": "491511234567"})
    return simulator


async def test_admin_routes(simulator: SimulatorHandle) -> None:
    assert (await call(simulator, "GET", "/admin/users", {"Authorization": "x"}))[0] == 401
    status, answer = await call(
        simulator, "POST", "/admin/users", ADMIN, {"name": "a", "token": "t2", "events": "Nope"}
    )
    assert (status, answer["error"], answer["details"]) == (
        400,
        "invalid event type",
        "invalid event: Nope",
    )
    assert (await call(simulator, "POST", "/admin/users", ADMIN, {"name": "a"}))[0] == 400
    status, answer = await call(
        simulator,
        "POST",
        "/admin/users",
        ADMIN,
        {"name": "a", "token": "t2", "events": ["Message"]},
    )
    assert status == 201
    _, answer = await call(simulator, "GET", "/admin/users", ADMIN)
    assert [user["events"] for user in answer["data"] if user["name"] == "a"] == ["Message"]


async def test_session_routes(simulator: SimulatorHandle) -> None:
    assert (await call(simulator, "POST", "/session/disconnect", USER))[1]["error"] == "no session"
    assert (await call(simulator, "POST", "/session/logout", USER))[1]["error"] == "no session"
    status, answer = await call(simulator, "POST", "/session/connect", USER, {"Subscribe": ["Bad"]})
    assert (status, answer["details"]) == (400, "invalid event: Bad")
    assert (await call(simulator, "POST", "/session/pairphone", USER, {}))[1]["error"] == (
        "missing Phone in Payload"
    )
    assert (await call(simulator, "POST", "/session/pairphone", USER, {"Phone": "4917"}))[1][
        "error"
    ] == "not connected"
    await call(simulator, "POST", "/session/connect", USER, {"Subscribe": []})
    assert (await call(simulator, "GET", "/webhook", USER))[1]["data"]["subscribe"] == []
    assert (await call(simulator, "POST", "/session/logout", USER))[1]["error"] == "not logged in"
    # A client that is not logged in (here: showing a QR code) is not stopped.
    status, answer = await call(simulator, "POST", "/session/disconnect?clear=true", USER)
    assert (status, answer["error"]) == (500, "cannot disconnect because it is not logged in")
    await simulator.control("wuzapi/users/user-token/scan", {"phone": "491511234567"})
    status, answer = await call(simulator, "POST", "/session/disconnect", USER)
    assert answer["data"] == {"Details": "Disconnected"}
    # The client is gone after a disconnect, and so is the subscription.
    assert (await call(simulator, "GET", "/session/qr", USER))[1]["error"] == "no session"
    assert (await call(simulator, "GET", "/webhook", USER))[1]["data"]["subscribe"] == []
    assert (await call(simulator, "GET", "/session/status", {"Token": "x"}))[0] == 401


async def test_hmac_s3_and_webhook_routes(simulator: SimulatorHandle) -> None:
    assert (await call(simulator, "POST", "/session/hmac/config", USER, {"hmac_key": "short"}))[
        0
    ] == 400
    await call(simulator, "POST", "/session/hmac/config", USER, {"hmac_key": "k" * 32})
    assert (await call(simulator, "GET", "/session/hmac/config", USER))[1] == {"hmac_key": "***"}

    assert (await call(simulator, "POST", "/session/s3/config", USER, {"media_delivery": "x"}))[
        0
    ] == 400
    await call(simulator, "POST", "/session/s3/config", USER, {"media_delivery": "both"})
    assert (await call(simulator, "GET", "/session/s3/config", USER))[1]["data"][
        "media_delivery"
    ] == "both"

    assert (await call(simulator, "POST", "/webhook", USER, {}))[0] == 400
    assert (await call(simulator, "POST", "/webhook", USER, {"webhookurl": "h", "events": 1}))[
        0
    ] == 400
    await call(simulator, "POST", "/webhook", USER, {"webhookURL": "http://h2", "events": ["QR"]})
    _, answer = await call(simulator, "GET", "/webhook", USER)
    assert answer["data"] == {"webhook": "http://h2", "subscribe": ["QR"]}


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/chat/send/text", {"Body": "x"}, "missing Phone in Payload"),
        ("/chat/send/text", {"Phone": "4917"}, "missing Body in Payload"),
        (
            "/chat/send/text",
            {"Phone": "4917", "Body": "x", "ContextInfo": {"StanzaID": "1"}},
            "missing Participant in ContextInfo",
        ),
        ("/chat/send/image", {"Phone": "4917"}, "missing Image in Payload"),
        (
            "/chat/send/image",
            {"Phone": "4917", "Image": "data:image/png;base64,@@@"},
            "could not decode base64 encoded data from payload",
        ),
        (
            "/chat/send/document",
            {"Phone": "4917", "Document": PNG_URL},
            "missing FileName in Payload",
        ),
        ("/chat/send/contact", {"Phone": "4917", "Name": "x"}, "missing Vcard in Payload"),
        ("/chat/react", {"Phone": "4917", "Body": "x"}, "missing Id in Payload"),
        ("/chat/markread", {"Chat": "x"}, "missing Id in Payload"),
        ("/chat/markread", {"Id": ["1"]}, "missing Chat in Payload"),
        ("/chat/downloadimage", {"Url": "nope"}, "failed to download media"),
        ("/user/check", {}, "missing Phone in Payload"),
    ],
)
async def test_send_validation(paired: SimulatorHandle, path: str, body: Any, error: str) -> None:
    status, answer = await call(paired, "POST", path, USER, body)
    assert (status >= 400, answer["error"]) == (True, error)


async def test_payload_that_is_not_an_object(paired: SimulatorHandle) -> None:
    async with paired.session.post(
        paired.url + "/chat/send/text", headers=USER, data=b"not json"
    ) as resp:
        assert (await resp.json())["error"] == "could not decode Payload"
    assert (await call(paired, "POST", "/chat/send/text", USER, [1]))[1]["error"] == (
        "could not decode Payload"
    )


async def test_other_chat_routes(paired: SimulatorHandle) -> None:
    ok = [
        ("/chat/send/image", {"Phone": "4917", "Image": "https://example.invalid/a.png"}, "Sent"),
    ]
    for path, body, details in ok:
        status, answer = await call(paired, "POST", path, USER, body)
        assert status == 200 and answer["data"]["Details"].startswith(details), (path, answer)

    # media put into an inbound message can be downloaded again
    inbound = await paired.control(
        f"wuzapi/users/{USER_TOKEN}/inbound",
        {"kind": "image", "mime_type": "image/png", "data": PNG_URL},
    )
    image = inbound["event"]["event"]["Message"]["imageMessage"]
    status, answer = await call(paired, "POST", "/chat/downloadimage", USER, {"Url": image["URL"]})
    assert answer["data"] == {"Mimetype": "image/png", "Data": PNG_URL}
    status, answer = await call(
        paired, "POST", "/chat/downloadimage", USER, {"DirectPath": image["directPath"]}
    )
    assert answer["data"]["Data"] == PNG_URL


async def test_control_api_errors(simulator: SimulatorHandle) -> None:
    base = f"{simulator.url}/__emulator/wuzapi/users"
    async with simulator.session.post(f"{base}/nobody/scan", json={}) as resp:
        assert resp.status == 404
    for action, body in (("scan", {}), ("link_code", {"code": "x"}), ("rotate_qr", {})):
        async with simulator.session.post(f"{base}/{USER_TOKEN}/{action}", json=body) as resp:
            assert resp.status == 409, action
    await call(simulator, "POST", "/session/connect", USER, {})
    async with simulator.session.post(f"{base}/{USER_TOKEN}/scan", json={"qr": "old"}) as resp:
        assert resp.status == 409
    async with simulator.session.post(
        f"{base}/{USER_TOKEN}/inbound", json={"kind": "hologram"}
    ) as resp:
        assert resp.status == 400
    users = await (await simulator.session.get(f"{base}")).json()
    assert users[0]["connected"] is True
    receipts = await simulator.control(
        f"wuzapi/users/{USER_TOKEN}/receipt", {"ids": ["3EB0"], "state": "Delivered"}
    )
    assert receipts == {"ids": ["3EB0"]}
    async with simulator.session.get(f"{base}/{USER_TOKEN}/sent") as resp:
        assert await resp.json() == []


async def test_old_build_drops_the_connection_on_a_video_reply(
    start_simulator: StartSimulator,
) -> None:
    """As in the May-2025 source, a reply with a video sets ContextInfo on a nil message: Go
    recovers the panic and closes the connection. (The client never sends one; see
    tests/gateway/test_wuzapi_builds.py.)"""
    simulator = await start_simulator(wuzapi=WuzapiConfig(build=OLD_BUILD, auto_receipts=False))
    await call(simulator, "POST", "/session/connect", USER, {"Subscribe": ["Message"]})
    await simulator.control(f"wuzapi/users/{USER_TOKEN}/scan", {"phone": "491511234567"})
    body = {
        "Phone": "491701234567",
        "Video": "data:video/mp4;base64,AAAA",
        "ContextInfo": {"StanzaID": "x", "Participant": "y"},
    }
    with pytest.raises(aiohttp.ClientError):
        await call(simulator, "POST", "/chat/send/video", USER, body)

"""Transport failures that need real time to happen, raised by a stand-in for the session.

Everything else in the library is tested against the simulator over loopback; a time-out
cannot be waited for there without waiting in real time.
"""

from __future__ import annotations

import json
from typing import Any, cast

import aiohttp
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.test_utils import TestServer
import pytest

from custom_components.whatsapp_gateway.gateway import (
    GatewayConnectionError,
    WaabotGateway,
    create_gateway,
)


class FailingSession:
    """Raises the given error where aiohttp would raise it: when the request is made."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "maybe_delivered"),
    [
        (aiohttp.ConnectionTimeoutError(), False),  # no connection within the time
        (TimeoutError(), True),  # connected, no answer in time: it may have been served
        (aiohttp.ServerDisconnectedError(), True),
        (
            aiohttp.ClientConnectorError(
                ConnectionKey("w", 80, False, True, None, None, None), OSError(111, "refused")
            ),
            False,
        ),
    ],
)
async def test_whether_a_failed_request_may_have_been_served(
    error: BaseException, maybe_delivered: bool
) -> None:
    session = cast("aiohttp.ClientSession", FailingSession(error))
    gateway = create_gateway("wuzapi", session, {"url": "http://w", "token": "t"})
    with pytest.raises(GatewayConnectionError) as raised:
        await gateway.send_text("491701234567", "hi")
    assert raised.value.maybe_delivered is maybe_delivered


async def test_waabot_token_renewal_in_any_casing(socket_enabled: None) -> None:
    """Waabot hands out a fresh access token in a header; its casing does not matter.

    (aiohttp writes well-known names such as Retry-After in one casing itself; this one it
    passes on as the server wrote it.)
    """
    seen: list[str] = []

    async def login(request: web.Request) -> web.Response:
        return web.json_response({"accessToken": "first", "refreshToken": "r"})

    async def instances(request: web.Request) -> web.Response:
        seen.append(request.headers["Authorization"])
        return web.json_response(
            {"status": True, "data": []}, headers={"X-Access-Token": "renewed"}
        )

    app = web.Application()
    app.router.add_post("/sessions", login)
    app.router.add_get("/whatsapp", instances)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            options = {"url": str(server.make_url("")), "email": "e", "password": "p"}
            gateway = create_gateway("waabot", session, options)
            assert isinstance(gateway, WaabotGateway)
            await gateway.list_instances()
            await gateway.list_instances()
        assert seen == ["Bearer first", "Bearer renewed"]
    finally:
        await server.close()


@pytest.mark.parametrize("kind", ["maytapi", "chatapi", "waabot"])
def test_a_post_is_decoded_once(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verifying and then parsing a post decode its JSON once; another post is decoded anew."""
    options = {
        "maytapi": {"product_id": "p", "api_key": "k", "phone_id": "12"},
        "chatapi": {"url": "http://c/instance1", "token": "t"},
        "waabot": {"email": "e", "password": "p", "session_id": "s", "access_token": "a"},
    }[kind]
    gateway = create_gateway(kind, cast("aiohttp.ClientSession", None), options)
    decodes: list[bytes] = []
    real = json.loads

    def counting(body: bytes | str, **kwargs: Any) -> Any:
        decodes.append(body if isinstance(body, bytes) else body.encode())
        return real(body, **kwargs)

    monkeypatch.setattr(json, "loads", counting)
    first, second = b'{"type": "x", "messages": []}', b'{"type": "y", "messages": []}'
    assert gateway.verify_webhook({}, first, None)
    gateway.parse_webhook({}, first)
    assert decodes == [first]
    gateway.parse_webhook({}, second)  # parsed without verifying: decoded
    gateway.parse_webhook({}, second)  # and nothing kept from it
    assert decodes == [first, second, second]

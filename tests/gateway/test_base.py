"""Transport failures that need real time to happen, raised by a stand-in for the session.

Everything else in the library is tested against the simulator over loopback; a time-out
cannot be waited for there without waiting in real time.
"""

from __future__ import annotations

from typing import Any, cast

import aiohttp
from aiohttp.client_reqrep import ConnectionKey
import pytest

from custom_components.whatsapp_gateway.gateway import GatewayConnectionError, create_gateway


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

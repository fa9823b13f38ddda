"""`python -m simulator` starts a server with the products and credentials asked for."""

from __future__ import annotations

import asyncio
import socket
import sys
from unittest.mock import patch

import aiohttp
import pytest

from simulator import SIMULATOR_KEY, Simulator, SimulatorConfig
from simulator.__main__ import config_from, main, parse_args
from simulator.qr import qr_matrix, qr_png


def test_options_become_configuration() -> None:
    config = config_from(
        parse_args(
            [
                "--products",
                "wuzapi",
                "--wuzapi-user-token",
                "a",
                "--wuzapi-user-token",
                "b",
                "--wuzapi-webhook-format",
                "json",
                "--wuzapi-build",
                "2025-05",
                "--maytapi-phone-id",
                "7",
                "--maytapi-ack-interval",
                "0",
                "--chatapi-instance-id",
                "77",
                "--waabot-email",
                "me@example.com",
            ]
        )
    )
    assert config.products == ("wuzapi",)
    assert config.wuzapi.user_tokens == ("a", "b")
    assert (config.wuzapi.webhook_format, config.wuzapi.build) == ("json", "2025-05")
    assert (config.maytapi.phone_ids, config.maytapi.ack_interval) == (("7",), 0)
    assert (config.chatapi.instance_id, config.waabot.email) == ("77", "me@example.com")
    defaults = config_from(parse_args([]))
    assert defaults.products == (
        "wuzapi",
        "maytapi",
        "chatapi",
        "waabot",
        "waha",
        "evolution",
        "greenapi",
        "cloudapi",
    )
    assert defaults.wuzapi.user_tokens == ("user-token",)


def test_main_serves_the_configured_app() -> None:
    with patch("simulator.__main__.web.run_app") as run_app:
        main(["--port", "9999", "--products", "maytapi"])
    app = run_app.call_args.args[0]
    simulator = app[SIMULATOR_KEY]
    assert simulator.wuzapi is None and simulator.maytapi is not None
    assert run_app.call_args.kwargs == {"host": "127.0.0.1", "port": 9999}


def test_unknown_product_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown products: fax"):
        Simulator(SimulatorConfig(products=("fax",)))


def test_qr_images_differ_per_payload() -> None:
    assert qr_png("a") != qr_png("b")
    matrix = qr_matrix("a")
    assert len(matrix) == 29 and all(len(row) == 29 for row in matrix)
    assert matrix[0][:7] == [True] * 7  # finder pattern


async def test_module_runs_as_a_program(socket_enabled: None) -> None:
    """`python -m simulator` serves once it says so (aiohttp prints where it runs)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-u",
        "-m",
        "simulator",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert f":{port}" in line.decode()
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"http://127.0.0.1:{port}/session/status", headers={"Token": "user-token"}
            ) as resp,
        ):
            answer = await resp.json()
        assert answer["data"]["loggedIn"] is False
    finally:
        process.terminate()
        await process.wait()

"""Run the simulator: `python -m simulator --port 8081 --products wuzapi,maytapi`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import logging

from aiohttp import web

from .app import PRODUCTS, SimulatorConfig, create_app
from .chatapi import ChatApiConfig
from .maytapi import MaytapiConfig
from .waabot import WaabotConfig
from .wuzapi import BUILDS, CURRENT_BUILD, WuzapiConfig


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--products", default=",".join(PRODUCTS), help=f"comma separated: {','.join(PRODUCTS)}"
    )
    parser.add_argument("--wuzapi-admin-token", default="admin-token")
    parser.add_argument(
        "--wuzapi-user-token",
        action="append",
        dest="wuzapi_user_tokens",
        help="a user to create at start (repeatable; default: user-token)",
    )
    parser.add_argument("--wuzapi-webhook-format", choices=("form", "json"), default="form")
    parser.add_argument(
        "--wuzapi-build",
        choices=BUILDS,
        default=CURRENT_BUILD,
        help="behave like the May-2025 build or a current one (default: %(default)s)",
    )
    parser.add_argument(
        "--wuzapi-qr-seconds", type=float, default=20.0, help="seconds between new QR codes"
    )
    parser.add_argument("--maytapi-product-id", default="sim-product")
    parser.add_argument("--maytapi-api-key", default="sim-key")
    parser.add_argument("--maytapi-phone-id", action="append", dest="maytapi_phone_ids")
    parser.add_argument("--maytapi-ack-interval", type=float, default=2.0)
    parser.add_argument("--chatapi-instance-id", default="424242")
    parser.add_argument("--chatapi-token", default="chatapi-token")
    parser.add_argument("--waabot-email", default="ha@example.com")
    parser.add_argument("--waabot-password", default="sim-password")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    """The simulator configuration the options describe."""
    return SimulatorConfig(
        products=tuple(name.strip() for name in args.products.split(",") if name.strip()),
        wuzapi=WuzapiConfig(
            admin_token=args.wuzapi_admin_token,
            user_tokens=tuple(args.wuzapi_user_tokens or ("user-token",)),
            webhook_format=args.wuzapi_webhook_format,
            build=args.wuzapi_build,
            qr_rotate_seconds=args.wuzapi_qr_seconds,
        ),
        maytapi=MaytapiConfig(
            product_id=args.maytapi_product_id,
            api_key=args.maytapi_api_key,
            phone_ids=tuple(args.maytapi_phone_ids or ("12",)),
            ack_interval=args.maytapi_ack_interval,
        ),
        chatapi=ChatApiConfig(instance_id=args.chatapi_instance_id, token=args.chatapi_token),
        waabot=WaabotConfig(email=args.waabot_email, password=args.waabot_password),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    web.run_app(create_app(config_from(args)), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

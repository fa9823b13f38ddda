"""Run the simulator: `python -m simulator --port 8081 --products wuzapi,maytapi`.

Every product is served under the one port; the defaults below are the credentials a client
(the integration's setup form) enters.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import logging

from aiohttp import web

from .app import PRODUCTS, SimulatorConfig, create_app
from .chatapi import ChatApiConfig
from .cloudapi import CloudApiConfig
from .evolution import EvolutionConfig
from .greenapi import GreenApiConfig
from .maytapi import MaytapiConfig
from .waabot import WaabotConfig
from .waha import ENGINES, WahaConfig
from .wuzapi import BUILDS, WuzapiConfig


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; their defaults are those of the products' configurations."""
    defaults = SimulatorConfig()
    wuzapi, maytapi = defaults.wuzapi, defaults.maytapi
    chatapi, waabot, waha = defaults.chatapi, defaults.waabot, defaults.waha
    evolution, greenapi = defaults.evolution, defaults.greenapi
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    option = parser.add_argument
    option("--host", default="127.0.0.1", help="address to listen on")
    option("--port", type=int, default=8081, help="port to listen on")
    option("--products", default=",".join(PRODUCTS), help="the products to serve, comma separated")
    option("--wuzapi-admin-token", default=wuzapi.admin_token, help="wuzapi's admin token")
    option(
        "--wuzapi-user-token",
        action="append",
        dest="wuzapi_user_tokens",
        help=f"a wuzapi user to create at start, repeatable (default: {wuzapi.user_tokens[0]})",
    )
    option(
        "--wuzapi-webhook-format",
        choices=("form", "json"),
        default=wuzapi.webhook_format,
        help="how wuzapi posts webhooks",
    )
    option(
        "--wuzapi-build",
        choices=BUILDS,
        default=wuzapi.build,
        help="behave like the May-2025 build or a current one",
    )
    option("--wuzapi-qr-seconds", type=float, default=20.0, help="seconds between new QR codes")
    option("--maytapi-product-id", default=maytapi.product_id, help="Maytapi's product id")
    option("--maytapi-api-key", default=maytapi.api_key, help="Maytapi's API key")
    option(
        "--maytapi-phone-id",
        action="append",
        dest="maytapi_phone_ids",
        help=f"a Maytapi phone slot, repeatable (default: {maytapi.phone_ids[0]})",
    )
    option(
        "--maytapi-ack-interval",
        type=float,
        default=maytapi.ack_interval,
        help="seconds between Maytapi's batches of delivery acks",
    )
    option("--chatapi-instance-id", default=chatapi.instance_id, help="the Chat-API instance")
    option("--chatapi-token", default=chatapi.token, help="the Chat-API instance's token")
    option("--waabot-email", default=waabot.email, help="the Waabot account's e-mail address")
    option("--waabot-password", default=waabot.password, help="the Waabot account's password")
    option("--waha-api-key", default=waha.api_key, help="WAHA's API key")
    option(
        "--waha-tier",
        choices=("PLUS", "CORE"),
        default=waha.tier,
        help="WAHA Plus signs webhook posts; WAHA Core cannot",
    )
    option("--waha-engine", choices=ENGINES, default=waha.engine, help="WAHA's engine")
    option("--evolution-api-key", default=evolution.api_key, help="Evolution API's global key")
    option("--greenapi-id", default=greenapi.id_instance, help="the GREEN-API instance's id")
    option("--greenapi-token", default=greenapi.api_token, help="the GREEN-API instance's token")
    option(
        "--cloudapi-token",
        default=defaults.cloudapi.access_token,
        help="the Cloud API number's access token",
    )
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    """The simulator configuration the options describe."""
    defaults = SimulatorConfig()
    return SimulatorConfig(
        products=tuple(name.strip() for name in args.products.split(",") if name.strip()),
        wuzapi=WuzapiConfig(
            admin_token=args.wuzapi_admin_token,
            user_tokens=tuple(args.wuzapi_user_tokens or defaults.wuzapi.user_tokens),
            webhook_format=args.wuzapi_webhook_format,
            build=args.wuzapi_build,
            qr_rotate_seconds=args.wuzapi_qr_seconds,
        ),
        maytapi=MaytapiConfig(
            product_id=args.maytapi_product_id,
            api_key=args.maytapi_api_key,
            phone_ids=tuple(args.maytapi_phone_ids or defaults.maytapi.phone_ids),
            ack_interval=args.maytapi_ack_interval,
        ),
        chatapi=ChatApiConfig(instance_id=args.chatapi_instance_id, token=args.chatapi_token),
        waabot=WaabotConfig(email=args.waabot_email, password=args.waabot_password),
        waha=WahaConfig(api_key=args.waha_api_key, tier=args.waha_tier, engine=args.waha_engine),
        evolution=EvolutionConfig(api_key=args.evolution_api_key),
        greenapi=GreenApiConfig(id_instance=args.greenapi_id, api_token=args.greenapi_token),
        # The demo's contacts write first, or not: every one counts as in the 24 hours.
        cloudapi=CloudApiConfig(access_token=args.cloudapi_token, enforce_window=False),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    web.run_app(create_app(config_from(args)), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

"""A small async client library for WhatsApp HTTP gateways (no Home Assistant imports).

gateway = create_gateway("wuzapi", session, {"url": "http://wuzapi:8080", "token": "…"})
await gateway.send_text("+49 170 1234567", "Hello")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from .base import Gateway, WebhookBodyReader
from .chat_id import ChatId, parse_chat_id
from .chatapi import ChatApiGateway
from .errors import (
    GatewayAuthError,
    GatewayConnectionError,
    GatewayError,
    GatewayNotLoggedIn,
    GatewayRateLimited,
    GatewayResponseError,
    GatewayUnsupported,
    InvalidChatId,
)
from .maytapi import DEFAULT_URL as MAYTAPI_URL, MaytapiGateway, MaytapiPhone
from .media import sniff_image
from .models import (
    Capability,
    Contact,
    DeliveryStatus,
    InboundEvent,
    InboundMedia,
    IncomingMessage,
    Location,
    LoginQr,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    PhoneCheck,
    SentMessage,
    SessionEvent,
    SessionState,
    SessionStatus,
)
from .waabot import DEFAULT_URL as WAABOT_URL, WaabotGateway, WaabotInstance
from .wuzapi import WuzapiGateway, WuzapiUser

_CLASSES: dict[str, type[Gateway]] = {
    cls.kind: cls for cls in (WuzapiGateway, MaytapiGateway, ChatApiGateway, WaabotGateway)
}
GATEWAY_KINDS = tuple(_CLASSES)


def gateway_capabilities(kind: str) -> frozenset[Capability]:
    """What a gateway product can do, without building a client."""
    if (cls := _CLASSES.get(kind)) is None:
        raise GatewayUnsupported(f"Unknown gateway kind '{kind}'")
    return cls.capabilities


def create_gateway(
    kind: str, session: aiohttp.ClientSession, options: Mapping[str, Any]
) -> Gateway:
    """Build the client for a gateway product from its options.

    wuzapi: `url`, `token` (user token), optional `admin_token`.
    maytapi: `product_id`, `api_key`, optional `phone_id` and `url` (the API host).
    chatapi: `url` (the instance URL, ending in /instance<ID>), `token`.
    waabot: `email`, `password`, optional `session_id`, `access_token`, `instance_id` (the
    instance) and `url` (the API base).
    """

    def option(name: str) -> str | None:
        value = options.get(name)
        return str(value) if value not in (None, "") else None

    def required(name: str) -> str:
        if (value := option(name)) is None:
            raise ValueError(f"The {kind} gateway needs the option '{name}'")
        return value

    if kind == "wuzapi":
        return WuzapiGateway(
            session, required("url"), token=option("token"), admin_token=option("admin_token")
        )
    if kind == "maytapi":
        return MaytapiGateway(
            session,
            product_id=required("product_id"),
            api_key=required("api_key"),
            phone_id=option("phone_id"),
            base_url=option("url") or MAYTAPI_URL,
        )
    if kind == "chatapi":
        return ChatApiGateway(session, required("url"), token=required("token"))
    if kind == "waabot":
        return WaabotGateway(
            session,
            email=required("email"),
            password=required("password"),
            session_id=option("session_id"),
            access_token=option("access_token"),
            instance_id=option("instance_id"),
            base_url=option("url") or WAABOT_URL,
        )
    raise GatewayUnsupported(f"Unknown gateway kind '{kind}' (known: {', '.join(GATEWAY_KINDS)})")


__all__ = [
    "GATEWAY_KINDS",
    "MAYTAPI_URL",
    "WAABOT_URL",
    "Capability",
    "ChatApiGateway",
    "ChatId",
    "Contact",
    "DeliveryStatus",
    "Gateway",
    "GatewayAuthError",
    "GatewayConnectionError",
    "GatewayError",
    "GatewayNotLoggedIn",
    "GatewayRateLimited",
    "GatewayResponseError",
    "GatewayUnsupported",
    "InboundEvent",
    "InboundMedia",
    "IncomingMessage",
    "InvalidChatId",
    "Location",
    "LoginQr",
    "MaytapiGateway",
    "MaytapiPhone",
    "MediaKind",
    "MessageKind",
    "MessageStatusUpdate",
    "OutgoingMedia",
    "PhoneCheck",
    "SentMessage",
    "SessionEvent",
    "SessionState",
    "SessionStatus",
    "WaabotGateway",
    "WaabotInstance",
    "WebhookBodyReader",
    "WuzapiGateway",
    "WuzapiUser",
    "create_gateway",
    "gateway_capabilities",
    "parse_chat_id",
    "sniff_image",
]

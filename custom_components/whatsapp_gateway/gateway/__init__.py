"""A small async client library for WhatsApp HTTP gateways (no Home Assistant imports).

gateway = create_gateway("wuzapi", session, WuzapiOptions(url="http://wuzapi:8080", token="…"))
await gateway.send_text("+49 170 1234567", "Hello")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from . import chatapi, cloudapi, evolution, greenapi, maytapi, waabot, waha, wuzapi
from .base import Gateway, WebhookBodyReader
from .chat_id import ChatId, parse_chat_id
from .chatapi import ChatApiGateway, ChatApiOptions
from .cloudapi import CloudApiGateway, CloudApiOptions
from .descriptor import (
    OPTIONS_VERSION_KEY,
    AccountChoice,
    AccountPicking,
    CredentialField,
    CredentialsIncomplete,
    FieldType,
    GatewayDescriptor,
    GatewayOptions,
)
from .errors import (
    GatewayAuthError,
    GatewayConnectionError,
    GatewayError,
    GatewayNotLoggedIn,
    GatewayRateLimited,
    GatewayResponseError,
    GatewayUnsupported,
    InvalidChatId,
    NationalNumber,
    NotTheGateway,
)
from .evolution import EvolutionGateway, EvolutionOptions
from .greenapi import GreenApiGateway, GreenApiOptions
from .maytapi import MaytapiGateway, MaytapiOptions, MaytapiPhone
from .media import sniff_image
from .models import (
    Capability,
    ChatPresence,
    Contact,
    DeliveryStatus,
    InboundEvent,
    InboundMedia,
    IncomingCall,
    IncomingMessage,
    Location,
    LoginQr,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    PhoneCheck,
    Poll,
    SentMessage,
    SessionEvent,
    SessionState,
    SessionStatus,
)
from .waabot import WaabotGateway, WaabotInstance, WaabotOptions
from .waha import WahaGateway, WahaOptions
from .wuzapi import WuzapiGateway, WuzapiOptions, WuzapiUser

# Every product, in the order a user is offered them.
GATEWAYS: tuple[GatewayDescriptor[Any, Any], ...] = (
    wuzapi.DESCRIPTOR,
    maytapi.DESCRIPTOR,
    chatapi.DESCRIPTOR,
    waabot.DESCRIPTOR,
    waha.DESCRIPTOR,
    evolution.DESCRIPTOR,
    greenapi.DESCRIPTOR,
    cloudapi.DESCRIPTOR,
)
_BY_KIND = {descriptor.kind: descriptor for descriptor in GATEWAYS}
GATEWAY_KINDS = tuple(_BY_KIND)


def gateway_descriptor(kind: str) -> GatewayDescriptor[Any, Any]:
    """The descriptor of a gateway product."""
    if (descriptor := _BY_KIND.get(kind)) is None:
        raise GatewayUnsupported(
            f"Unknown gateway kind '{kind}' (known: {', '.join(GATEWAY_KINDS)})"
        )
    return descriptor


def gateway_capabilities(kind: str) -> frozenset[Capability]:
    """What a gateway product can do, without building a client."""
    return gateway_descriptor(kind).capabilities


def create_gateway(
    kind: str, session: aiohttp.ClientSession, options: Mapping[str, Any] | GatewayOptions
) -> Gateway:
    """Build the client for a gateway product from its options (or stored settings).

    The options each product takes are its descriptor's `options` class.
    """
    gateway: Gateway = gateway_descriptor(kind).create(session, options)
    return gateway


__all__ = [
    "GATEWAYS",
    "GATEWAY_KINDS",
    "OPTIONS_VERSION_KEY",
    "AccountChoice",
    "AccountPicking",
    "Capability",
    "ChatApiGateway",
    "ChatApiOptions",
    "ChatId",
    "ChatPresence",
    "CloudApiGateway",
    "CloudApiOptions",
    "Contact",
    "CredentialField",
    "CredentialsIncomplete",
    "DeliveryStatus",
    "EvolutionGateway",
    "EvolutionOptions",
    "FieldType",
    "Gateway",
    "GatewayAuthError",
    "GatewayConnectionError",
    "GatewayDescriptor",
    "GatewayError",
    "GatewayNotLoggedIn",
    "GatewayOptions",
    "GatewayRateLimited",
    "GatewayResponseError",
    "GatewayUnsupported",
    "GreenApiGateway",
    "GreenApiOptions",
    "InboundEvent",
    "InboundMedia",
    "IncomingCall",
    "IncomingMessage",
    "InvalidChatId",
    "Location",
    "LoginQr",
    "MaytapiGateway",
    "MaytapiOptions",
    "MaytapiPhone",
    "MediaKind",
    "MessageKind",
    "MessageStatusUpdate",
    "NationalNumber",
    "NotTheGateway",
    "OutgoingMedia",
    "PhoneCheck",
    "Poll",
    "SentMessage",
    "SessionEvent",
    "SessionState",
    "SessionStatus",
    "WaabotGateway",
    "WaabotInstance",
    "WaabotOptions",
    "WahaGateway",
    "WahaOptions",
    "WebhookBodyReader",
    "WuzapiGateway",
    "WuzapiOptions",
    "WuzapiUser",
    "create_gateway",
    "gateway_capabilities",
    "gateway_descriptor",
    "parse_chat_id",
    "sniff_image",
]

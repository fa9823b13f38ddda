"""Descriptors: what the integration knows of each gateway product, and the typed options."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, cast

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    GATEWAY_KINDS,
    GATEWAYS,
    OPTIONS_VERSION_KEY,
    CredentialField,
    FieldType,
    GatewayOptions,
    GatewayUnsupported,
    MaytapiOptions,
    WaabotOptions,
    WuzapiOptions,
    create_gateway,
    gateway_descriptor,
)
from custom_components.whatsapp_gateway.gateway.descriptor import PRIVATE

NO_SESSION = cast("aiohttp.ClientSession", None)


def test_registry_order_and_lookup() -> None:
    assert GATEWAY_KINDS == (
        "wuzapi",
        "maytapi",
        "chatapi",
        "waabot",
        "waha",
        "evolution",
        "greenapi",
        "cloudapi",
    )
    assert [descriptor.name for descriptor in GATEWAYS] == [
        "wuzapi",
        "Maytapi",
        "Chat-API",
        "Waabot",
        "WAHA",
        "Evolution API",
        "GREEN-API",
        "WhatsApp Cloud API",
    ]
    assert {d.kind for d in GATEWAYS if d.cloud} == {"maytapi", "waabot", "greenapi", "cloudapi"}
    assert {d.kind for d in GATEWAYS if d.accounts} == {"maytapi", "waabot"}
    with pytest.raises(GatewayUnsupported, match="Unknown gateway kind 'telegram'"):
        gateway_descriptor("telegram")


@pytest.mark.parametrize("descriptor", GATEWAYS, ids=lambda descriptor: descriptor.kind)
def test_every_credential_fills_an_option_or_is_consumed(descriptor: Any) -> None:
    """Every box of the form is an option of the client; a password box's option is private."""
    options = {option.name for option in fields(descriptor.options)}
    for box in descriptor.credentials:
        assert box.key in options, box.key
        if box.secret:
            assert box.key in descriptor.private_keys()


def test_options_round_trip_and_ignore_other_keys() -> None:
    data = {"kind": "maytapi", "webhook_id": "w", "product_id": " p ", "api_key": "k", "x": 1}
    options = MaytapiOptions.from_data(data)
    assert options == MaytapiOptions(product_id=" p ", api_key="k")
    assert options.url == "https://api.maytapi.com"
    assert options.to_data() == {
        OPTIONS_VERSION_KEY: 1,
        "url": "https://api.maytapi.com",
        "product_id": " p ",
        "api_key": "k",
    }
    assert MaytapiOptions.from_data(options.to_data()) == options


def test_missing_option_is_named_with_its_gateway() -> None:
    with pytest.raises(ValueError, match="The waabot gateway needs the option 'password'"):
        gateway_descriptor("waabot").options_from({"email": "e", "password": ""})


def test_private_options() -> None:
    assert WaabotOptions.private_keys() == {
        "email",
        "password",
        "session_id",
        "access_token",
        "instance_id",
    }
    assert gateway_descriptor("maytapi").private_keys() == {"product_id", "api_key"}
    assert gateway_descriptor("wuzapi").private_keys() == {"token", "admin_token"}


def test_configuration_url() -> None:
    assert WuzapiOptions(url="http://w:8080", token="t").configuration_url() == "http://w:8080"
    assert MaytapiOptions(product_id="p", api_key="k").configuration_url() is None


@dataclass(frozen=True, slots=True, kw_only=True)
class RenamedOptions(GatewayOptions):
    """A product whose second version renamed `key` to `api_key`."""

    version: ClassVar[int] = 2
    api_key: str = field(metadata=PRIVATE)

    @classmethod
    def migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        if version < 2:
            data["api_key"] = data.pop("key")
        return data


def test_options_stored_by_an_older_version_are_migrated() -> None:
    old = {"url": "http://g", "key": "secret"}  # stored before versions were written
    assert RenamedOptions.from_data(old) == RenamedOptions(url="http://g", api_key="secret")
    current = RenamedOptions.from_data({OPTIONS_VERSION_KEY: 2, "url": "u", "api_key": "a"})
    assert current.api_key == "a"
    assert RenamedOptions(url="u", api_key="a").to_data()[OPTIONS_VERSION_KEY] == 2


@pytest.mark.parametrize(
    ("box", "typed", "kept"),
    [
        (CredentialField("url", FieldType.URL), " http://w:8080/ ", "http://w:8080"),
        (CredentialField("email", FieldType.EMAIL), " me@x.org ", "me@x.org"),
        (CredentialField("product_id"), " 123 ", "123"),
        (CredentialField("token", FieldType.PASSWORD), " a b ", " a b "),
    ],
)
def test_typed_credentials_are_cleaned_except_secrets(
    box: CredentialField, typed: str, kept: str
) -> None:
    assert box.clean(typed) == kept


def test_create_gateway_takes_typed_options_or_stored_settings() -> None:
    typed = create_gateway("wuzapi", NO_SESSION, WuzapiOptions(url="http://w", token="t"))
    stored = create_gateway("wuzapi", NO_SESSION, {"url": "http://w", "token": "t"})
    assert type(typed) is type(stored)
    assert typed.kind == "wuzapi"


def test_public_credentials_leave_secrets_out() -> None:
    stored = {"email": "me@x.org", "password": "p", "url": "u", "session_id": "s"}
    assert gateway_descriptor("waabot").public_credentials(stored) == {
        "email": "me@x.org",
        "url": "u",
    }

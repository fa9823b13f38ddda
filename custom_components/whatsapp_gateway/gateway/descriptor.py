"""What a program needs to know about a gateway product without knowing the product.

Each product module exports one `GatewayDescriptor`: its name, whether it runs on the
internet, the credentials a user types, the options its client is built from, and, for
products whose login holds several WhatsApp accounts, how to list and add one. A user
interface built from descriptors serves every product the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from enum import StrEnum
from typing import Any, ClassVar, Final, Self

import aiohttp
from yarl import URL

from .base import Gateway
from .models import Capability, SessionState

# The key under which stored options say which version of their class wrote them.
OPTIONS_VERSION_KEY: Final = "options_version"
# Metadata of an option field whose value must not appear in logs or diagnostics.
PRIVATE: Final = {"private": True}


class FieldType(StrEnum):
    """How a credential is typed in."""

    TEXT = "text"
    PASSWORD = "password"  # noqa: S105 - the kind of box, not a password
    URL = "url"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One box of a product's credentials form.

    Its key names it in translations (label and help text) and is the option it fills. A
    password box is secret: it is never shown back in a form.
    """

    key: str
    type: FieldType = FieldType.TEXT
    required: bool = True
    default: str | None = None

    @property
    def secret(self) -> bool:
        """Whether the value is a secret."""
        return self.type is FieldType.PASSWORD

    def problem(self, value: str) -> str | None:
        """What is wrong with a cleaned value, as a short key (`invalid_url`); None if fine."""
        if self.type is FieldType.URL:
            try:
                url = URL(value)
            except ValueError:
                return "invalid_url"
            if url.scheme not in ("http", "https") or not url.host:
                return "invalid_url"
        return None

    def clean(self, value: Any) -> str:
        """The value as typed, without blanks around it (a URL also without a final slash)."""
        if self.secret:
            return str(value)
        text = str(value).strip()
        return text.rstrip("/") if self.type is FieldType.URL else text


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayOptions:
    """The settings a product's client is built from; each product extends it.

    Fields are strings; one without a default is required. `version` counts changes of a
    product's fields: `migrate` turns settings stored by an older version into the current.
    """

    version: ClassVar[int] = 1
    url: str

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, product: str = "The gateway") -> Self:
        """Build from stored settings (other keys are ignored); ValueError names what is missing."""
        values = cls.migrate(dict(data), int(data.get(OPTIONS_VERSION_KEY, 1)))
        found: dict[str, str] = {}
        for option in fields(cls):
            value = values.get(option.name)
            if value not in (None, ""):
                found[option.name] = str(value)
            elif option.default is MISSING:
                raise ValueError(f"{product} needs the option '{option.name}'")
        return cls(**found)

    @classmethod
    def migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Settings stored by an older version of these options, in the current shape."""
        return data

    @classmethod
    def private_keys(cls) -> frozenset[str]:
        """Options that are secrets or identify the account."""
        return frozenset(option.name for option in fields(cls) if option.metadata.get("private"))

    def to_data(self) -> dict[str, Any]:
        """What to store, with the version that wrote it."""
        stored: dict[str, Any] = {OPTIONS_VERSION_KEY: self.version}
        for option in fields(self):
            if (value := getattr(self, option.name)) is not None:
                stored[option.name] = value
        return stored

    def configuration_url(self) -> str | None:
        """Where the user manages this gateway in a browser, if it has such a page."""
        return None


class CredentialsIncomplete(ValueError):
    """The credentials typed in are not enough; `reason` names what is missing."""

    def __init__(self, reason: str) -> None:
        """`reason` is a short key (for a translated message), such as `token_required`."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccountChoice:
    """A WhatsApp account a login holds: its state, number, and the options that select it."""

    id: str
    state: SessionState
    selection: Mapping[str, str]
    number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPicking[G: Gateway, A]:
    """For products whose login holds several WhatsApp accounts (phones, instances).

    `noun` names what the product calls an account; `option` is the option that selects one.
    `fetch` and `create` are the product's calls, `choice` shows one of its accounts.
    `create` makes an account, which the product may bill: only once the user chose to.
    """

    noun: str
    option: str
    fetch: Callable[[G], Awaitable[list[A]]]
    create: Callable[[G], Awaitable[A]]
    choice: Callable[[A], AccountChoice]

    async def choices(self, gateway: G) -> list[AccountChoice]:
        """The accounts the login holds."""
        return [self.choice(account) for account in await self.fetch(gateway)]

    async def add_account(self, gateway: G) -> AccountChoice:
        """A new account, for the user who chose to add one."""
        return self.choice(await self.create(gateway))


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayDescriptor[G: Gateway, O: GatewayOptions]:
    """One gateway product, as a user interface needs to know it.

    `complete` turns the credentials typed in into options, where that takes a call (wuzapi
    makes a user from an admin token); it raises CredentialsIncomplete or a GatewayError.
    """

    gateway: type[G]
    name: str
    cloud: bool
    options: type[O]
    credentials: tuple[CredentialField, ...]
    build: Callable[[aiohttp.ClientSession, O], G]
    accounts: AccountPicking[G, Any] | None = None
    complete: (
        Callable[[aiohttp.ClientSession, dict[str, str]], Awaitable[dict[str, str]]] | None
    ) = None

    @property
    def kind(self) -> str:
        """The product's short name, stored with each account."""
        return self.gateway.kind

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the product can do."""
        return self.gateway.capabilities

    def create(self, session: aiohttp.ClientSession, options: Mapping[str, Any] | O) -> G:
        """A client for the account these options name."""
        typed = options if isinstance(options, GatewayOptions) else self.options_from(options)
        return self.build(session, typed)

    def options_from(self, data: Mapping[str, Any]) -> O:
        """The options in stored settings (migrated when an older version stored them)."""
        return self.options.from_data(data, product=f"The {self.kind} gateway")

    def private_keys(self) -> frozenset[str]:
        """Options and credentials that must not appear in logs or diagnostics."""
        secrets = {box.key for box in self.credentials if box.secret}
        return self.options.private_keys() | secrets

    def public_credentials(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The credentials in stored settings that may be shown back in a form."""
        return {
            box.key: data[box.key] for box in self.credentials if not box.secret and box.key in data
        }

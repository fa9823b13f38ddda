"""Exceptions raised by the gateway library.

Every message is written for the person who has to fix the problem: it says what went wrong
and, where possible, what to do about it.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class of every error raised by this library."""


class GatewayConnectionError(GatewayError):
    """The gateway could not be reached (network error, time-out, 5xx without an answer).

    `maybe_delivered` is True when the request may have reached the gateway before the
    answer was lost (a time-out, a dropped connection, a proxy's 502/504): repeating it could
    do the same thing twice.
    """

    def __init__(self, message: str, *, maybe_delivered: bool = False) -> None:
        """Say whether the gateway may have acted on the request."""
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class GatewayAuthError(GatewayError):
    """The gateway rejected the credentials (token, API key, product id).

    `credential` names the option that was refused, where the gateway's answer tells which.
    """

    def __init__(self, message: str, *, credential: str | None = None) -> None:
        """Say which credential was refused, when that is known."""
        super().__init__(message)
        self.credential = credential


class GatewayNotLoggedIn(GatewayError):
    """The WhatsApp session is not linked or not connected, so the request cannot be served."""


class GatewayRateLimited(GatewayError):
    """The gateway asked us to slow down."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        """Store how long the gateway asked us to wait, when it said so."""
        super().__init__(message)
        self.retry_after = retry_after


class GatewayResponseError(GatewayError):
    """The gateway answered, but with an error or with something we cannot understand."""


class NotTheGateway(GatewayResponseError):
    """Something answered at the address, but not the gateway.

    A web page instead of JSON, or another server's "not found" where every build answers.
    """

    def __init__(self, message: str, *, status: int) -> None:
        """Keep the HTTP status it answered with."""
        super().__init__(message)
        self.status = status

    @classmethod
    def lacking(cls, product: str, missing: str) -> NotTheGateway:
        """An answer (HTTP 200) without what the product's answer always holds."""
        return cls(
            f"Something answers at this address, but it is not {product} "
            f"(no {missing} in its answer)",
            status=200,
        )

    @classmethod
    def not_found(cls, product: str, what: str) -> NotTheGateway:
        """A 404 with no JSON: another server, or the right host on another path or port."""
        return cls(
            f"Something answers at this address, but not {product} (HTTP 404 to the {what} "
            "request)",
            status=404,
        )


class GatewayUnsupported(GatewayError):
    """The gateway product cannot do what was asked (e.g. pairing codes on Maytapi)."""


class InvalidChatId(GatewayError, ValueError):
    """A phone number or chat id could not be understood."""


class NationalNumber(InvalidChatId):
    """A phone number without its country code (it starts with 0): WhatsApp needs the code."""

"""The interface every gateway product implements, and the HTTP plumbing they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
import hashlib
import hmac
from typing import Any, ClassVar

import aiohttp

from .errors import (
    GatewayConnectionError,
    GatewayRateLimited,
    GatewayResponseError,
    GatewayUnsupported,
    NotTheGateway,
)
from .models import (
    Capability,
    ChatPresence,
    InboundEvent,
    InboundMedia,
    LoginQr,
    OutgoingMedia,
    PhoneCheck,
    SentMessage,
    SessionStatus,
)
from .payload import load_json

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass(frozen=True, slots=True)
class Response:
    """A gateway answer: HTTP status, headers and body, decoded as JSON when it is JSON."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json_or_none(self, what: str) -> Any:
        """The body as JSON; None when it is none (an error page of a proxy, say)."""
        try:
            return self.json(what)
        except NotTheGateway:
            return None

    def json(self, what: str) -> Any:
        """The body as JSON, or a clear error naming what we asked for."""
        try:
            return load_json(self.body, what)
        except GatewayResponseError as err:
            raise NotTheGateway(
                f"The gateway answered the {what} request with something that is not JSON "
                f"(HTTP {self.status})",
                status=self.status,
            ) from err


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a Retry-After header, when it holds a number."""
    try:
        return float(headers.get("Retry-After", ""))
    except ValueError:
        return None


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of a raw body, as gateways put it in their signature headers."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookBodyReader:
    """Collects a webhook body as it streams in, up to a limit.

    Gateways that inline media can return a reader that drops the media of a post over the
    limit (it is then fetched afterwards) instead of refusing the whole post.
    """

    def __init__(self, limit: int) -> None:
        """Keep at most `limit` bytes."""
        self._limit = limit
        self._body = bytearray()
        self.too_large = False

    def feed(self, chunk: bytes) -> None:
        """The next part of the body."""
        if self.too_large:
            return
        self._body += chunk
        if len(self._body) > self._limit:
            self._over_limit()

    def _over_limit(self) -> None:
        self.too_large = True
        self._body.clear()

    @property
    def body(self) -> bytes:
        """What was kept of the body."""
        return bytes(self._body)

    def signature_valid(self, headers: Mapping[str, str]) -> bool | None:
        """For a body that was cut: whether the whole one was signed right.

        None when the body is whole: then verify it as usual.
        """
        return None


class Gateway(ABC):
    """A WhatsApp HTTP gateway holding one WhatsApp account."""

    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    # With automatic inbound: polled only when the gateway cannot reach Home Assistant (a
    # gateway that can be polled is otherwise polled always).
    polls_unless_reachable: ClassVar[bool] = False
    # Whether what polling brings includes the delivery receipts (a queue of notifications
    # does; a log of messages does not).
    receipts_when_polled: ClassVar[bool] = False
    # Whether the gateway checks the webhook address with a GET before it posts there.
    webhook_handshake: ClassVar[bool] = False

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        """Use the caller's HTTP session; never open one of our own."""
        self._session = session
        self._base_url = base_url.rstrip("/")
        # The last webhook body decoded, so that verifying and parsing it decode it once.
        self._decoded: tuple[bytes, Any] | None = None

    def _webhook_json(self, body: bytes, what: str, *, keep: bool) -> Any:
        """A webhook body as JSON (GatewayResponseError if it is not).

        `keep` holds the result for the next call with the same body (verify, then parse);
        the call that does not keep it lets it go.
        """
        decoded, self._decoded = self._decoded, None
        value = decoded[1] if decoded is not None and decoded[0] is body else load_json(body, what)
        if keep:
            self._decoded = (body, value)
        return value

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        form: aiohttp.FormData | None = None,
        base_url: str | None = None,
    ) -> Response:
        """Send one request; network failures and overload become library errors.

        `base_url` is for gateways that serve some calls from another host (uploads).
        """
        url = f"{base_url or self._base_url}{path}"
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                json=json_body,
                data=form,
                params=params,
                timeout=DEFAULT_TIMEOUT,
            ) as resp:
                body = await resp.read()
                # aiohttp's own headers: case-insensitive ("retry-after" is Retry-After too).
                response = Response(resp.status, resp.headers, body)
        except aiohttp.ConnectionTimeoutError as err:
            # No connection within the time: the request never left.
            raise GatewayConnectionError(
                f"{self._base_url} accepted no connection in time for the {what} request"
            ) from err
        except TimeoutError as err:
            raise GatewayConnectionError(
                f"{self._base_url} did not answer the {what} request in time",
                maybe_delivered=True,
            ) from err
        except aiohttp.ClientConnectorError as err:
            # Refused, unresolvable or unroutable: the request never left. The OS's reason,
            # not aiohttp's "Cannot connect to host …", which would repeat what we say.
            reason = err.os_error.strerror or str(err.os_error)
            raise GatewayConnectionError(
                f"no connection to {self._base_url} for the {what} request: {reason}"
            ) from err
        except aiohttp.ClientError as err:
            raise GatewayConnectionError(
                f"{self._base_url} dropped the {what} request: {err}",
                maybe_delivered=True,
            ) from err
        if response.status == 429:
            raise GatewayRateLimited(
                f"The gateway is rate limiting requests ({what}); try again later",
                retry_after(response.headers),
            )
        if response.status in (502, 503, 504):
            # A proxy's 502/504 may come after the gateway behind it acted; a 503 is a refusal.
            raise GatewayConnectionError(
                f"{self._base_url} is unavailable (HTTP {response.status}) for the {what} request",
                maybe_delivered=response.status != 503,
            )
        return response

    async def _fetch_file(self, url: str, *, headers: Mapping[str, str] | None = None) -> bytes:
        """The bytes at a file's absolute URL (a gateway's storage), its failures mapped."""
        response = await self._request(
            "GET", "", what="download media", headers=headers, base_url=url
        )
        if response.status >= 400:
            raise GatewayResponseError(
                f"The file of the message could not be fetched (HTTP {response.status})"
            )
        return response.body

    # Session

    @abstractmethod
    async def status(self) -> SessionStatus:
        """Ask the gateway for the state of the session."""

    @abstractmethod
    async def connect(self) -> None:
        """Start the session (the gateway then shows a QR or reconnects)."""

    @abstractmethod
    async def logout(self) -> None:
        """Unlink the WhatsApp account from the gateway."""

    @abstractmethod
    async def restart(self) -> None:
        """Restart the session without unlinking it."""

    @abstractmethod
    async def login_qr(self) -> LoginQr:
        """The current pairing QR code."""

    async def request_pairing_code(self, phone: str) -> str:
        """A code to type on the phone instead of scanning the QR."""
        raise self._unsupported("linking with a phone number")

    # Sending

    @abstractmethod
    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """Send a text message (with the given id where the gateway lets the client choose)."""

    @abstractmethod
    async def send_media(
        self,
        to: str,
        media: OutgoingMedia,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
    ) -> SentMessage:
        """Send a file, encoded the way the gateway wants it."""

    def new_message_id(self) -> str | None:
        """An id for a message about to be sent; None where the gateway picks its own."""
        return None

    async def group_subject(self, chat_id: str) -> str | None:
        """The subject (name) of a group; None where the gateway cannot tell it."""
        return None

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """Send a location pin."""
        raise self._unsupported("sending locations")

    async def send_contact(self, to: str, name: str, vcard: str) -> SentMessage:
        """Send a contact card."""
        raise self._unsupported("sending contacts")

    async def send_reaction(
        self, to: str, message_id: str, emoji: str, *, from_me: bool = False
    ) -> SentMessage:
        """React to a message with an emoji (an empty emoji removes the reaction)."""
        raise self._unsupported("reactions")

    async def edit_message(self, to: str, message_id: str, text: str) -> None:
        """Give one of the account's own messages a new text."""
        raise self._unsupported("editing messages")

    async def delete_message(self, to: str, message_id: str) -> None:
        """Delete one of the account's own messages for everyone."""
        raise self._unsupported("deleting messages")

    async def send_presence(self, to: str, presence: ChatPresence) -> None:
        """Show "typing…" or "recording…" in a chat, or stop showing it."""
        raise self._unsupported("typing indicators")

    async def send_poll(
        self, to: str, question: str, options: Sequence[str], *, multiple: bool = False
    ) -> SentMessage:
        """Send a poll; `multiple` lets people pick more than one option."""
        raise self._unsupported("polls")

    async def mark_read(
        self, chat_id: str, message_ids: Sequence[str], *, sender: str | None = None
    ) -> None:
        """Mark messages as read (blue ticks)."""
        raise self._unsupported("marking messages as read")

    async def check_phones(self, phones: Sequence[str]) -> list[PhoneCheck]:
        """Which of these phone numbers have WhatsApp."""
        raise self._unsupported("checking phone numbers")

    # Inbound

    @abstractmethod
    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """Make the gateway post its events to this URL (signed with the secret if it can)."""

    @abstractmethod
    async def get_webhook(self) -> str | None:
        """The URL the gateway currently posts its events to."""

    async def webhook_matches(self, url: str, secret: str | None) -> bool:
        """Whether the gateway still posts what we need to this URL (as configure_webhook set)."""
        return await self.get_webhook() == url

    def verification_answer(self, query: Mapping[str, str], secret: str | None) -> str | None:
        """The answer to the gateway's check of the webhook address; None to refuse it."""
        return None

    async def send_template(
        self, to: str, name: str, language: str, parameters: Sequence[str] = ()
    ) -> SentMessage:
        """Send an approved message template with its parameters."""
        raise self._unsupported("message templates")

    @property
    def webhook_auth(self) -> str:
        """How a post is known to come from this account: `hmac`, `token` or `secret_url`."""
        return "secret_url"

    def signature_missing(self, headers: Mapping[str, str], secret: str | None) -> bool:
        """True for a post without the signature this gateway was told to add."""
        return False

    def body_reader(
        self, headers: Mapping[str, str], secret: str | None, limit: int
    ) -> WebhookBodyReader:
        """How to read a webhook body of at most `limit` bytes."""
        return WebhookBodyReader(limit)

    @abstractmethod
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """Turn a webhook body into events; no I/O; raises only GatewayResponseError.

        Not pure: a gateway may remember what it needs later (who wrote a message, to quote
        it), and the body decoded by verify_webhook.
        """

    @abstractmethod
    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """Whether a webhook body really comes from this gateway account."""

    async def prepare_polling(self) -> None:  # noqa: B027 - most gateways need nothing
        """Make the gateway keep its events for polling (some do only without a webhook)."""

    async def polling_ready(self) -> bool:
        """Whether the gateway still keeps its events for polling (prepare_polling's work)."""
        return True

    async def poll_events(self, cursor: str | None) -> tuple[list[InboundEvent], str | None]:
        """Fetch events since the cursor, for gateways that cannot push."""
        raise self._unsupported("polling for messages")

    async def missed_events(self, since: datetime) -> list[InboundEvent]:
        """Messages the gateway posted (or tried to) since then, oldest first."""
        raise self._unsupported("catching up on missed messages")

    async def download_media(self, media: InboundMedia) -> InboundMedia:
        """The media with its bytes, fetched through the handle the webhook gave."""
        raise self._unsupported("downloading media")

    def _unsupported(self, feature: str) -> GatewayUnsupported:
        # Shown after "<gateway> cannot do this:", so it does not name the gateway again.
        return GatewayUnsupported(f"it does not support {feature}")

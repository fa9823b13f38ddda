"""The entry's Home Assistant webhook: registered here, pointed at by the gateway.

The webhook stays registered while its entry reloads (options, reconfigure, a new chat):
posts arriving meanwhile are held and handled once the entry is loaded again, instead of
being answered 200 and dropped as Home Assistant does for an unknown webhook.
"""

from collections import deque
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass, field
from http import HTTPStatus
import ipaddress
from types import ModuleType
from typing import Final

from aiohttp import web
from aiohttp.hdrs import METH_GET, METH_POST
from homeassistant.components import webhook
from homeassistant.const import CONF_URL, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError
from yarl import URL

from .const import (
    CONF_CLOUDHOOK_URL,
    CONF_KIND,
    CONF_WEBHOOK_SECRET,
    CONF_WEBHOOK_VERIFIED,
    DOMAIN,
    LOGGER,
    MAX_HELD_BYTES,
    MAX_HELD_POSTS,
    MAX_WEBHOOK_BYTES,
    SIGNING_REPAIR_INTERVAL,
)
from .coordinator import WhatsAppConfigEntry
from .gateway import (
    Gateway,
    GatewayError,
    GatewayResponseError,
    WebhookBodyReader,
    gateway_descriptor,
)
from .inbound import InboundHealth, InboundRouter, Refusal

SLOTS_KEY = f"{DOMAIN}_webhook_slots"


@dataclass(frozen=True, slots=True)
class Post:
    """A webhook post as it arrived (its inline media dropped, when it was too large).

    `signature_valid` is the check of the whole body when the body was cut, else None.
    """

    headers: Mapping[str, str]
    body: bytes
    signature_valid: bool | None = None


@dataclass
class WebhookSlot:
    """One registered webhook: handed to the loaded entry's receiver, or held meanwhile."""

    receiver: WebhookReceiver | None = None
    # Answers the gateway's check of the address, also while the entry reloads.
    handshake: Callable[[Mapping[str, str]], web.Response] | None = None
    held: deque[Post] = field(default_factory=deque)
    held_bytes: int = 0
    local_only: bool | None = None

    def hold(self, post: Post) -> bool:
        """Keep a post for later; False when the bound is reached."""
        if len(self.held) >= MAX_HELD_POSTS or self.held_bytes + len(post.body) > MAX_HELD_BYTES:
            return False
        self.held.append(post)
        self.held_bytes += len(post.body)
        return True


def _slots(hass: HomeAssistant) -> dict[str, WebhookSlot]:
    slots: dict[str, WebhookSlot] = hass.data.setdefault(SLOTS_KEY, {})
    return slots


async def _async_handle(hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
    """Every post of every entry's webhook comes here first."""
    if (slot := _slots(hass).get(webhook_id)) is None:
        return web.Response(status=HTTPStatus.NOT_FOUND)
    receiver = slot.receiver
    if request.method == METH_GET:
        if slot.handshake is None:
            return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)
        return slot.handshake(request.query)
    # Kept as they came: case-insensitive (a gateway's own casing of a header does not matter).
    headers = request.headers
    reader = (
        receiver.body_reader(headers)
        if receiver is not None
        else WebhookBodyReader(MAX_WEBHOOK_BYTES)
    )
    # Chunked posts carry no length: the reader counts while reading. Only read(): a post
    # relayed by Home Assistant Cloud (a cloudhook) comes as a MockRequest, whose stream has
    # nothing else (and whose `content` is a new stream at every access).
    stream = request.content
    while chunk := await stream.read(64 * 1024):
        reader.feed(chunk)
        if reader.too_large:
            LOGGER.warning(
                "A webhook post of more than %s MB was refused; its message is lost",
                MAX_WEBHOOK_BYTES // 2**20,
            )
            if receiver is not None:
                receiver.health.refuse(Refusal.TOO_LARGE)
            return web.Response(status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    post = Post(headers, reader.body, reader.signature_valid(headers))
    if receiver is not None:
        return receiver.handle(post)
    if slot.hold(post):
        LOGGER.debug("Webhook post held until its entry is loaded again")
        return web.Response(status=HTTPStatus.OK)
    # Gateways that retry do so on an error; the others lose it either way.
    LOGGER.warning("Too many webhook posts arrived while their entry was not loaded")
    return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)


@callback
def async_unregister_webhook(hass: HomeAssistant, entry: WhatsAppConfigEntry) -> None:
    """The entry is removed: its webhook goes, and what it held."""
    webhook_id = str(entry.data.get(CONF_WEBHOOK_ID))
    if _slots(hass).pop(webhook_id, None) is not None:
        webhook.async_unregister(hass, webhook_id)


def gateway_is_local(entry: WhatsAppConfigEntry) -> bool:
    """Whether the gateway runs on the local network (so it can reach the internal URL)."""
    if gateway_descriptor(entry.data[CONF_KIND]).cloud:
        return False
    host = URL(entry.data.get(CONF_URL) or "").host or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # A bare name (a Docker service) or mDNS name is on the LAN; a dotted name is not.
        return "." not in host or host.endswith((".local", ".lan", ".home.arpa", ".internal"))
    return address.is_private or address.is_loopback or address.is_link_local


def reachable(hass: HomeAssistant, entry: WhatsAppConfigEntry) -> bool:
    """Whether the entry's gateway has a way in to Home Assistant (a URL, or the cloud)."""
    local = gateway_is_local(entry)
    try:
        webhook.async_generate_url(hass, "x", allow_internal=local, prefer_external=not local)
    except NoURLAvailableError:
        cloud = _cloud(hass)
        return cloud is not None and cloud.async_active_subscription(hass)
    return True


def _cloud(hass: HomeAssistant) -> ModuleType | None:
    """Home Assistant Cloud, when it is set up."""
    if "cloud" not in hass.config.components:
        return None
    # Imported late: the cloud component is heavy and often not set up.
    from homeassistant.components import cloud  # noqa: PLC0415

    return cloud


async def async_delete_cloudhook(hass: HomeAssistant, entry: WhatsAppConfigEntry) -> None:
    """Delete the cloudhook an entry created, when the entry goes."""
    if CONF_CLOUDHOOK_URL not in entry.data or (cloud := _cloud(hass)) is None:
        return
    with contextlib.suppress(cloud.CloudNotAvailable):
        await cloud.async_delete_cloudhook(hass, entry.data[CONF_WEBHOOK_ID])


# The repair issues of an account's webhook, by their translation key: the gateway cannot
# reach Home Assistant; it posts without the signature it was given; Meta's dashboard does not
# know the callback URL yet (the Cloud API).
UNREACHABLE: Final = "webhook_unreachable"
UNSIGNED: Final = "webhook_unsigned"
HANDSHAKE: Final = "webhook_handshake"
WEBHOOK_ISSUES: Final = (UNREACHABLE, UNSIGNED, HANDSHAKE)


def issue_id(entry: WhatsAppConfigEntry, issue: str) -> str:
    """The id of one of an account's repair issues: its translation key and the entry."""
    return f"{issue}_{entry.entry_id}"


class WebhookReceiver:
    """Receives the gateway's posts: checks size and signature, parses, hands on."""

    carries_receipts = True

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatsAppConfigEntry,
        gateway: Gateway,
        router: InboundRouter,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._gateway = gateway
        self._router = router
        self._secret: str | None = entry.data.get(CONF_WEBHOOK_SECRET)
        self._url: str | None = None
        # Whether the "stopped signing" issue is up (it outlives a reload of the entry).
        self._unsigned_issue = (
            ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry, UNSIGNED)) is not None
        )
        self._key_pushed_at: float | None = None

    @property
    def webhook_id(self) -> str:
        """The secret id in the webhook's path."""
        return str(self._entry.data[CONF_WEBHOOK_ID])

    async def async_start(self) -> None:
        """Register the webhook (holding its posts for now) and point the gateway at it.

        Until the gateway is configured posts are held: how a post is checked can depend on
        what the gateway answered (some builds cannot sign).
        """
        self._async_register()
        url = await self._async_reachable_url()
        if url is None:
            self._async_raise_issue(UNREACHABLE)
            return
        await self._async_configure(url)
        if self._gateway.webhook_handshake and self._entry.data.get(CONF_WEBHOOK_VERIFIED) != url:
            # Set in the gateway's own dashboard: say what to enter there, until it checked.
            self._async_raise_issue(HANDSHAKE, url=url, verify_token=self._secret or "")

    async def _async_configure(self, url: str) -> None:
        """Point the gateway at this URL; the gateway can reach Home Assistant then."""
        ir.async_delete_issue(self._hass, DOMAIN, issue_id(self._entry, UNREACHABLE))
        await self._gateway.configure_webhook(url, self._secret)
        self._url = url

    async def async_start_receiving(self) -> None:
        """Handle posts from now on: first those held, then what arrived while stopped.

        Called once the entities listen, so that they see these messages too.
        """
        slot = self._async_register()
        slot.receiver = self
        slot.handshake = self.answer_handshake
        self._entry.async_on_unload(self.async_stop)
        while slot.held:
            self.handle(slot.held.popleft())
        slot.held_bytes = 0
        await self._router.async_catch_up()

    @callback
    def _async_raise_issue(self, issue: str, **placeholders: str) -> None:
        """Raise one of the account's repair issues; its text names the account."""
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id(self._entry, issue),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=issue,
            translation_placeholders={"title": self._entry.title, **placeholders},
        )

    def _async_register(self) -> WebhookSlot:
        """The entry's slot, registered with Home Assistant (again, if the locality changed)."""
        slots = _slots(self._hass)
        slot = slots.setdefault(self.webhook_id, WebhookSlot())
        local_only = gateway_is_local(self._entry)
        if slot.local_only != local_only:
            if slot.local_only is not None:
                webhook.async_unregister(self._hass, self.webhook_id)
            webhook.async_register(
                self._hass,
                DOMAIN,
                self._entry.title,
                self.webhook_id,
                _async_handle,
                local_only=local_only,
                # Meta checks the address with a GET before it posts.
                allowed_methods=(
                    [METH_GET, METH_POST] if self._gateway.webhook_handshake else [METH_POST]
                ),
            )
            slot.local_only = local_only
        return slot

    def async_stop(self) -> None:
        """Stop handling posts; the webhook stays and holds them until the next start."""
        if (slot := _slots(self._hass).get(self.webhook_id)) is not None:
            slot.receiver = None

    async def async_check(self) -> None:
        """Register the webhook on the gateway again if its settings differ from ours.

        A gateway that was restarted with a fresh database, or reconfigured by hand, would
        otherwise stay deaf while everything looks connected.
        """
        self._router.async_note_running()
        url = self._url or await self._async_reachable_url()
        if url is None:
            return
        if self._url is None:
            LOGGER.info("Home Assistant can be reached by the gateway of %s now", self._entry.title)
        elif await self._gateway.webhook_matches(url, self._secret):
            return
        else:
            LOGGER.warning(
                "The gateway of %s no longer posted its events to Home Assistant; registered again",
                self._entry.title,
            )
        await self._async_configure(url)

    async def _async_reachable_url(self) -> str | None:
        """An URL of this Home Assistant that the gateway can reach, if there is one."""
        local = gateway_is_local(self._entry)
        try:
            return webhook.async_generate_url(
                self._hass, self.webhook_id, allow_internal=local, prefer_external=not local
            )
        except NoURLAvailableError:
            pass
        return await self._async_cloudhook_url()

    async def _async_cloudhook_url(self) -> str | None:
        if (cloud := _cloud(self._hass)) is None or not cloud.async_active_subscription(self._hass):
            return None
        if url := self._entry.data.get(CONF_CLOUDHOOK_URL):
            return str(url)
        hook: str = await cloud.async_create_cloudhook(self._hass, self.webhook_id)
        self._hass.config_entries.async_update_entry(
            self._entry, data={**self._entry.data, CONF_CLOUDHOOK_URL: hook}
        )
        return hook

    @property
    def health(self) -> InboundHealth:
        """What came in since Home Assistant started."""
        return self._router.health

    def body_reader(self, headers: Mapping[str, str]) -> WebhookBodyReader:
        """How this gateway's posts are read."""
        return self._gateway.body_reader(headers, self._secret, MAX_WEBHOOK_BYTES)

    @callback
    def answer_handshake(self, query: Mapping[str, str]) -> web.Response:
        """The gateway checks the address (Meta's GET): the challenge, once the token is ours."""
        answer = self._gateway.verification_answer(query, self._secret)
        if answer is None:
            LOGGER.warning(
                "A check of the webhook of %s with a wrong token was refused", self._entry.title
            )
            return web.Response(status=HTTPStatus.FORBIDDEN)
        self._async_webhook_proven()
        return web.Response(text=answer, content_type="text/plain")

    @callback
    def _async_webhook_proven(self) -> None:
        """The gateway reaches this webhook: the setup notice goes (until the address changes)."""
        verified = self._entry.data.get(CONF_WEBHOOK_VERIFIED)
        if self._gateway.webhook_handshake and self._url is not None and verified != self._url:
            self._hass.config_entries.async_update_entry(
                self._entry, data={**self._entry.data, CONF_WEBHOOK_VERIFIED: self._url}
            )
            ir.async_delete_issue(self._hass, DOMAIN, issue_id(self._entry, HANDSHAKE))

    @callback
    def handle(self, post: Post) -> web.Response:
        """Check, parse and hand on one post; no I/O."""
        health = self.health
        verified = post.signature_valid
        if verified is None:
            verified = self._gateway.verify_webhook(post.headers, post.body, self._secret)
        if not verified:
            if self._gateway.signature_missing(post.headers, self._secret):
                health.refuse(Refusal.UNSIGNED)
                self._async_signing_lost()
            else:
                health.refuse(Refusal.SIGNATURE)
            LOGGER.debug("Webhook post with a wrong or no signature refused")
            return web.Response(status=HTTPStatus.UNAUTHORIZED)
        try:
            events = self._gateway.parse_webhook(post.headers, post.body)
        except GatewayResponseError as err:
            health.refuse(Refusal.PARSE)
            LOGGER.debug("Webhook post not understood: %s", err)
            return web.Response(status=HTTPStatus.BAD_REQUEST)
        health.delivered()
        self._async_webhook_proven()
        if self._unsigned_issue:
            self._unsigned_issue = False
            ir.async_delete_issue(self._hass, DOMAIN, issue_id(self._entry, UNSIGNED))
        self._router.async_dispatch(events)
        return web.Response(status=HTTPStatus.OK)

    @callback
    def _async_signing_lost(self) -> None:
        """The gateway posts unsigned although it holds our key: say so, and push the key."""
        if not self._unsigned_issue:
            self._unsigned_issue = True
            self._async_raise_issue(UNSIGNED)
        now = self._hass.loop.time()
        if self._url is None or (
            self._key_pushed_at is not None and now - self._key_pushed_at < SIGNING_REPAIR_INTERVAL
        ):
            return
        self._key_pushed_at = now
        self._entry.async_create_background_task(
            self._hass, self._async_push_key(self._url), f"{DOMAIN} push webhook key"
        )

    async def _async_push_key(self, url: str) -> None:
        try:
            await self._gateway.configure_webhook(url, self._secret)
        except GatewayError as err:
            LOGGER.warning("Could not give the gateway its signing key again: %s", err)

"""The entry's Home Assistant webhook: registered here, pointed at by the gateway."""

import contextlib
from http import HTTPStatus
import ipaddress
from types import ModuleType

from aiohttp import web
from aiohttp.hdrs import METH_POST
from homeassistant.components import webhook
from homeassistant.const import CONF_URL, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError
from yarl import URL

from .const import (
    CLOUD_KINDS,
    CONF_CLOUDHOOK_URL,
    CONF_KIND,
    CONF_WEBHOOK_SECRET,
    DOMAIN,
    LOGGER,
    MAX_WEBHOOK_BYTES,
)
from .coordinator import WhatsAppConfigEntry
from .gateway import Gateway, GatewayResponseError
from .inbound import InboundRouter


def gateway_is_local(entry: WhatsAppConfigEntry) -> bool:
    """Whether the gateway runs on the local network (so it can reach the internal URL)."""
    if entry.data[CONF_KIND] in CLOUD_KINDS:
        return False
    host = URL(entry.data.get(CONF_URL) or "").host or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # A bare name (Docker service, `wuzapi`) or mDNS name is on the LAN; a dotted name is not.
        return "." not in host or host.endswith((".local", ".lan", ".home.arpa", ".internal"))
    return address.is_private or address.is_loopback or address.is_link_local


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


def issue_id(entry: WhatsAppConfigEntry) -> str:
    """The repair issue raised when the gateway cannot reach Home Assistant."""
    return f"webhook_unreachable_{entry.entry_id}"


class WebhookReceiver:
    """Receives the gateway's posts: checks size and signature, parses, hands on."""

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

    @property
    def webhook_id(self) -> str:
        """The secret id in the webhook's path."""
        return str(self._entry.data[CONF_WEBHOOK_ID])

    async def async_start(self) -> None:
        """Register the webhook with Home Assistant and point the gateway at it."""
        webhook.async_register(
            self._hass,
            DOMAIN,
            self._entry.title,
            self.webhook_id,
            self._handle,
            local_only=gateway_is_local(self._entry),
            allowed_methods=[METH_POST],
        )
        self._entry.async_on_unload(self.async_stop)
        url = await self._async_reachable_url()
        if url is None:
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                issue_id(self._entry),
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="webhook_unreachable",
                translation_placeholders={"title": self._entry.title},
            )
            return
        ir.async_delete_issue(self._hass, DOMAIN, issue_id(self._entry))
        await self._gateway.configure_webhook(url, self._secret)

    def async_stop(self) -> None:
        """Stop receiving (the gateway's posts then get a 404)."""
        webhook.async_unregister(self._hass, self.webhook_id)

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

    async def _handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
            LOGGER.debug("Webhook post of %s bytes refused", request.content_length)
            return web.Response(status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        received = bytearray()
        # Chunked posts carry no length: count while reading instead.
        async for chunk in request.content.iter_chunked(64 * 1024):
            received += chunk
            if len(received) > MAX_WEBHOOK_BYTES:
                LOGGER.debug("Webhook post over %s bytes refused", MAX_WEBHOOK_BYTES)
                return web.Response(status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        body = bytes(received)
        headers = dict(request.headers)
        if not self._gateway.verify_webhook(headers, body, self._secret):
            LOGGER.debug("Webhook post with a wrong signature refused")
            return web.Response(status=HTTPStatus.UNAUTHORIZED)
        try:
            events = self._gateway.parse_webhook(headers, body)
        except GatewayResponseError as err:
            LOGGER.debug("Webhook post not understood: %s", err)
            return web.Response(status=HTTPStatus.BAD_REQUEST)
        self._router.async_dispatch(events)
        return web.Response(status=HTTPStatus.OK)

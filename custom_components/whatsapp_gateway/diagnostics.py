"""Diagnostics: what support needs, without tokens, webhook ids, numbers or message text."""

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import CONF_CHAT_ID, CONF_CLOUDHOOK_URL, CONF_WEBHOOK_SECRET, DOMAIN
from .coordinator import WhatsAppConfigEntry
from .gateway import GATEWAYS
from .polling import MessagePoller
from .webhook import WEBHOOK_ISSUES, gateway_is_local, issue_id

# Every gateway's secrets and account names, and the integration's own.
TO_REDACT = {
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    CONF_CLOUDHOOK_URL,
    CONF_CHAT_ID,
    "title",
    "unique_id",
    "phone",
    "jid",
    "name",
}.union(*(descriptor.private_keys() for descriptor in GATEWAYS))


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: WhatsAppConfigEntry
) -> dict[str, Any]:
    """The entry, its session and what came in, redacted."""
    runtime = entry.runtime_data
    gateway = runtime.coordinator.gateway
    status = runtime.coordinator.data
    health = runtime.inbound.health
    issues = ir.async_get(hass)
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "data": dict(entry.data),
                "options": dict(entry.options),
                "chats": [{"title": sub.title, **sub.data} for sub in entry.subentries.values()],
            },
            "gateway": {
                "kind": gateway.kind,
                "capabilities": sorted(gateway.capabilities),
                "on_local_network": gateway_is_local(entry),
            },
            "session": {
                "state": status.state.value,
                "phone": status.phone,
                "jid": status.jid,
                "name": status.name,
                "detail": status.detail,
                "qr_shown": status.qr is not None,
                "last_update_success": runtime.coordinator.last_update_success,
            },
            "inbound": {
                "polling": isinstance(runtime.channel, MessagePoller),
                # How a post is known to be the gateway's: hmac, token or secret_url.
                "webhook_auth": gateway.webhook_auth,
                "messages_remembered": len(runtime.inbound.messages),
                "statuses_remembered": len(runtime.inbound.statuses),
                "last_delivery": health.last_delivery.isoformat() if health.last_delivery else None,
                "refused": {reason.value: count for reason, count in health.refused.items()},
                **{
                    issue: issues.async_get_issue(DOMAIN, issue_id(entry, issue)) is not None
                    for issue in WEBHOOK_ISSUES
                },
            },
        },
        TO_REDACT,
    )

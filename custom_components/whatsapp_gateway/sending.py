"""Sending to one or more chats: target checks, a bounded retry, translated errors."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN, LOGGER, MAX_RETRY_AFTER, SEND_RETRY_DELAYS
from .coordinator import WhatsAppConfigEntry
from .gateway import (
    Gateway,
    GatewayConnectionError,
    GatewayError,
    GatewayRateLimited,
    InvalidChatId,
    SentMessage,
    parse_chat_id,
)

type SendOne = Callable[[Gateway, str], Awaitable[SentMessage]]


def check_targets(targets: Sequence[str]) -> list[str]:
    """Refuse the whole call, before anything is sent, if one target is not a chat."""
    if not targets:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_target")
    for target in targets:
        try:
            parse_chat_id(target)
        except InvalidChatId as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_target",
                translation_placeholders={"target": str(target)},
            ) from err
    return list(targets)


async def _with_retry(gateway: Gateway, target: str, send: SendOne) -> SentMessage:
    """Retry while the gateway is unreachable or busy, a few times with growing pauses."""
    for delay in SEND_RETRY_DELAYS:
        try:
            return await send(gateway, target)
        except GatewayRateLimited as err:
            wait = max(delay, err.retry_after or 0.0)
            if wait > MAX_RETRY_AFTER:
                raise
        except GatewayConnectionError:
            wait = delay
        LOGGER.debug("The gateway did not take a message; trying again in %s s", wait)
        await asyncio.sleep(wait)
    return await send(gateway, target)


async def async_send_each(
    hass: HomeAssistant,
    entry: WhatsAppConfigEntry,
    targets: Sequence[str],
    send: SendOne,
) -> list[dict[str, str]]:
    """Send to every target; afterwards raise one error naming the targets that failed."""
    gateway = entry.runtime_data.gateway
    sent: list[dict[str, str]] = []
    failed: list[tuple[str, GatewayError]] = []
    for target in check_targets(targets):
        try:
            message = await _with_retry(gateway, target, send)
        except GatewayError as err:
            failed.append((target, err))
            continue
        sent.append(
            {"target": target, "chat_id": message.chat_id, "message_id": message.message_id}
        )
    if failed:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="send_failed",
            translation_placeholders={
                "targets": ", ".join(target for target, _ in failed),
                "error": str(failed[0][1]),
                "sent": str(len(sent)),
            },
        ) from failed[0][1]
    return sent

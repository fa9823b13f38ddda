"""Sending to one or more chats: target checks, a retry that never sends twice, clear errors."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import async_call_later

from .const import DOMAIN, LOGGER, MAX_RETRY_AFTER, SEND_RETRY_DELAYS
from .coordinator import WhatsAppConfigEntry
from .gateway import (
    Capability,
    DeliveryStatus,
    Gateway,
    GatewayAuthError,
    GatewayConnectionError,
    GatewayError,
    GatewayRateLimited,
    GatewayUnsupported,
    InvalidChatId,
    NationalNumber,
    SentMessage,
    gateway_descriptor,
    parse_chat_id,
)

# Sends one message to one target; the id is ours to give where the gateway takes one.
type SendOne = Callable[[Gateway, str, str | None], Awaitable[SentMessage]]


def check_targets(targets: Sequence[str]) -> list[str]:
    """Refuse the whole call, before anything is sent, if one target is not a chat."""
    if not targets:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_target")
    for target in targets:
        try:
            parse_chat_id(target)
        except NationalNumber as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="national_number",
                translation_placeholders={"target": str(target)},
            ) from err
        except InvalidChatId as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_target",
                translation_placeholders={"target": str(target)},
            ) from err
    return list(targets)


async def _with_retry(gateway: Gateway, target: str, send: SendOne) -> SentMessage:
    """Retry while the gateway is unreachable or busy, a few times with growing pauses.

    A request that may have reached the gateway (a time-out, a dropped answer) is repeated
    only under the same message id, which the gateway then sends once; where the gateway
    picks its own ids, it is not repeated at all.
    """
    message_id = (
        gateway.new_message_id() if Capability.CLIENT_MESSAGE_ID in gateway.capabilities else None
    )
    for delay in SEND_RETRY_DELAYS:
        try:
            return await send(gateway, target, message_id)
        except GatewayRateLimited as err:
            wait = max(delay, err.retry_after or 0.0)
            if wait > MAX_RETRY_AFTER:
                raise
        except GatewayConnectionError as err:
            if err.maybe_delivered and message_id is None:
                raise
            wait = delay
        LOGGER.debug("The gateway did not take a message; trying again in %s s", wait)
        await asyncio.sleep(wait)
    return await send(gateway, target, message_id)


def _why(err: GatewayError) -> str:
    if isinstance(err, GatewayConnectionError) and err.maybe_delivered:
        return f"{err} (it may have been sent, so it was not sent again)"
    return str(err)


async def async_send_each(
    hass: HomeAssistant,
    entry: WhatsAppConfigEntry,
    targets: Sequence[str],
    send: SendOne,
    *,
    tag: str | None = None,
) -> list[dict[str, str]]:
    """Send to every target; afterwards raise one error naming the targets that failed.

    The error also names the messages that went out, so that nobody sends them again. A
    gateway that refuses the credentials asks the user to authenticate again. The status
    events of each message sent carry `tag`.
    """
    gateway = entry.runtime_data.coordinator.gateway
    sent: list[dict[str, str]] = []
    failed: list[tuple[str, GatewayError]] = []
    for target in check_targets(targets):
        try:
            message = await _with_retry(gateway, target, send)
        except GatewayError as err:
            failed.append((target, err))
            continue
        if tag is not None:
            entry.runtime_data.inbound.async_tag(message.message_id, tag)
        sent.append(
            {"target": target, "chat_id": message.chat_id, "message_id": message.message_id}
        )
    if not failed:
        return sent
    if any(isinstance(err, GatewayAuthError) for _, err in failed):
        entry.async_start_reauth(hass)
    if not sent and all(isinstance(err, GatewayUnsupported) for _, err in failed):
        # Not the gateway failing: it cannot do what was asked (an older build of it, say).
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_supported",
            translation_placeholders={
                "gateway": gateway_descriptor(gateway.kind).name,
                "error": str(failed[0][1]),
            },
        ) from failed[0][1]
    targets = ", ".join(target for target, _ in failed)
    error = _why(failed[0][1])
    if sent:
        # The error names what did go out, so that nobody sends it again.
        went_out = ", ".join(f"{item['target']} ({item['message_id']})" for item in sent)
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="send_partly_failed",
            translation_placeholders={"targets": targets, "error": error, "sent": went_out},
        ) from failed[0][1]
    raise HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="send_failed",
        translation_placeholders={"targets": targets, "error": error},
    ) from failed[0][1]


def clock_timer(hass: HomeAssistant, seconds: float) -> asyncio.Future[None]:
    """A future done after `seconds` on Home Assistant's clock; cancelling it stops the timer.

    Home Assistant's clock, not asyncio's: tests move it with async_fire_time_changed.
    """
    timer: asyncio.Future[None] = hass.loop.create_future()

    @callback
    def ring(_now: Any) -> None:
        if not timer.done():
            timer.set_result(None)

    stop = async_call_later(hass, seconds, ring)
    timer.add_done_callback(lambda _: stop())
    return timer


def check_receipts(entry: WhatsAppConfigEntry, wanted: DeliveryStatus) -> None:
    """Refuse to wait for a receipt that this account never gets, before anything is sent."""
    gateway = entry.runtime_data.coordinator.gateway
    if (
        Capability.RECEIPTS not in gateway.capabilities
        or not entry.runtime_data.channel.carries_receipts
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_receipts",
            translation_placeholders={
                "gateway": gateway_descriptor(gateway.kind).name,
                "status": wanted.value,
            },
        )


async def async_wait_for_receipts(
    hass: HomeAssistant,
    entry: WhatsAppConfigEntry,
    sent: list[dict[str, str]],
    wanted: DeliveryStatus,
    within: float,
) -> None:
    """Wait until each message sent is `wanted` (or further), adding the status reached.

    Waits at most `within` seconds (Home Assistant's clock); then, or when a receipt says a
    message failed, one error names the chats whose message did not get there.
    """
    router = entry.runtime_data.inbound
    waits = [
        hass.async_create_task(router.async_wait_for(item["message_id"], wanted), eager_start=True)
        for item in sent
    ]

    every: asyncio.Future[Any] = asyncio.gather(*waits, return_exceptions=True)
    timer = clock_timer(hass, within)
    try:
        await asyncio.wait([every, timer], return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        for wait in waits:
            wait.cancel()  # time is up for those still waiting
        await every
    late: list[str] = []
    failed: list[str] = []
    for item, wait in zip(sent, waits, strict=True):
        status = None if wait.cancelled() else wait.result()
        item["status"] = (status or router.reached(item["message_id"]) or DeliveryStatus.SENT).value
        if status is None:
            late.append(item["target"])
        elif status is DeliveryStatus.FAILED:
            reason = router.failure_of(item["message_id"])
            failed.append(f"{item['target']} ({reason})" if reason else item["target"])
    if failed:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="delivery_failed",
            translation_placeholders={"targets": ", ".join(failed)},
        )
    if late:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="not_delivered",
            translation_placeholders={
                "targets": ", ".join(late),
                "status": wanted.value,
                "timeout": f"{within:g}",
            },
        )

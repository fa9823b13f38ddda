"""The actions, shared by every account.

Sending messages, files and locations, reacting to a message, and marking messages read.
"""

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, cast

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_LATITUDE,
    ATTR_LONGITUDE,
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
)
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import probatio
from yarl import URL

from .const import (
    ATTR_ADDRESS,
    ATTR_BEARER_TOKEN,
    ATTR_CAMERA,
    ATTR_CAPTION,
    ATTR_EMOJI,
    ATTR_FILE,
    ATTR_FILENAME,
    ATTR_FROM_ME,
    ATTR_KIND,
    ATTR_LANGUAGE,
    ATTR_MEDIA,
    ATTR_MESSAGE,
    ATTR_MESSAGE_ID,
    ATTR_MESSAGE_TAG,
    ATTR_MULTIPLE,
    ATTR_NAME,
    ATTR_OPTIONS,
    ATTR_PARAMETERS,
    ATTR_QUESTION,
    ATTR_REPLY_TO,
    ATTR_SENDER,
    ATTR_STATE,
    ATTR_TARGET,
    ATTR_TEMPLATE,
    ATTR_TIMEOUT,
    ATTR_URL,
    ATTR_WAIT_FOR,
    CONF_CHAT_ID,
    CONF_SHOW_TYPING,
    DEFAULT_RECEIPT_TIMEOUT,
    DOMAIN,
    DOWNLOAD_TIMEOUT,
    LOGGER,
    MAX_FILE_BYTES,
    MAX_POLL_OPTIONS,
    MAX_RECEIPT_TIMEOUT,
    MIN_POLL_OPTIONS,
    SERVICE_DELETE_MESSAGE,
    SERVICE_EDIT_MESSAGE,
    SERVICE_MARK_READ,
    SERVICE_SEND_FILE,
    SERVICE_SEND_LOCATION,
    SERVICE_SEND_MESSAGE,
    SERVICE_SEND_POLL,
    SERVICE_SEND_REACTION,
    SERVICE_SEND_TEMPLATE,
    SERVICE_SEND_TYPING,
    TYPING_SECONDS,
)
from .coordinator import WhatsAppConfigEntry
from .gateway import (
    Capability,
    ChatPresence,
    DeliveryStatus,
    Gateway,
    GatewayError,
    GatewayUnsupported,
    InvalidChatId,
    MediaKind,
    OutgoingMedia,
    Poll,
    SentMessage,
    gateway_descriptor,
    parse_chat_id,
)
from .sending import (
    SendOne,
    async_send_each,
    async_wait_for_receipts,
    check_receipts,
    check_targets,
    clock_timer,
)

KIND_AUTO = "auto"

# Sends can wait for the receipts (the gateway taking the message is "sent"), and tag the
# message's status events.
WAIT_FOR_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ)
_CONFIRMING: dict[probatio.Marker, Any] = {
    probatio.Optional(ATTR_WAIT_FOR, default=DeliveryStatus.SENT.value): probatio.In(
        [status.value for status in WAIT_FOR_STATUSES]
    ),
    probatio.Optional(ATTR_TIMEOUT, default=DEFAULT_RECEIPT_TIMEOUT): probatio.All(
        probatio.Coerce(float), probatio.Range(min=1, max=MAX_RECEIPT_TIMEOUT)
    ),
    probatio.Optional(ATTR_MESSAGE_TAG): cv.string,
}
_TARGETING: dict[probatio.Marker, Any] = {
    probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
    probatio.Required(ATTR_TARGET): probatio.All(probatio.EnsureList(), [cv.string]),
    probatio.Optional(ATTR_REPLY_TO): cv.string,
    **_CONFIRMING,
}
SEND_MESSAGE_SCHEMA = probatio.Schema({**_TARGETING, probatio.Required(ATTR_MESSAGE): cv.string})
SEND_FILE_SCHEMA = probatio.Schema(
    {
        **_TARGETING,
        probatio.Optional(ATTR_URL): cv.url,
        probatio.Optional(ATTR_FILE): cv.string,
        probatio.Optional(ATTR_MEDIA): probatio.Schema(
            {probatio.Required("media_content_id"): cv.string}, extra=probatio.ALLOW_EXTRA
        ),
        probatio.Optional(ATTR_CAMERA): cv.entity_domain("camera"),
        probatio.Optional(ATTR_CAPTION): cv.string,
        probatio.Optional(ATTR_FILENAME): cv.string,
        probatio.Optional(ATTR_KIND, default=KIND_AUTO): probatio.In(
            [KIND_AUTO, *(kind.value for kind in MediaKind)]
        ),
        probatio.Optional(CONF_VERIFY_SSL, default=True): cv.boolean,
        probatio.Optional(CONF_USERNAME): cv.string,
        probatio.Optional(CONF_PASSWORD): cv.string,
        probatio.Optional(ATTR_BEARER_TOKEN): cv.string,
    }
)


SEND_LOCATION_SCHEMA = probatio.Schema(
    {
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_TARGET): probatio.All(probatio.EnsureList(), [cv.string]),
        probatio.Required(ATTR_LATITUDE): cv.latitude,
        probatio.Required(ATTR_LONGITUDE): cv.longitude,
        probatio.Optional(ATTR_NAME): cv.string,
        probatio.Optional(ATTR_ADDRESS): cv.string,
        **_CONFIRMING,
    }
)
# Reacting and marking read act on messages of one chat.
_IN_A_CHAT = {
    probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
    probatio.Required(ATTR_TARGET): cv.string,
}
SEND_REACTION_SCHEMA = probatio.Schema(
    {
        **_IN_A_CHAT,
        probatio.Required(ATTR_MESSAGE_ID): cv.string,
        # Empty removes the reaction.
        probatio.Optional(ATTR_EMOJI, default=""): probatio.Any(None, cv.string),
        probatio.Optional(ATTR_FROM_ME, default=False): cv.boolean,
    }
)
EDIT_MESSAGE_SCHEMA = probatio.Schema(
    {
        **_IN_A_CHAT,
        probatio.Required(ATTR_MESSAGE_ID): cv.string,
        probatio.Required(ATTR_MESSAGE): cv.string,
    }
)
DELETE_MESSAGE_SCHEMA = probatio.Schema(
    {**_IN_A_CHAT, probatio.Required(ATTR_MESSAGE_ID): cv.string}
)
SEND_TYPING_SCHEMA = probatio.Schema(
    {
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_TARGET): probatio.All(probatio.EnsureList(), [cv.string]),
        probatio.Optional(ATTR_STATE, default=ChatPresence.TYPING.value): probatio.In(
            [presence.value for presence in ChatPresence]
        ),
    }
)
SEND_POLL_SCHEMA = probatio.Schema(
    {
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_TARGET): probatio.All(probatio.EnsureList(), [cv.string]),
        probatio.Required(ATTR_QUESTION): cv.string,
        probatio.Required(ATTR_OPTIONS): probatio.All(
            probatio.EnsureList(),
            [cv.string],
            probatio.Length(min=MIN_POLL_OPTIONS, max=MAX_POLL_OPTIONS),
        ),
        probatio.Optional(ATTR_MULTIPLE, default=False): cv.boolean,
        **_CONFIRMING,
    }
)
SEND_TEMPLATE_SCHEMA = probatio.Schema(
    {
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_TARGET): probatio.All(probatio.EnsureList(), [cv.string]),
        probatio.Required(ATTR_TEMPLATE): cv.string,
        probatio.Optional(ATTR_LANGUAGE, default="en_US"): cv.string,
        probatio.Optional(ATTR_PARAMETERS, default=[]): probatio.All(
            probatio.EnsureList(), [cv.string]
        ),
        **_CONFIRMING,
    }
)
MARK_READ_SCHEMA = probatio.Schema(
    {
        **_IN_A_CHAT,
        probatio.Required(ATTR_MESSAGE_ID): probatio.All(probatio.EnsureList(), [cv.string]),
        probatio.Optional(ATTR_SENDER): cv.string,
    }
)


type Handler = Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]


def _chats_of_notify_entities(handler: Handler) -> Handler:
    """Let a target be one of our notify entities: its chat, from its account.

    `notify.anna` becomes Anna's chat id, and the call's account, when it names none, the
    account of that chat.
    """

    async def handle(call: ServiceCall) -> ServiceResponse:
        targets = _as_list(call.data.get(ATTR_TARGET))
        if not any(target.startswith("notify.") for target in targets):
            return await handler(call)
        chats: list[str] = []
        accounts: set[str] = set()
        for target in targets:
            chat = target
            if target.startswith("notify."):
                account, chat = _chat_of_notify_entity(call.hass, target)
                accounts.add(account)
            chats.append(chat)
        data = {
            **call.data,
            ATTR_TARGET: chats if isinstance(call.data[ATTR_TARGET], list) else chats[0],
        }
        if ATTR_CONFIG_ENTRY_ID not in data and len(accounts) == 1:
            data[ATTR_CONFIG_ENTRY_ID] = accounts.pop()
        resolved = ServiceCall(
            call.hass, call.domain, call.service, data, call.context, call.return_response
        )
        return await handler(resolved)

    return handle


def _chat_of_notify_entity(hass: HomeAssistant, entity_id: str) -> tuple[str, str]:
    """The account and the chat id of one of our chats' notify entities."""
    entity = er.async_get(hass).async_get(entity_id)
    if entity is not None and entity.platform == DOMAIN and entity.config_entry_id:
        entry = hass.config_entries.async_get_entry(entity.config_entry_id)
        if entry is not None and (
            subentry := entry.subentries.get(entity.config_subentry_id or "")
        ):
            return entry.entry_id, str(subentry.data[CONF_CHAT_ID])
    raise _validation_error("not_a_chat_entity", target=entity_id)


def _validation_error(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _entry(call: ServiceCall) -> WhatsAppConfigEntry:
    """The account the call names, the only one there is, or the one the call points at.

    With several accounts, a reply goes out from the account that received the message it
    answers, and a message to a chat from the only account that has that chat.
    """
    hass = call.hass
    if (entry_id := call.data.get(ATTR_CONFIG_ENTRY_ID)) is None:
        loaded = cast("list[WhatsAppConfigEntry]", hass.config_entries.async_loaded_entries(DOMAIN))
        if len(loaded) == 1:
            return loaded[0]
        if (pointed_at := _entry_pointed_at(loaded, call.data)) is None:
            raise _validation_error("account_required")
        return pointed_at
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _validation_error("account_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _validation_error("account_not_loaded", account=entry.title)
    return cast("WhatsAppConfigEntry", entry)


def _entry_pointed_at(
    entries: list[WhatsAppConfigEntry], data: Mapping[str, Any]
) -> WhatsAppConfigEntry | None:
    """The one account that received the messages acted on, or that has all the targets.

    Acted on: answered (reply_to), reacted to or marked read (message_id).
    """
    message_ids = _as_list(data.get(ATTR_REPLY_TO) or data.get(ATTR_MESSAGE_ID))
    if message_ids:
        received = [
            entry
            for entry in entries
            if all(message_id in entry.runtime_data.inbound.messages for message_id in message_ids)
        ]
        if len(received) == 1:
            return received[0]
    try:
        targets = {str(parse_chat_id(target)) for target in _as_list(data.get(ATTR_TARGET))}
    except InvalidChatId:
        return None  # the send refuses the target itself, with its own error
    with_chats = [
        entry
        for entry in entries
        if targets
        and targets
        <= {
            chat_id
            for sub in entry.subentries.values()
            for chat_id in entry.runtime_data.inbound.ids_of(str(sub.data[CONF_CHAT_ID]))
        }
    ]
    return with_chats[0] if len(with_chats) == 1 else None


def _as_list(value: str | list[str] | None) -> list[str]:
    """A field that holds one value or several, as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


def _response(call: ServiceCall, sent: list[dict[str, str]]) -> ServiceResponse:
    return {"messages": cast("list[Any]", sent)} if call.return_response else None


async def _async_send(
    call: ServiceCall, entry: WhatsAppConfigEntry, send: SendOne
) -> ServiceResponse:
    """Send to the call's targets, tagged as asked; wait for the receipts it asks for."""
    wait_for: str = call.data[ATTR_WAIT_FOR]
    wanted = None if wait_for == DeliveryStatus.SENT else DeliveryStatus(wait_for)
    if wanted is not None:
        check_receipts(entry, wanted)
    sent = await async_send_each(
        call.hass, entry, call.data[ATTR_TARGET], send, tag=call.data.get(ATTR_MESSAGE_TAG)
    )
    if wanted is not None:
        await async_wait_for_receipts(call.hass, entry, sent, wanted, call.data[ATTR_TIMEOUT])
    return _response(call, sent)


def _quoted(gateway: Gateway, data: Mapping[str, Any]) -> str | None:
    """The message to quote, where the gateway can quote.

    Waabot cannot: the answer still goes out, in the same chat, as the field's description says.
    """
    reply_to: str | None = data.get(ATTR_REPLY_TO)
    return reply_to if Capability.REPLY in gateway.capabilities else None


async def _send_message(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call)
    text: str = call.data[ATTR_MESSAGE]
    reply_to = _quoted(entry.runtime_data.coordinator.gateway, call.data)

    typing = entry.options.get(CONF_SHOW_TYPING, False)

    async def send(gateway: Gateway, target: str, message_id: str | None) -> SentMessage:
        if typing:
            await _async_show_typing(call.hass, gateway, target)
        return await gateway.send_text(target, text, reply_to=reply_to, message_id=message_id)

    return await _async_send(call, entry, send)


async def _async_show_typing(hass: HomeAssistant, gateway: Gateway, target: str) -> None:
    """Show "typing…" for a moment (on Home Assistant's clock), as a person would.

    Only a nicety: when the gateway does not take it, the message goes out all the same.
    """
    try:
        await gateway.send_presence(target, ChatPresence.TYPING)
    except GatewayError as err:
        LOGGER.debug("No typing indicator before the message to %s: %s", target, err)
        return
    await clock_timer(hass, TYPING_SECONDS)


async def _send_location(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call)
    latitude: float = call.data[ATTR_LATITUDE]
    longitude: float = call.data[ATTR_LONGITUDE]
    # WhatsApp shows one line of text under the pin: the name, then the address.
    label = ", ".join(
        str(call.data[key]) for key in (ATTR_NAME, ATTR_ADDRESS) if call.data.get(key)
    )

    async def send(gateway: Gateway, target: str, message_id: str | None) -> SentMessage:
        return await gateway.send_location(target, latitude, longitude, name=label or None)

    return await _async_send(call, entry, send)


async def _send_template(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call)
    name: str = call.data[ATTR_TEMPLATE]
    language: str = call.data[ATTR_LANGUAGE]
    parameters: list[str] = call.data[ATTR_PARAMETERS]

    async def send(gateway: Gateway, target: str, message_id: str | None) -> SentMessage:
        return await gateway.send_template(target, name, language, parameters)

    return await _async_send(call, entry, send)


# An action about messages of one chat: what it asks of the gateway.
type ChatAction = Callable[[Gateway, str, Mapping[str, Any]], Awaitable[Any]]


def _in_one_chat(action: ChatAction) -> Handler:
    """The handler of an action about messages in the call's one chat."""

    async def handle(call: ServiceCall) -> None:
        entry = _entry(call)
        [chat] = check_targets([call.data[ATTR_TARGET]])
        gateway = entry.runtime_data.coordinator.gateway
        await _async_act_in(gateway, chat, action(gateway, chat, call.data))

    return handle


def _react(gateway: Gateway, chat: str, data: Mapping[str, Any]) -> Awaitable[Any]:
    emoji = data[ATTR_EMOJI] or ""
    return gateway.send_reaction(chat, data[ATTR_MESSAGE_ID], emoji, from_me=data[ATTR_FROM_ME])


def _edit(gateway: Gateway, chat: str, data: Mapping[str, Any]) -> Awaitable[Any]:
    return gateway.edit_message(chat, data[ATTR_MESSAGE_ID], data[ATTR_MESSAGE])


def _delete(gateway: Gateway, chat: str, data: Mapping[str, Any]) -> Awaitable[Any]:
    return gateway.delete_message(chat, data[ATTR_MESSAGE_ID])


def _mark(gateway: Gateway, chat: str, data: Mapping[str, Any]) -> Awaitable[Any]:
    return gateway.mark_read(chat, data[ATTR_MESSAGE_ID], sender=data.get(ATTR_SENDER))


async def _send_typing(call: ServiceCall) -> None:
    entry = _entry(call)
    gateway = entry.runtime_data.coordinator.gateway
    presence = ChatPresence(call.data[ATTR_STATE])
    for chat in check_targets(call.data[ATTR_TARGET]):
        await _async_act_in(gateway, chat, gateway.send_presence(chat, presence))


async def _send_poll(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call)
    question: str = call.data[ATTR_QUESTION]
    options: list[str] = call.data[ATTR_OPTIONS]
    multiple: bool = call.data[ATTR_MULTIPLE]

    async def send(gateway: Gateway, target: str, message_id: str | None) -> SentMessage:
        sent = await gateway.send_poll(target, question, options, multiple=multiple)
        # Its votes will name the options chosen, even when the gateway cannot.
        entry.runtime_data.inbound.remember_poll(sent.message_id, Poll(question, tuple(options)))
        return sent

    return await _async_send(call, entry, send)


async def _async_act_in(gateway: Gateway, chat: str, work: Awaitable[Any]) -> None:
    """Run a gateway call about messages of a chat; its failure names the chat."""
    try:
        await work
    except GatewayUnsupported as err:
        raise _validation_error(
            "not_supported", gateway=gateway_descriptor(gateway.kind).name, error=str(err)
        ) from err
    except GatewayError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="chat_action_failed",
            translation_placeholders={"chat": chat, "error": str(err)},
        ) from err


# File kinds that only some gateways can send.
_KIND_CAPABILITIES = {MediaKind.STICKER: Capability.STICKER, MediaKind.VOICE: Capability.VOICE}


async def _send_file(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call)
    media = await _load_file(call.hass, call.data)
    gateway = entry.runtime_data.coordinator.gateway
    if (needed := _KIND_CAPABILITIES.get(media.kind)) and needed not in gateway.capabilities:
        raise _validation_error(
            "kind_not_supported",
            gateway=gateway_descriptor(gateway.kind).name,
            kind=media.kind.value,
        )
    caption: str | None = call.data.get(ATTR_CAPTION)
    reply_to = _quoted(gateway, call.data)

    async def send(gateway: Gateway, target: str, message_id: str | None) -> SentMessage:
        return await gateway.send_media(
            target, media, caption=caption, reply_to=reply_to, message_id=message_id
        )

    return await _async_send(call, entry, send)


async def _load_file(hass: HomeAssistant, data: Mapping[str, Any]) -> OutgoingMedia:
    """Fetch the bytes from the one source the call names."""
    sources = [key for key in (ATTR_URL, ATTR_FILE, ATTR_MEDIA, ATTR_CAMERA) if key in data]
    if len(sources) != 1:
        raise _validation_error("one_file_source")
    if ATTR_URL in data:
        content, name, mime = await _download(hass, data)
    elif ATTR_FILE in data:
        content, name, mime = await _read_file(hass, data[ATTR_FILE])
    elif ATTR_CAMERA in data:
        content, name, mime = await _resolve_media(
            hass, f"media-source://camera/{data[ATTR_CAMERA]}"
        )
    else:
        content, name, mime = await _resolve_media(hass, data[ATTR_MEDIA]["media_content_id"])
    kind = data[ATTR_KIND]
    return OutgoingMedia.from_bytes(
        content,
        filename=data.get(ATTR_FILENAME) or name,
        mime_type=mime,
        kind=None if kind == KIND_AUTO else MediaKind(kind),
    )


def _too_large() -> ServiceValidationError:
    return _validation_error("file_too_large", limit=f"{MAX_FILE_BYTES // (1024 * 1024)} MB")


async def _download(hass: HomeAssistant, data: Mapping[str, Any]) -> tuple[bytes, str, str | None]:
    url = URL(data[ATTR_URL])
    shown = str(url.with_user(None).with_query(None))
    if ATTR_BEARER_TOKEN in data and CONF_USERNAME in data:
        raise _validation_error("one_authentication")
    headers = {}
    if CONF_USERNAME in data:
        headers["Authorization"] = aiohttp.encode_basic_auth(
            data[CONF_USERNAME], data.get(CONF_PASSWORD, "")
        )
    if ATTR_BEARER_TOKEN in data:
        headers["Authorization"] = f"Bearer {data[ATTR_BEARER_TOKEN]}"
    session = async_get_clientsession(hass, verify_ssl=data[CONF_VERIFY_SSL])
    try:
        async with session.get(
            url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT),
        ) as response:
            if response.status >= 400:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="download_failed",
                    translation_placeholders={"url": shown, "error": f"HTTP {response.status}"},
                )
            if (response.content_length or 0) > MAX_FILE_BYTES:
                raise _too_large()
            content = bytearray()
            async for chunk in response.content.iter_chunked(256 * 1024):
                content += chunk
                if len(content) > MAX_FILE_BYTES:
                    raise _too_large()
            mime = response.content_type
    except (aiohttp.ClientError, TimeoutError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="download_failed",
            translation_placeholders={"url": shown, "error": str(err) or type(err).__name__},
        ) from err
    name = url.name or "file"
    # A server that does not know the type says octet-stream; the file name may know better.
    return bytes(content), name, None if mime == "application/octet-stream" else mime


async def _read_file(hass: HomeAssistant, path: str) -> tuple[bytes, str, str | None]:
    file = Path(path)

    def read_if_allowed() -> bytes | None:
        # Resolving the path touches the disk as reading does: one executor job for both.
        return _read_capped(file) if hass.config.is_allowed_path(path) else None

    content = await _in_executor(hass, file, read_if_allowed)
    if content is None:
        raise _validation_error("path_not_allowed", path=path)
    return content, file.name, None


async def _read_path(hass: HomeAssistant, path: Path) -> bytes:
    """Read a local file in the executor, refusing one over the size cap."""
    return await _in_executor(hass, path, lambda: _read_capped(path))


def _read_capped(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise _too_large()
    return path.read_bytes()


async def _in_executor[T](hass: HomeAssistant, path: Path, job: Callable[[], T]) -> T:
    """Run a file job in the executor; a file that cannot be read is a clear error."""
    try:
        return await hass.async_add_executor_job(job)
    except OSError as err:
        raise _validation_error(
            "file_unreadable", path=str(path), error=err.strerror or str(err)
        ) from err


async def _resolve_media(hass: HomeAssistant, media_id: str) -> tuple[bytes, str, str | None]:
    """A camera snapshot, an image entity's picture, or a media-source file with a local path."""
    # Imported late: these components are only needed when a call names media.
    if media_id.startswith("media-source://camera/"):
        from homeassistant.components import camera  # noqa: PLC0415

        entity_id = media_id.removeprefix("media-source://camera/")
        snapshot = await camera.async_get_image(hass, entity_id)
        return snapshot.content, f"{entity_id}.jpg", snapshot.content_type
    if media_id.startswith("media-source://image/"):
        from homeassistant.components import image  # noqa: PLC0415

        entity_id = media_id.removeprefix("media-source://image/")
        picture = await image.async_get_image(hass, entity_id)
        return picture.content, f"{entity_id}.png", picture.content_type
    from homeassistant.components import media_source  # noqa: PLC0415

    try:
        resolved = await media_source.async_resolve_media(hass, media_id, None)
    except media_source.Unresolvable as err:
        raise _validation_error("media_not_found", media=media_id) from err
    if resolved.path is None:
        raise _validation_error("media_not_local", media=media_id)
    return await _read_path(hass, resolved.path), resolved.path.name, resolved.mime_type


# Each action: what runs it, its schema, and whether it can answer with data.
_ACTIONS: dict[str, tuple[Handler, probatio.Schema, SupportsResponse]] = {
    SERVICE_SEND_MESSAGE: (_send_message, SEND_MESSAGE_SCHEMA, SupportsResponse.OPTIONAL),
    SERVICE_SEND_FILE: (_send_file, SEND_FILE_SCHEMA, SupportsResponse.OPTIONAL),
    SERVICE_SEND_LOCATION: (_send_location, SEND_LOCATION_SCHEMA, SupportsResponse.OPTIONAL),
    SERVICE_SEND_POLL: (_send_poll, SEND_POLL_SCHEMA, SupportsResponse.OPTIONAL),
    SERVICE_SEND_TEMPLATE: (_send_template, SEND_TEMPLATE_SCHEMA, SupportsResponse.OPTIONAL),
    SERVICE_SEND_REACTION: (_in_one_chat(_react), SEND_REACTION_SCHEMA, SupportsResponse.NONE),
    SERVICE_EDIT_MESSAGE: (_in_one_chat(_edit), EDIT_MESSAGE_SCHEMA, SupportsResponse.NONE),
    SERVICE_DELETE_MESSAGE: (_in_one_chat(_delete), DELETE_MESSAGE_SCHEMA, SupportsResponse.NONE),
    SERVICE_SEND_TYPING: (_send_typing, SEND_TYPING_SCHEMA, SupportsResponse.NONE),
    SERVICE_MARK_READ: (_in_one_chat(_mark), MARK_READ_SCHEMA, SupportsResponse.NONE),
}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions."""
    for service, (handler, schema, response) in _ACTIONS.items():
        hass.services.async_register(
            DOMAIN,
            service,
            _chats_of_notify_entities(handler),
            schema=schema,
            supports_response=response,
        )

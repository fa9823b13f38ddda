"""Config flow: pick a gateway, check its credentials, pair the phone, options and chats."""

import asyncio
import base64
from collections.abc import Awaitable, Mapping
from functools import partialmethod
import secrets
from typing import Any, cast

from homeassistant.components import webhook
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlowWithReload,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_URL, CONF_WEBHOOK_ID
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.translation import async_get_translations
import probatio

from .const import (
    CONF_CHAT_ID,
    CONF_FIRE_OWN_MESSAGES,
    CONF_GROUPS_MENTIONED_ONLY,
    CONF_INBOUND_MODE,
    CONF_KIND,
    CONF_MARK_READ,
    CONF_MEDIA_KEEP_DAYS,
    CONF_MEDIA_MAX_MB,
    CONF_POLL_INTERVAL,
    CONF_SHOW_TYPING,
    CONF_STATUS_INTERVAL,
    CONF_WEBHOOK_SECRET,
    DEFAULT_MEDIA_KEEP_DAYS,
    DEFAULT_MEDIA_MAX_MB,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_STATUS_INTERVAL,
    DOMAIN,
    LOGGER,
    MAX_MEDIA_KEEP_DAYS,
    MAX_MEDIA_MAX_MB,
    MAX_POLL_INTERVAL,
    MAX_STATUS_INTERVAL,
    MIN_MEDIA_MAX_MB,
    MIN_POLL_INTERVAL,
    MIN_STATUS_INTERVAL,
    PAIR_POLL_INTERVAL,
    PAIR_TIMEOUT,
    SUBENTRY_CHAT,
    InboundMode,
)
from .coordinator import WhatsAppConfigEntry, account_phone
from .gateway import (
    GATEWAYS,
    AccountChoice,
    Capability,
    ChatId,
    CredentialsIncomplete,
    FieldType,
    Gateway,
    GatewayAuthError,
    GatewayDescriptor,
    GatewayError,
    InvalidChatId,
    NationalNumber,
    NotTheGateway,
    SessionEvent,
    SessionState,
    SessionStatus,
    gateway_descriptor,
    parse_chat_id,
    sniff_image,
)

NEW_ACCOUNT = "new"
CONF_PHONE = "phone"

_SELECTORS: dict[FieldType, Any] = {
    FieldType.TEXT: str,
    FieldType.PASSWORD: TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD)),
    FieldType.URL: TextSelector(TextSelectorConfig(type=TextSelectorType.URL)),
    FieldType.EMAIL: TextSelector(TextSelectorConfig(type=TextSelectorType.EMAIL)),
}


def credentials_schema(descriptor: GatewayDescriptor[Any, Any]) -> probatio.Schema:
    """The form a gateway's credentials are typed into."""
    fields: dict[Any, Any] = {}
    for box in descriptor.credentials:
        marker = probatio.Required if box.required else probatio.Optional
        key = marker(box.key) if box.default is None else marker(box.key, default=box.default)
        fields[key] = _SELECTORS[box.type]
    return probatio.Schema(fields)


def account_step_id(descriptor: GatewayDescriptor[Any, Any]) -> str:
    """The step that picks one of the accounts a gateway's login holds."""
    assert descriptor.accounts is not None
    return f"{descriptor.kind}_{descriptor.accounts.noun}"


# Where the session sensor's state names are translated.
SESSION_STATE_KEY = f"component.{DOMAIN}.entity.sensor.session.state"


def qr_markdown(image: bytes | None) -> str:
    """The QR code as an inline image for a flow step's description."""
    if not image:
        return ""
    mime = sniff_image(image) or "image/png"
    return f"![QR code](data:{mime};base64,{base64.b64encode(image).decode()})"


def _with_gateway_steps[F: type[WhatsAppConfigFlow]](cls: F) -> F:
    """Add each gateway's steps: its credentials, and picking one of its login's accounts.

    Home Assistant runs a step by its method's name; the menu names a gateway by its kind.
    """
    for descriptor in GATEWAYS:
        credentials = partialmethod(cls._async_credentials_step, descriptor.kind)
        setattr(cls, f"async_step_{descriptor.kind}", credentials)
        if descriptor.accounts is not None:
            account = partialmethod(cls._async_account_step, descriptor.kind)
            setattr(cls, f"async_step_{account_step_id(descriptor)}", account)
    return cls


@_with_gateway_steps
class WhatsAppConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a WhatsApp account."""

    VERSION = 1

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._gateway: Gateway | None = None
        self._status: SessionStatus | None = None
        # Accounts the gateway's login holds, by id.
        self._accounts: dict[str, AccountChoice] = {}
        self._pair_task: asyncio.Task[SessionStatus] | None = None
        self._qr = ""
        self._pairing_code = ""
        self._refusal = ""
        # What the credentials form's errors name: the gateway, the HTTP status it answered.
        self._error_details: dict[str, str] = {}
        self._refused: str | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: WhatsAppConfigEntry) -> WhatsAppOptionsFlow:
        """The options of an account."""
        return WhatsAppOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Chats that get their own notify entity."""
        return {SUBENTRY_CHAT: ChatSubentryFlow}

    @callback
    def async_remove(self) -> None:
        """Stop watching the gateway when the dialog is closed."""
        if self._pair_task is not None:
            self._pair_task.cancel()

    # Credentials

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the gateway product."""
        return self.async_show_menu(
            step_id="user", menu_options=[descriptor.kind for descriptor in GATEWAYS]
        )

    async def _async_credentials_step(
        self, kind: str, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The gateway's credentials (the step of each gateway, named after it)."""
        descriptor = gateway_descriptor(kind)
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = await self._async_check_credentials(descriptor, user_input, {})
            if not errors:
                if descriptor.accounts is not None and descriptor.accounts.option not in self._data:
                    return await self._async_account_step(kind)
                return await self._async_session_step()
        return self.async_show_form(
            step_id=kind,
            data_schema=self.add_suggested_values_to_schema(
                credentials_schema(descriptor), user_input
            ),
            errors=errors,
            description_placeholders=self._error_details,
        )

    async def _async_check_credentials(
        self,
        descriptor: GatewayDescriptor[Any, Any],
        user_input: Mapping[str, Any],
        stored: Mapping[str, Any],
    ) -> dict[str, str]:
        """Reach the gateway with what this submit holds; the form's errors, if any.

        `stored` is the account's current data when its credentials are changed: its other
        options (the account picked) stay, and so does a secret left empty.
        """
        typed = {box.key for box in descriptor.credentials}
        values = {key: str(value) for key, value in stored.items() if key not in typed}
        errors: dict[str, str] = {}
        for box in descriptor.credentials:
            if (value := user_input.get(box.key)) not in (None, ""):
                values[box.key] = box.clean(value)
                if problem := box.problem(values[box.key]):
                    errors[box.key] = problem
            elif box.default is not None:
                values[box.key] = box.default
            elif box.secret and stored.get(box.key):
                values[box.key] = str(stored[box.key])
        if errors:
            return errors
        self._expect_errors_from(descriptor)
        errors = await self._async_errors_of(self._async_connect(descriptor, values))
        if errors.get("base") == "invalid_auth" and self._refused in typed:
            # The gateway said which one it refused: the form marks that box.
            return {self._refused: "credential_refused"}
        return errors

    async def _async_connect(
        self, descriptor: GatewayDescriptor[Any, Any], values: dict[str, str]
    ) -> None:
        session = async_get_clientsession(self.hass)
        if descriptor.complete is not None:
            values = await descriptor.complete(session, values)
        options = descriptor.options_from(values)
        gateway = self._use({CONF_KIND: descriptor.kind, **options.to_data()})
        picking = descriptor.accounts
        if picking is not None:
            self._accounts = {choice.id: choice for choice in await picking.choices(gateway)}
        if picking is None or picking.option in self._data:
            self._status = await gateway.status()

    def _expect_errors_from(self, descriptor: GatewayDescriptor[Any, Any]) -> None:
        """Forget what an earlier submit's errors named."""
        self._error_details = {"gateway": descriptor.name, "status": ""}
        self._refused = None

    async def _async_errors_of(self, check: Awaitable[None]) -> dict[str, str]:
        """Run a check against the gateway and turn what fails into a form error."""
        try:
            await check
        except CredentialsIncomplete as err:
            return {"base": err.reason}
        except GatewayAuthError as err:
            self._refused = err.credential
            return {"base": "invalid_auth"}
        except NotTheGateway as err:
            self._error_details["status"] = str(err.status)
            return {"base": "not_the_gateway"}
        except GatewayError as err:
            LOGGER.debug("Gateway check failed: %s", err)
            return {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - the form shows "unknown" instead of a crash
            LOGGER.exception("Unexpected error while checking the gateway")
            return {"base": "unknown"}
        return {}

    async def _async_read_status(self) -> None:
        self._status = await self._use(self._data).status()

    def _use(self, data: dict[str, Any]) -> Gateway:
        self._data = data
        descriptor = gateway_descriptor(data[CONF_KIND])
        self._gateway = descriptor.create(async_get_clientsession(self.hass), data)
        return self._gateway

    async def _async_account_step(
        self, kind: str, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick one of the accounts the login holds, or add a new one."""
        descriptor = gateway_descriptor(kind)
        picking = descriptor.accounts
        assert picking is not None
        step_id = account_step_id(descriptor)
        errors: dict[str, str] = {}
        if user_input is not None or not self._accounts:
            choice = user_input[picking.option] if user_input else NEW_ACCOUNT
            try:
                if choice == NEW_ACCOUNT:
                    assert self._gateway is not None
                    selected = (await picking.add_account(self._gateway)).selection
                else:
                    selected = self._accounts[choice].selection
                self._status = await self._use({**self._data, **selected}).status()
            except GatewayError as err:
                LOGGER.debug("Gateway account not usable: %s", err)
                errors["base"] = (
                    f"cannot_add_{picking.noun}" if choice == NEW_ACCOUNT else "cannot_connect"
                )
            else:
                return await self._async_session_step()
        # The session sensor's state names say, in the user's words, where each account stands.
        states = await async_get_translations(
            self.hass, self.hass.config.language, "entity", {DOMAIN}
        )
        options = [
            SelectOptionDict(
                value=choice.id,
                label="{} ({})".format(
                    f"+{choice.number}" if choice.number else choice.id,
                    states.get(f"{SESSION_STATE_KEY}.{choice.state}", choice.state),
                ),
            )
            for choice in self._accounts.values()
        ]
        options.append(SelectOptionDict(value=NEW_ACCOUNT, label=NEW_ACCOUNT))
        return self.async_show_form(
            step_id=step_id,
            data_schema=probatio.Schema(
                {
                    probatio.Required(picking.option): SelectSelector(
                        SelectSelectorConfig(
                            options=options,
                            mode=SelectSelectorMode.LIST,
                            translation_key=step_id,
                        )
                    )
                }
            ),
            errors=errors,
        )

    # Pairing

    async def _async_session_step(self) -> ConfigFlowResult:
        """Linked already: done. Otherwise the phone has to be linked."""
        if self._status is not None and self._status.state is SessionState.CONNECTED:
            return await self._async_linked(self._status)
        return await self.async_step_link()

    async def async_step_link(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """QR code, or a pairing code where the gateway offers one."""
        if Capability.PAIRING_CODE in gateway_descriptor(self._data[CONF_KIND]).capabilities:
            return self.async_show_menu(step_id="link", menu_options=["pair", "pairing_code"])
        return await self.async_step_pair()

    async def async_step_pair_timeout(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The phone was not linked in time: try again."""
        options = ["pair"]
        if Capability.PAIRING_CODE in gateway_descriptor(self._data[CONF_KIND]).capabilities:
            options.append("pairing_code")
        return self.async_show_menu(step_id="pair_timeout", menu_options=options)

    async def async_step_pair(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the QR code until the phone has scanned it; no button to press."""
        if self._pair_task is None:
            gateway = self._gateway
            assert gateway is not None
            try:
                await gateway.connect()
                self._qr = qr_markdown((await gateway.login_qr()).image)
            except GatewayError as err:
                # Some gateways show the first code a moment after connecting; the watcher
                # picks it up.
                LOGGER.debug("No QR code yet: %s", err)
                self._qr = ""
            self._pair_task = self._start_watching(watch_qr=True)
        return self._async_progress("pair", "scan_qr", {"qr": self._qr})

    async def async_step_pairing_code(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the phone number and show the code to type on the phone."""
        errors: dict[str, str] = {}
        if user_input is not None:
            gateway = self._gateway
            assert gateway is not None
            try:
                parse_chat_id(user_input[CONF_PHONE])
                await gateway.connect()
                self._pairing_code = await gateway.request_pairing_code(user_input[CONF_PHONE])
            except NationalNumber:
                errors[CONF_PHONE] = "national_number"
            except InvalidChatId:
                errors[CONF_PHONE] = "invalid_phone"
            except GatewayError as err:
                LOGGER.debug("No pairing code: %s", err)
                errors["base"] = "cannot_connect"
            else:
                self._pair_task = self._start_watching(watch_qr=False)
                return await self.async_step_pair_code()
        suggested = {CONF_PHONE: f"+{self.unique_id}"} if self.unique_id else user_input
        return self.async_show_form(
            step_id="pairing_code",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema({probatio.Required(CONF_PHONE): str}), suggested
            ),
            errors=errors,
        )

    async def async_step_pair_code(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the pairing code until the phone is linked."""
        return self._async_progress("pair_code", "enter_code", {"code": self._pairing_code})

    def _async_progress(
        self, step_id: str, action: str, placeholders: dict[str, str]
    ) -> ConfigFlowResult:
        task = self._pair_task
        assert task is not None
        if not task.done():
            return self.async_show_progress(
                step_id=step_id,
                progress_action=action,
                description_placeholders=placeholders,
                progress_task=task,
            )
        self._pair_task = None
        try:
            self._status = task.result()
        except TimeoutError:
            return self.async_show_progress_done(next_step_id="pair_timeout")
        except GatewayAuthError as err:
            self._refusal = str(err)
            return self.async_show_progress_done(next_step_id="pair_refused")
        return self.async_show_progress_done(next_step_id="finish")

    async def async_step_pair_refused(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The gateway stopped taking the credentials while the phone was awaited."""
        return self.async_abort(
            reason="pairing_refused", description_placeholders={"error": self._refusal}
        )

    def _start_watching(self, *, watch_qr: bool) -> asyncio.Task[SessionStatus]:
        # A background task: it waits for the phone, which can take minutes.
        return self.hass.async_create_background_task(
            self._async_wait_for_link(watch_qr=watch_qr), f"{DOMAIN} pairing"
        )

    async def _async_wait_for_link(self, *, watch_qr: bool) -> SessionStatus:
        """Look at the session every few seconds until it is linked, or give up."""
        gateway = self._gateway
        assert gateway is not None
        wake = asyncio.Event()
        timed_out = False

        @callback
        def tick(_: Any) -> None:
            wake.set()

        @callback
        def give_up(_: Any) -> None:
            nonlocal timed_out
            timed_out = True
            wake.set()

        cancel_deadline = async_call_later(self.hass, PAIR_TIMEOUT, give_up)
        try:
            while True:
                try:
                    status = await gateway.status()
                    if status.state is SessionState.CONNECTED:
                        return status
                    if watch_qr:
                        await self._async_refresh_qr(gateway, status)
                except GatewayAuthError:
                    raise  # it will not pass by waiting: the dialog says so
                except GatewayError as err:
                    LOGGER.debug("Session check while pairing failed: %s", err)
                if timed_out:
                    raise TimeoutError
                wake.clear()
                cancel_tick = async_call_later(self.hass, PAIR_POLL_INTERVAL, tick)
                try:
                    await wake.wait()
                finally:
                    cancel_tick()
        finally:
            cancel_deadline()

    async def _async_refresh_qr(self, gateway: Gateway, status: SessionStatus) -> None:
        """Follow the gateway's QR rotation and have the dialog show the new code."""
        qr = status.qr or await gateway.login_qr()
        if (markdown := qr_markdown(qr.image)) and markdown != self._qr:
            self._qr = markdown
            self.async_notify_flow_changed()

    async def async_step_finish(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The phone is linked."""
        assert self._status is not None
        return await self._async_linked(self._status)

    async def _async_linked(self, status: SessionStatus) -> ConfigFlowResult:
        account = account_of(status, self._data)
        await self.async_set_unique_id(account)
        if self.source == SOURCE_REAUTH:
            entry = self._get_reauth_entry()
            if entry.unique_id != account:
                error = await self._async_unlink_stranger()
                self._async_show_the_session(entry, unlinked=error is None)
                if error is not None:
                    return self.async_abort(
                        reason="wrong_account_still_linked",
                        description_placeholders={"error": error},
                    )
                return self.async_abort(reason="wrong_account")
            return self.async_update_reload_and_abort(entry, data=self._data)
        self._abort_if_unique_id_configured()
        # Gateways' status names their user slot, not the WhatsApp account: the number says
        # more. "WhatsApp" first, so that entity ids do not start with a digit.
        return self.async_create_entry(
            title=f"WhatsApp +{status.phone}" if status.phone else f"WhatsApp {account}",
            data={
                **self._data,
                CONF_WEBHOOK_ID: webhook.async_generate_id(),
                CONF_WEBHOOK_SECRET: secrets.token_hex(32),
            },
        )

    @callback
    def _async_show_the_session(self, entry: WhatsAppConfigEntry, *, unlinked: bool) -> None:
        """Another phone linked the running entry's session during this flow.

        Unlinked again, the session is shown as logged out at once (not "connected" until
        the next poll), and linking is asked for again once this flow has ended. Still
        linked, the session is read again, to show what it is.
        """
        if entry.state is not ConfigEntryState.LOADED:
            return
        coordinator = entry.runtime_data.coordinator
        if not unlinked:
            entry.async_create_background_task(
                self.hass, coordinator.async_refresh(), f"{DOMAIN} session after another phone"
            )
            return
        # As if the gateway had pushed the logout; its reauth waits until this flow is gone
        # (Home Assistant starts no second reauth flow for an entry).
        self.hass.loop.call_soon(
            coordinator.async_handle_session_event,
            SessionEvent(SessionState.LOGGED_OUT, reason="another phone was unlinked"),
        )

    async def _async_unlink_stranger(self) -> str | None:
        """Another phone was linked to this account's gateway session: unlink it again.

        What went wrong, if it could not be unlinked; the user has to do it on that phone.
        """
        assert self._gateway is not None
        try:
            await self._gateway.logout()
        except GatewayError as err:
            return str(err)
        return None

    # Reauth and reconfigure

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The account was unlinked from its gateway session: link it again."""
        self._data = dict(entry_data)
        await self.async_set_unique_id(self._get_reauth_entry().unique_id)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Explain, then pair again."""
        errors: dict[str, str] = {}
        self._expect_errors_from(gateway_descriptor(self._data[CONF_KIND]))
        if user_input is not None:
            errors = await self._async_errors_of(self._async_read_status())
            if not errors:
                return await self._async_session_step()
        return self.async_show_form(
            step_id="reauth_confirm",
            description_placeholders={"account": self._get_reauth_entry().title}
            | self._error_details,
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the gateway's address or credentials of an account."""
        entry = self._get_reconfigure_entry()
        descriptor = gateway_descriptor(entry.data[CONF_KIND])
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = await self._async_check_credentials(descriptor, user_input, entry.data)
            if not errors:
                status = self._status
                if status is not None and status.state is SessionState.CONNECTED:
                    await self.async_set_unique_id(account_of(status, self._data))
                    self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data_updates={k: v for k, v in self._data.items() if k != CONF_KIND}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                credentials_schema(descriptor),
                user_input or descriptor.public_credentials(entry.data),
            ),
            errors=errors,
            description_placeholders=self._error_details,
        )


def _seconds(minimum: int, maximum: int) -> NumberSelector:
    """A box for a number of seconds."""
    return _number(minimum, maximum, "s")


def _number(minimum: int, maximum: int, unit: str) -> NumberSelector:
    """A box for a whole number in a unit."""
    return NumberSelector(
        NumberSelectorConfig(
            min=minimum, max=maximum, unit_of_measurement=unit, mode=NumberSelectorMode.BOX
        )
    )


def _url(value: Any) -> str:
    """An address as typed, without surrounding blanks or a trailing slash."""
    return str(value).strip().rstrip("/")


def account_of(status: SessionStatus, data: Mapping[str, Any]) -> str:
    """The account's unique id: its phone number, else its id, else the gateway's address.

    The last one is for gateways that cannot tell their own number.
    """
    return status.phone or status.jid or str(data.get(CONF_URL, ""))


class WhatsAppOptionsFlow(OptionsFlowWithReload):
    """How messages come in, how often the session is checked, and the loop guard."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The only options step."""
        if user_input is not None:
            for key in (
                CONF_STATUS_INTERVAL,
                CONF_POLL_INTERVAL,
                CONF_MEDIA_KEEP_DAYS,
                CONF_MEDIA_MAX_MB,
            ):
                if key in user_input:
                    user_input[key] = int(user_input[key])
            return self.async_create_entry(data=user_input)
        capabilities = gateway_descriptor(self.config_entry.data[CONF_KIND]).capabilities
        modes = [InboundMode.AUTO.value]
        if Capability.WEBHOOK in capabilities:
            modes.append(InboundMode.WEBHOOK.value)
        if Capability.POLLING in capabilities:
            modes.append(InboundMode.POLLING.value)
        mode = SelectSelector(SelectSelectorConfig(options=modes, translation_key="inbound_mode"))
        fields: dict[Any, Any] = {
            probatio.Required(CONF_INBOUND_MODE, default=InboundMode.AUTO.value): mode,
            probatio.Required(CONF_STATUS_INTERVAL, default=DEFAULT_STATUS_INTERVAL): _seconds(
                MIN_STATUS_INTERVAL, MAX_STATUS_INTERVAL
            ),
        }
        if Capability.POLLING in capabilities:
            fields[probatio.Required(CONF_POLL_INTERVAL, default=DEFAULT_POLL_INTERVAL)] = _seconds(
                MIN_POLL_INTERVAL, MAX_POLL_INTERVAL
            )
        fields[probatio.Required(CONF_FIRE_OWN_MESSAGES, default=False)] = BooleanSelector()
        if Capability.MARK_READ in capabilities:
            fields[probatio.Required(CONF_MARK_READ, default=False)] = BooleanSelector()
        if Capability.TYPING in capabilities:
            fields[probatio.Required(CONF_SHOW_TYPING, default=False)] = BooleanSelector()
        # Whether a message mentions us can only be told where we know our own number.
        if Capability.MENTIONS in capabilities and account_phone(self.config_entry):
            fields[probatio.Required(CONF_GROUPS_MENTIONED_ONLY, default=False)] = BooleanSelector()
        fields[probatio.Required(CONF_MEDIA_KEEP_DAYS, default=DEFAULT_MEDIA_KEEP_DAYS)] = _number(
            1, MAX_MEDIA_KEEP_DAYS, "d"
        )
        fields[probatio.Required(CONF_MEDIA_MAX_MB, default=DEFAULT_MEDIA_MAX_MB)] = _number(
            MIN_MEDIA_MAX_MB, MAX_MEDIA_MAX_MB, "MB"
        )
        schema = probatio.Schema(fields)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
            # The allowed ranges, in the help texts: a refused number then says what fits.
            description_placeholders={
                "min_status": str(MIN_STATUS_INTERVAL),
                "max_status": str(MAX_STATUS_INTERVAL),
                "min_poll": str(MIN_POLL_INTERVAL),
                "max_poll": str(MAX_POLL_INTERVAL),
                "max_keep_days": str(MAX_MEDIA_KEEP_DAYS),
                "min_mb": str(MIN_MEDIA_MAX_MB),
                "max_mb": str(MAX_MEDIA_MAX_MB),
            },
        )


class ChatSubentryFlow(ConfigSubentryFlow):
    """A contact or group that gets a notify entity."""

    async def _async_chat_title(self, chat: ChatId) -> str:
        """The name of a chat added without one.

        The number, or the group's subject where the gateway tells it, else the chat's id.
        """
        if chat.phone:
            return f"+{chat.phone}"
        entry = cast("WhatsAppConfigEntry", self._get_entry())
        if chat.is_group and entry.state is ConfigEntryState.LOADED:
            try:
                subject = await entry.runtime_data.coordinator.gateway.group_subject(str(chat))
            except GatewayError as err:
                LOGGER.debug("No subject for group %s: %s", chat, err)
            else:
                if subject:
                    return subject
        return str(chat)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a chat."""
        return await self._async_chat_step("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a chat's number or name."""
        return await self._async_chat_step("reconfigure", user_input)

    async def _async_chat_step(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        current = self._get_reconfigure_subentry() if step_id == "reconfigure" else None
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                chat = parse_chat_id(user_input[CONF_CHAT_ID])
            except NationalNumber:
                errors[CONF_CHAT_ID] = "national_number"
            except InvalidChatId:
                errors[CONF_CHAT_ID] = "invalid_chat"
            else:
                chat_id = str(chat)
                if any(
                    sub.unique_id == chat_id and sub is not current
                    for sub in entry.subentries.values()
                ):
                    return self.async_abort(reason="already_configured")
                title = user_input.get(CONF_NAME) or await self._async_chat_title(chat)
                data = {CONF_CHAT_ID: chat_id}
                if current is not None:
                    return self.async_update_reload_and_abort(
                        entry, current, title=title, data=data, unique_id=chat_id
                    )
                # The new chat's notify entity appears once the account reloads.
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_create_entry(title=title, data=data, unique_id=chat_id)
        suggested = user_input
        if current is not None and user_input is None:
            suggested = {CONF_CHAT_ID: current.data[CONF_CHAT_ID], CONF_NAME: current.title}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {probatio.Required(CONF_CHAT_ID): str, probatio.Optional(CONF_NAME): str}
                ),
                suggested,
            ),
            errors=errors,
        )

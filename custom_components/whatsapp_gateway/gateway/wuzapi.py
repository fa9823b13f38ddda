"""asternic/wuzapi: a self-hosted REST server over whatsmeow, one "user" per WhatsApp account."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hmac
import secrets
from typing import Any, Final

import aiohttp
from yarl import URL

from . import payload as p
from .base import Gateway, WebhookBodyReader, hmac_sha256_hex
from .chat_id import ChatId, canonical_jid, lid_of, parse_chat_id, phone_of
from .descriptor import (
    PRIVATE,
    CredentialField,
    CredentialsIncomplete,
    FieldType,
    GatewayDescriptor,
    GatewayOptions,
)
from .errors import (
    GatewayAuthError,
    GatewayNotLoggedIn,
    GatewayResponseError,
    GatewayUnsupported,
    NotTheGateway,
)
from .media import decode_base64, from_data_url, to_data_url
from .models import (
    MEDIA_MESSAGE_KINDS,
    Capability,
    ChatPresence,
    DeliveryStatus,
    InboundEvent,
    InboundMedia,
    IncomingCall,
    IncomingMessage,
    LoginQr,
    MediaKind,
    MessageKind,
    MessageStatusUpdate,
    OutgoingMedia,
    PhoneCheck,
    Poll,
    SentMessage,
    SessionEvent,
    SessionState,
    SessionStatus,
)
from .proto import MessageContent, read_content

# Events we subscribe to. Always sent explicitly: newer builds store an empty list as "none".
SUBSCRIBED_EVENTS: Final = (
    "Message",
    "ReadReceipt",
    "QR",
    "QRTimeout",
    "PairSuccess",
    "PairError",
    "Connected",
    "Disconnected",
    "LoggedOut",
    "ConnectFailure",
    "TemporaryBan",
    "ClientOutdated",
    "CallOffer",
    "CallTerminate",
)
# The only names May-2025 builds know; user creation with any other one answers 400.
OLD_BUILD_EVENTS: Final = ("Message", "ReadReceipt")
SIGNATURE_HEADER: Final = "x-hmac-signature"
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"

# Error texts wuzapi answers with (HTTP 500) when the session cannot serve a request. A client
# that exists but was never paired says "...the store doesn't contain a device JID".
_NOT_LOGGED_IN_ERRORS = ("no session", "not connected", "not logged in", "device jid")
# Routes of every wuzapi build: a server without them is not wuzapi at all.
_ROUTES_OF_EVERY_BUILD = frozenset({"/session/status", "/admin/users"})
_ALREADY_UP_ERRORS = ("already connected", "already logged in", "already loggedin")
# Stopping a client that is not logged in (its socket down, or a QR code shown) answers this;
# the server then leaves that client as it is.
_ALREADY_DOWN_ERRORS = ("no session", "not logged in")
# Pauses while waiting for a stopped client to go away (old builds stop it asynchronously).
_RESTART_WAITS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
# Media kinds May-2025 builds can send as a reply (the others panic on a ContextInfo).
_OLD_BUILD_REPLY_KINDS: Final = frozenset({MediaKind.IMAGE})
_DOWNLOAD_ROUTES: Final = {
    MessageKind.IMAGE: "image",
    MessageKind.VIDEO: "video",
    MessageKind.AUDIO: "audio",
    MessageKind.VOICE: "audio",
    MessageKind.DOCUMENT: "document",
    MessageKind.STICKER: "sticker",
}
# Our own sent messages, in the map of quoted senders: the own JID is filled in when replying.
_OWN = "me"

_SESSION_EVENTS: Final = {
    "connected": SessionState.CONNECTED,
    "disconnected": SessionState.DISCONNECTED,
    "keepalivetimeout": SessionState.DISCONNECTED,
    "streamreplaced": SessionState.DISCONNECTED,
    "qrtimeout": SessionState.DISCONNECTED,
    "loggedout": SessionState.LOGGED_OUT,
    "connectfailure": SessionState.FAILED,
    "temporaryban": SessionState.FAILED,
    "clientoutdated": SessionState.FAILED,
    "pairerror": SessionState.PAIRING,
}
_RECEIPT_STATES: Final = {
    "delivered": DeliveryStatus.DELIVERED,
    "": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
}  # wuzapi drops every other receipt (played, inactive, …) before posting
_MEDIA_ENDPOINTS: Final = {
    MediaKind.IMAGE: ("image", "Image"),
    MediaKind.VIDEO: ("video", "Video"),
    MediaKind.AUDIO: ("audio", "Audio"),
    MediaKind.VOICE: ("audio", "Audio"),
    MediaKind.DOCUMENT: ("document", "Document"),
    MediaKind.STICKER: ("sticker", "Sticker"),
}
_REMEMBERED_SENDERS = 2048


@dataclass(frozen=True, slots=True)
class WuzapiUser:
    """A user (one WhatsApp account) on a wuzapi server."""

    id: str
    name: str
    token: str


class WuzapiGateway(Gateway):
    """Client for one wuzapi user, plus the admin calls that create users."""

    kind = "wuzapi"
    capabilities = frozenset(
        {
            Capability.MENTIONS,
            Capability.POLL_VOTES,
            Capability.REPLY,
            Capability.RECEIPTS,
            Capability.PAIRING_CODE,
            Capability.WEBHOOK,
            Capability.HMAC,
            Capability.LOCATION,
            Capability.CONTACT,
            Capability.REACTION,
            Capability.STICKER,
            Capability.VOICE,
            Capability.MARK_READ,
            Capability.EDIT,
            Capability.DELETE,
            Capability.TYPING,
            Capability.POLL,
            Capability.CALLS,
            Capability.CHECK_PHONE,
            Capability.CLIENT_MESSAGE_ID,
            Capability.MEDIA_DOWNLOAD,
        }
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str | None = None,
        admin_token: str | None = None,
    ) -> None:
        """A user token for the session calls; the admin token only to manage users."""
        super().__init__(session, base_url)
        self._token = token
        self._admin_token = admin_token
        # Replies in WhatsApp must name the quoted message's sender; remember recent ones.
        self._senders: OrderedDict[str, str] = OrderedDict()
        self._own_jid: str | None = None
        # What the server is, learnt from its answers: None until known.
        self._old_build: bool | None = None
        self._signs: bool | None = None

    @property
    def old_build(self) -> bool | None:
        """Whether the server is a May-2025 build (None until a status answer told)."""
        return self._old_build

    @property
    def webhook_auth(self) -> str:
        """Signed posts, or (builds that cannot sign) the user token in each form post."""
        return "token" if self._signs is False else "hmac"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        admin: bool = False,
        ok_errors: tuple[str, ...] = (),
    ) -> Any:
        """One API call; returns the envelope's `data` and maps its errors."""
        if admin:
            if not self._admin_token:
                raise GatewayAuthError("Managing wuzapi users needs the server's admin token")
            headers = {"Authorization": self._admin_token}
        else:
            if not self._token:
                raise GatewayAuthError("No wuzapi user token is configured")
            headers = {"Token": self._token}
        response = await self._request(
            method, path, what=what, headers=headers, json_body=body, params=params
        )
        if response.status in (401, 403):
            which = "admin token" if admin else "user token"
            raise GatewayAuthError(
                f"The wuzapi server rejected the {which}",
                credential="admin_token" if admin else "token",
            )
        if response.status == 404 and not response.body.lstrip().startswith(b"{"):
            if path in _ROUTES_OF_EVERY_BUILD:
                raise NotTheGateway(
                    f"The server at {self._base_url} is not wuzapi: it has no {path}",
                    status=response.status,
                )
            # Go's file server answers routes a build does not have: "404 page not found".
            raise GatewayUnsupported(
                f"this wuzapi server has no {path} (an older build); update wuzapi for {what}"
            )
        envelope = response.json(what)
        if 200 <= response.status < 300 and p.get(envelope, "success") is not False:
            data = p.get(envelope, "data")
            return envelope if data is None else data
        error = p.get_str(envelope, "error") or f"HTTP {response.status}"
        lowered = error.lower()
        if any(text in lowered for text in ok_errors):
            return {}
        if any(text in lowered for text in _NOT_LOGGED_IN_ERRORS):
            raise GatewayNotLoggedIn(
                f"The WhatsApp session on the wuzapi server is not ready ({error}); "
                "it must be connected and paired with the phone"
            )
        raise GatewayResponseError(f"The wuzapi server refused the {what} request: {error}")

    # Users (admin token)

    async def create_user(
        self,
        name: str,
        *,
        token: str | None = None,
        webhook: str = "",
        hmac_key: str | None = None,
    ) -> WuzapiUser:
        """Create a user for a new WhatsApp account; the token is generated when not given."""
        token = token or secrets.token_hex(16)
        body: dict[str, Any] = {
            "name": name,
            "token": token,
            "webhook": webhook,
            "events": ",".join(SUBSCRIBED_EVENTS),
            "osname": "Home Assistant",
            # Without this, newly created users get no media in their webhooks.
            "s3Config": {"enabled": False, "mediaDelivery": "base64"},
        }
        if hmac_key:
            body["hmacKey"] = hmac_key
        try:
            data = await self._call(
                "POST", "/admin/users", what="create user", body=body, admin=True
            )
        except GatewayResponseError as err:
            if "invalid event" not in str(err).lower():
                raise
            # A May-2025 build: only the old event names, and nothing it does not know.
            self._old_build = True
            old_body = {key: body[key] for key in ("name", "token", "webhook", "osname")}
            old_body["events"] = ",".join(OLD_BUILD_EVENTS)
            data = await self._call(
                "POST", "/admin/users", what="create user", body=old_body, admin=True
            )
        return WuzapiUser(
            id=p.require_str(data, "id", what="new user"),
            name=p.get_str(data, "name") or name,
            token=p.get_str(data, "token") or token,
        )

    async def list_users(self) -> list[WuzapiUser]:
        """The users on the server."""
        data = await self._call("GET", "/admin/users", what="list users", admin=True)
        if not isinstance(data, list):
            raise GatewayResponseError("The wuzapi server's user list is not a list")
        return [
            WuzapiUser(
                id=p.require_str(item, "id", what="user"),
                name=p.get_str(item, "name") or "",
                token=p.get_str(item, "token") or "",
            )
            for item in data
        ]

    # Session

    async def status(self) -> SessionStatus:
        """Read /session/status in both the old and the new shape.

        The answer's `name` is the wuzapi user's name, not the WhatsApp account's: not used.
        """
        try:
            data = await self._call("GET", "/session/status", what="status")
        except GatewayNotLoggedIn:
            # Only old builds answer "no session": no client until /session/connect.
            self._old_build = True
            return SessionStatus(SessionState.DISCONNECTED, detail="no session", stopped=True)
        # Go writes the old build's keys capitalised and the new build's in lower case.
        self._old_build = isinstance(data, dict) and "Connected" in data
        connected = p.get_bool(data, "connected")
        logged_in = p.get_bool(data, "loggedIn")
        jid = p.get_str(data, "jid")
        qr_text = p.get_str(data, "qrcode")
        qr = LoginQr(image=from_data_url(qr_text, "QR code")) if qr_text else None
        if connected and logged_in:
            state = SessionState.CONNECTED
        elif connected and jid and qr is None and not self._old_build:
            # The socket is up and the device known, the login not done yet.
            state = SessionState.CONNECTING
        elif connected:
            state = SessionState.PAIRING
        elif logged_in or jid or self._old_build:
            # Paired, socket down (whatsmeow reconnects) or client not running. Old builds say
            # no more: whatsmeow clears LoggedIn on every drop, so it cannot tell an unlink.
            state = SessionState.DISCONNECTED
        else:
            # New builds: not running and not paired, so the phone has to be linked again.
            state = SessionState.LOGGED_OUT
        if jid:
            self._own_jid = canonical_jid(jid)
        return SessionStatus(
            state=state,
            phone=phone_of(jid),
            jid=self._own_jid if jid else None,
            qr=qr if state is SessionState.PAIRING else None,
        )

    async def _build_is_old(self) -> bool:
        if self._old_build is None:
            await self.status()
        return bool(self._old_build)

    async def connect(self) -> None:
        """Start the session with our event subscription; already running counts as done."""
        await self._call(
            "POST",
            "/session/connect",
            what="connect",
            body={"Subscribe": list(SUBSCRIBED_EVENTS), "Immediate": True},
            ok_errors=_ALREADY_UP_ERRORS,
        )

    async def logout(self) -> None:
        """Unlink the device; the next connect shows a QR code."""
        await self._call("POST", "/session/logout", what="logout")

    async def restart(self) -> None:
        """Stop the client, wait until it is gone, and start a new one, keeping the pairing.

        A client that is not logged in is refused the disconnect ("not logged in") and left
        running; old builds stop a logged-in one asynchronously, so an immediate connect would
        still find it there.
        """
        await self._call(
            "POST", "/session/disconnect", what="disconnect", ok_errors=_ALREADY_DOWN_ERRORS
        )
        for pause in _RESTART_WAITS:
            if (await self.status()).state not in (SessionState.CONNECTED, SessionState.PAIRING):
                break
            await asyncio.sleep(pause)
        else:
            raise GatewayResponseError("The wuzapi session did not stop when asked to restart")
        await self.connect()

    async def login_qr(self) -> LoginQr:
        """The QR code wuzapi currently shows (a PNG data URL)."""
        data = await self._call("GET", "/session/qr", what="QR code")
        qr = p.get_str(data, "QRCode")
        if not qr:
            raise GatewayResponseError(
                "The wuzapi server has no QR code yet; it shows one a few seconds after connecting"
            )
        return LoginQr(image=from_data_url(qr, "QR code"))

    async def request_pairing_code(self, phone: str) -> str:
        """A code to enter on the phone under Linked devices → Link with phone number."""
        number = parse_chat_id(phone).phone
        if number is None:
            raise GatewayResponseError(f"'{phone}' is not a phone number")
        data = await self._call(
            "POST", "/session/pairphone", what="pairing code", body={"Phone": number}
        )
        return p.require_str(data, "LinkingCode", what="pairing code answer")

    # Sending

    async def _send(
        self,
        endpoint: str,
        to: str,
        fields: dict[str, Any],
        *,
        what: str,
        reply_to: str | None = None,
        message_id: str | None = None,
        answers_new_id: bool = True,
    ) -> SentMessage:
        """Post to a chat; the answer's `Id` is the new message's unless told otherwise."""
        chat = parse_chat_id(to)
        body = {"Phone": _wire_target(chat), **fields}
        if message_id:
            body["Id"] = message_id
        if reply_to:
            body["ContextInfo"] = {
                "StanzaID": reply_to,
                "Participant": await self._quoted_sender(reply_to, chat),
            }
        data = await self._call("POST", endpoint, what=what, body=body)
        sent_id = ""
        if answers_new_id:
            sent_id = p.require_str(data, "Id", what=f"{what} answer")
            self._remember_sender(sent_id, _OWN)
        return SentMessage(
            message_id=sent_id,
            chat_id=chat.jid(),
            timestamp=p.parse_timestamp(p.get(data, "Timestamp")),
        )

    async def _quoted_sender(self, message_id: str, chat: ChatId) -> str:
        """Who wrote the quoted message: remembered, our own JID for our own, else the chat."""
        sender = self._senders.get(message_id, chat.jid())
        if sender != _OWN:
            return sender
        if self._own_jid is None:
            await self.status()
        # Old builds do not say who we are; the chat is the nearest guess.
        return self._own_jid or chat.jid()

    def new_message_id(self) -> str:
        """An id shaped like WhatsApp's own; wuzapi sends the message under it."""
        return "3EB0" + secrets.token_hex(8).upper()

    async def send_text(
        self, to: str, text: str, *, reply_to: str | None = None, message_id: str | None = None
    ) -> SentMessage:
        """POST /chat/send/text."""
        return await self._send(
            "/chat/send/text",
            to,
            {"Body": text},
            what="send text",
            reply_to=reply_to,
            message_id=message_id,
        )

    async def send_media(
        self,
        to: str,
        media: OutgoingMedia,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
    ) -> SentMessage:
        """Pick the endpoint from the media kind and upload the file as a data URL.

        WhatsApp shows no caption on audio, voice notes and stickers; it is not sent for those.
        May-2025 builds reply only with text and images, and send audio only as OGG/Opus.
        """
        name, field = _MEDIA_ENDPOINTS[media.kind]
        mime = media.mime_type
        if (reply_to or media.kind in (MediaKind.AUDIO, MediaKind.VOICE)) and (
            await self._build_is_old()
        ):
            _check_old_build_media(media, reply_to)
        # Old builds only take documents as application/octet-stream data URLs.
        upload_mime = "application/octet-stream" if media.kind is MediaKind.DOCUMENT else mime
        fields: dict[str, Any] = {field: to_data_url(media.data, upload_mime)}
        if media.kind in (MediaKind.AUDIO, MediaKind.VOICE):
            fields["ptt"] = media.kind is MediaKind.VOICE
            fields["mimetype"] = mime
        elif media.kind is not MediaKind.STICKER:
            fields["MimeType"] = mime
            if caption:
                fields["Caption"] = caption
        if media.kind is MediaKind.DOCUMENT:
            fields["FileName"] = media.filename
        return await self._send(
            f"/chat/send/{name}",
            to,
            fields,
            what=f"send {media.kind}",
            reply_to=reply_to,
            message_id=message_id,
        )

    async def send_location(
        self, to: str, latitude: float, longitude: float, *, name: str | None = None
    ) -> SentMessage:
        """POST /chat/send/location."""
        fields: dict[str, Any] = {"Latitude": latitude, "Longitude": longitude}
        if name:
            fields["Name"] = name
        return await self._send("/chat/send/location", to, fields, what="send location")

    async def send_contact(self, to: str, name: str, vcard: str) -> SentMessage:
        """POST /chat/send/contact."""
        return await self._send(
            "/chat/send/contact", to, {"Name": name, "Vcard": vcard}, what="send contact"
        )

    async def send_reaction(
        self, to: str, message_id: str, emoji: str, *, from_me: bool = False
    ) -> SentMessage:
        """POST /chat/react; own messages are addressed as `me:<id>`.

        wuzapi answers with the id of the message reacted to: a reaction has no id of its own.
        """
        fields: dict[str, Any] = {
            "Body": emoji or "remove",
            "Id": f"me:{message_id}" if from_me else message_id,
        }
        sender = self._senders.get(message_id, _OWN)
        if parse_chat_id(to).is_group and sender != _OWN:
            fields["Participant"] = sender
        return await self._send(
            "/chat/react", to, fields, what="send reaction", answers_new_id=False
        )

    async def edit_message(self, to: str, message_id: str, text: str) -> None:
        """POST /chat/send/edit (builds newer than May 2025)."""
        await self._send(
            "/chat/send/edit",
            to,
            {"Body": text, "Id": message_id},
            what="edit message",
            answers_new_id=False,
        )

    async def delete_message(self, to: str, message_id: str) -> None:
        """POST /chat/delete: revoked for everyone (builds newer than May 2025)."""
        await self._send(
            "/chat/delete", to, {"Id": message_id}, what="delete message", answers_new_id=False
        )

    async def send_presence(self, to: str, presence: ChatPresence) -> None:
        """POST /chat/presence: composing (with audio media: recording) or paused."""
        fields = {
            "State": "paused" if presence is ChatPresence.PAUSED else "composing",
            "Media": "audio" if presence is ChatPresence.RECORDING else "",
        }
        await self._call(
            "POST",
            "/chat/presence",
            what="typing indicator",
            body={"Phone": _wire_target(parse_chat_id(to)), **fields},
        )

    async def send_poll(
        self, to: str, question: str, options: Sequence[str], *, multiple: bool = False
    ) -> SentMessage:
        """POST /chat/send/poll; wuzapi's polls take one answer each."""
        if multiple:
            raise self._unsupported("polls with several answers")
        chat = parse_chat_id(to)
        body = {"group": chat.jid(), "header": question, "options": list(options)}
        data = await self._call("POST", "/chat/send/poll", what="send poll", body=body)
        sent_id = p.require_str(data, "Id", what="send poll answer")
        self._remember_sender(sent_id, _OWN)
        return SentMessage(message_id=sent_id, chat_id=chat.jid())

    async def mark_read(
        self, chat_id: str, message_ids: Sequence[str], *, sender: str | None = None
    ) -> None:
        """POST /chat/markread; in groups the sender of the messages is needed too."""
        body: dict[str, Any] = {"Id": list(message_ids), "Chat": parse_chat_id(chat_id).jid()}
        if sender:
            body["Sender"] = parse_chat_id(sender).jid()
        await self._call("POST", "/chat/markread", what="mark read", body=body)

    async def group_subject(self, chat_id: str) -> str | None:
        """GET /group/info?groupJID=… (a query parameter on every build, not a body)."""
        params = {"groupJID": str(parse_chat_id(chat_id))}
        data = await self._call("GET", "/group/info", what="group info", params=params)
        return p.get_str(data, "Name") or None

    async def check_phones(self, phones: Sequence[str]) -> list[PhoneCheck]:
        """POST /user/check."""
        numbers = []
        for phone in phones:
            number = parse_chat_id(phone).phone
            if number is None:
                raise GatewayResponseError(f"'{phone}' is not a phone number")
            numbers.append(number)
        # whatsmeow's IsOnWhatsApp expects the international "+"; the answer echoes it.
        body = {"Phone": [f"+{number}" for number in numbers]}
        data = await self._call("POST", "/user/check", what="check phones", body=body)
        users = p.get(data, "Users")
        if not isinstance(users, list):
            raise GatewayResponseError("The wuzapi server's phone check has no user list")
        return [
            PhoneCheck(
                phone=p.require_str(user, "Query", what="phone check").lstrip("+"),
                on_whatsapp=p.get_bool(user, "IsInWhatsapp"),
                chat_id=canonical_jid(jid) if (jid := p.get_str(user, "JID")) else None,
            )
            for user in users
        ]

    # Inbound

    async def configure_webhook(self, url: str, secret: str | None) -> None:
        """Point the user's webhook at us, have wuzapi sign its posts, and inline media.

        Builds without `/session/hmac/config` cannot sign: their posts are then checked by the
        user token each one carries. Users created outside Home Assistant may have no media
        delivery set, and then get no media in their webhooks.
        """
        await self._call(
            "POST",
            "/webhook",
            what="set webhook",
            body={"webhookURL": url, "events": await self._events()},
        )
        if secret:
            try:
                await self._call(
                    "POST", "/session/hmac/config", what="set HMAC key", body={"hmac_key": secret}
                )
                self._signs = True
            except GatewayUnsupported:
                self._signs = False
        await self._ensure_inline_media()

    async def _events(self) -> list[str]:
        return list(OLD_BUILD_EVENTS if await self._build_is_old() else SUBSCRIBED_EVENTS)

    async def _ensure_inline_media(self) -> None:
        """Undocumented answers: a refusal leaves media to the download fallback."""
        try:
            data = await self._call("GET", "/session/s3/config", what="get media delivery")
        except GatewayUnsupported:
            return  # old builds always inline media
        except GatewayResponseError:
            return  # e.g. a server that answers an error while nothing is configured
        if not p.get_str(data, "media_delivery"):
            await self._call(
                "POST",
                "/session/s3/config",
                what="set media delivery",
                body={"enabled": False, "media_delivery": "base64"},
            )

    async def get_webhook(self) -> str | None:
        """GET /webhook."""
        data = await self._call("GET", "/webhook", what="get webhook")
        return p.get_str(data, "webhook")

    async def webhook_matches(self, url: str, secret: str | None) -> bool:
        """The URL, a subscription that includes messages, and (with a secret) the HMAC key."""
        data = await self._call("GET", "/webhook", what="get webhook")
        subscribed = p.get(data, "subscribe")
        events = set(subscribed) if isinstance(subscribed, list) else set()
        if p.get_str(data, "webhook") != url or not ({"All", "Message"} & events):
            return False
        if not secret or self._signs is False:
            return True
        try:
            answer = await self._call("GET", "/session/hmac/config", what="get HMAC key")
        except GatewayResponseError:
            return False  # no key to show: setting it again does no harm
        return p.get_str(answer, "hmac_key") is not None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
        """Check the HMAC signature; posts of builds that cannot sign must carry our token."""
        if secret and self._signs is not False:
            signature = p.get_header(headers, SIGNATURE_HEADER) or ""
            expected = hmac_sha256_hex(secret, body)
            # Bytes, because compare_digest raises on non-ASCII text and headers are untrusted.
            return hmac.compare_digest(signature.strip().lower().encode(), expected.encode())
        token: str | None = None
        if self._token and _is_form(headers, body):
            try:
                token = _form_fields(body).get("token")
            except GatewayResponseError:
                return False
        if token is not None:
            assert self._token is not None
            return hmac.compare_digest(token.encode(), self._token.encode())
        # Without a token, only a post to an entry that was given nothing to check passes.
        return not secret

    def signature_missing(self, headers: Mapping[str, str], secret: str | None) -> bool:
        """A post without a signature although we hold a key the server took."""
        return (
            bool(secret)
            and self._signs is not False
            and not p.get_header(headers, SIGNATURE_HEADER)
        )

    def body_reader(
        self, headers: Mapping[str, str], secret: str | None, limit: int
    ) -> WebhookBodyReader:
        """A post over the limit loses its inline media (fetched later), not its message."""
        signed = secret if secret and self._signs is not False else None
        form = _content_type(headers).startswith(FORM_CONTENT_TYPE)
        return InlineMediaDropper(limit, form=form, hmac_key=signed)

    async def download_media(self, media: InboundMedia) -> InboundMedia:
        """POST /chat/download<kind> with the description the webhook carried."""
        if media.download is None:
            raise GatewayResponseError("The message's media has nothing to download")
        route, body = media.download["route"], media.download["body"]
        data = await self._call("POST", route, what="download media", body=body)
        content = from_data_url(p.require_str(data, "Data", what="media download"), "media")
        mime = p.get_str(data, "Mimetype") or media.mime_type
        return InboundMedia(mime, media.filename, media.url, content)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """Parse a form (`jsonData=…`) or JSON webhook body into events."""
        if _is_form(headers, body):
            json_data = _form_fields(body).get("jsonData")
            if json_data is None:
                raise GatewayResponseError("The wuzapi webhook form has no jsonData field")
            event = p.load_json(json_data, "wuzapi webhook jsonData")
        else:
            event = p.load_json(body, "wuzapi webhook body")
        if not isinstance(event, dict):
            raise GatewayResponseError("The wuzapi webhook body is not a JSON object")
        return self._events_from(event)

    def _events_from(self, event: dict[str, Any]) -> list[InboundEvent]:
        event_type = p.require_str(event, "type", what="webhook").lower()
        inner = p.get(event, "event")
        if event_type == "message":
            message = self._message_from(event, inner)
            return [message] if message else []
        if event_type in ("readreceipt", "receipt"):
            update = _receipt_from(event, inner)
            return [update] if update else []
        if event_type == "qr":
            qr_text = p.get_str(event, "qrCodeBase64")
            qr = LoginQr(image=from_data_url(qr_text, "QR code")) if qr_text else None
            return [SessionEvent(SessionState.PAIRING, reason="qr", qr=qr)]
        if event_type == "pairsuccess":
            return [
                SessionEvent(
                    SessionState.CONNECTING,
                    reason="paired",
                    phone=phone_of(p.get_str(inner, "ID")),
                    lid=lid_of(p.get_str(inner, "LID")),
                )
            ]
        if event_type in _SESSION_EVENTS:
            reason = p.get_str(event, "reason", "error") or p.get_str(inner, "Reason")
            return [SessionEvent(_SESSION_EVENTS[event_type], reason=reason or event_type)]
        if event_type in ("calloffer", "callterminate"):
            call = _call_from(inner, ended=event_type == "callterminate")
            return [call] if call else []
        # Presence, typing, history sync and the like are of no use to Home Assistant.
        return []

    def _message_from(self, event: dict[str, Any], inner: Any) -> IncomingMessage | None:
        info = p.get_dict(inner, "Info")
        vote = p.get_dict(event, "pollVote")
        content = _vote_from(vote) if vote else read_content(p.get_dict(inner, "Message"))
        if content is None:
            return None
        message_id = p.require_str(info, "ID", what="message")
        chat = p.require_str(info, "Chat", what="message")
        sender_id = p.get_str(info, "Sender") or chat
        sender_alt = p.get_str(info, "SenderAlt")
        self._remember_sender(message_id, sender_id)
        return IncomingMessage(
            message_id=message_id,
            chat_id=canonical_jid(chat),
            sender=phone_of(sender_id) or phone_of(sender_alt),
            sender_lid=lid_of(sender_id, sender_alt),
            sender_id=sender_id,
            sender_name=p.get_str(info, "PushName"),
            is_group=p.get_bool(info, "IsGroup") or chat.endswith("@g.us"),
            from_me=p.get_bool(info, "IsFromMe"),
            kind=content.kind,
            timestamp=p.parse_timestamp(p.get(info, "Timestamp")) or datetime.now(UTC),
            text=content.text,
            caption=content.caption,
            media=_media_from(event, content.part, content.kind)
            if content.kind in MEDIA_MESSAGE_KINDS
            else None,
            location=content.location,
            contact=content.contact,
            quoted_message_id=content.quoted_message_id,
            mentions=content.mentions,
            poll=content.poll,
            raw=event,
        )

    def _remember_sender(self, message_id: str, sender_id: str) -> None:
        self._senders[message_id] = sender_id
        self._senders.move_to_end(message_id)
        while len(self._senders) > _REMEMBERED_SENDERS:
            self._senders.popitem(last=False)


class InlineMediaDropper(WebhookBodyReader):
    """Reads a wuzapi post; over the limit, drops the value of its top-level `base64` field.

    Go writes the event map with sorted keys, so `base64` comes before `event`: the media is
    at the front and everything else follows it. The signature covers the whole body, so for
    a body that is cut it is computed while reading.
    """

    def __init__(self, limit: int, *, form: bool, hmac_key: str | None) -> None:
        """A form (`jsonData=…`, percent-encoded) or a JSON post, signed with the key if any."""
        super().__init__(limit)
        quote = b"%22" if form else b'"'
        self._marker = quote + b"base64" + quote + (b"%3A" if form else b":") + quote
        self._end = quote
        self._hmac_key = hmac_key
        # Only a body that gets cut is signed here; a whole one is verified as usual.
        self._hmac: hmac.HMAC | None = None
        self._skipping = False
        self._carry = b""
        self.dropped = False

    def feed(self, chunk: bytes) -> None:
        """The next part of the body."""
        if self._hmac is not None:
            self._hmac.update(chunk)
        if self._skipping:
            self._skip(chunk)
        else:
            super().feed(chunk)

    def _over_limit(self) -> None:
        if self.dropped or (start := self._body.find(self._marker)) < 0:
            super()._over_limit()
            return
        if self._hmac_key:
            # Everything read so far is still here; what follows is added as it comes.
            self._hmac = hmac.new(self._hmac_key.encode(), bytes(self._body), "sha256")
        start += len(self._marker)
        rest = bytes(self._body[start:])
        del self._body[start:]
        self.dropped = self._skipping = True
        self._skip(rest)

    def _skip(self, chunk: bytes) -> None:
        data = self._carry + chunk
        if (end := data.find(self._end)) < 0:
            # The closing quote may be split between two chunks.
            self._carry = data[-(len(self._end) - 1) :] if len(self._end) > 1 else b""
            return
        self._skipping, self._carry = False, b""
        super().feed(data[end:])

    def signature_valid(self, headers: Mapping[str, str]) -> bool | None:
        """For a cut body: whether the whole one (media included) was signed right."""
        if not self.dropped or self._hmac is None:
            return None
        given = (p.get_header(headers, SIGNATURE_HEADER) or "").strip().lower().encode()
        return hmac.compare_digest(given, self._hmac.hexdigest().encode())


def _wire_target(chat: ChatId) -> str:
    """wuzapi takes bare digits for people and the full JID for groups and LIDs."""
    return chat.phone or chat.jid()


def _content_type(headers: Mapping[str, str]) -> str:
    return (p.get_header(headers, "Content-Type") or "").lower()


def _is_form(headers: Mapping[str, str], body: bytes) -> bool:
    if content_type := _content_type(headers):
        return content_type.startswith(FORM_CONTENT_TYPE)
    return not body.lstrip().startswith((b"{", b"["))


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise GatewayResponseError("The wuzapi webhook form is not UTF-8") from err
    # yarl's query decoder (in C) reads a form as parse_qs does, several times faster: this is
    # every incoming message's path.
    fields: dict[str, str] = {}
    for key, value in URL.build(query_string=text, encoded=True).query.items():
        fields.setdefault(key, value)
    return fields


def _media_from(event: dict[str, Any], part: dict[str, Any], kind: MessageKind) -> InboundMedia:
    """Inline base64 or an S3 URL when the server embedded them, else how to download it."""
    s3 = p.get_dict(event, "s3")
    inline = p.get_str(event, "base64")
    data = decode_base64(inline) if inline else None
    mime = p.get_str(event, "mimeType") or p.get_str(part, "mimetype")
    download: dict[str, Any] | None = None
    if data is None and (p.get_str(part, "directPath") or p.get_str(part, "URL")):
        download = {
            "route": f"/chat/download{_DOWNLOAD_ROUTES[kind]}",
            "body": {
                "Url": p.get_str(part, "URL") or "",
                "DirectPath": p.get_str(part, "directPath") or "",
                "MediaKey": p.get_str(part, "mediaKey") or "",
                "Mimetype": p.get_str(part, "mimetype") or "",
                "FileEncSHA256": p.get_str(part, "fileEncSHA256") or "",
                "FileSHA256": p.get_str(part, "fileSHA256") or "",
                "FileLength": int(p.get_float(part, "fileLength") or 0),
            },
        }
    return InboundMedia(
        mime_type=mime,
        filename=p.get_str(event, "fileName") or p.get_str(part, "fileName"),
        url=p.get_str(s3, "url"),
        data=data,
        download=download,
    )


def _check_old_build_media(media: OutgoingMedia, reply_to: str | None) -> None:
    """What a May-2025 build cannot send (its handlers panic or refuse)."""
    if reply_to and media.kind not in _OLD_BUILD_REPLY_KINDS:
        raise GatewayUnsupported(
            f"this wuzapi version (a May-2025 build) cannot send a {media.kind} as a reply; "
            "update wuzapi, or send it without replying"
        )
    if media.kind in (MediaKind.AUDIO, MediaKind.VOICE) and not media.mime_type.lower().startswith(
        "audio/ogg"
    ):
        raise GatewayUnsupported(
            "this wuzapi version (a May-2025 build) sends audio only as OGG/Opus voice notes; "
            f"convert the {media.mime_type} file, or update wuzapi"
        )


def _vote_from(vote: dict[str, Any]) -> MessageContent | None:
    """A poll vote, which newer builds decrypt into the webhook's `pollVote`.

    The options are named where wuzapi still remembers the poll it sent (not after its
    restart, nor for polls from others); the hashes always come.
    """
    poll_id = p.get_str(vote, "pollCreationMsgID")
    if poll_id is None:
        return None
    poll = Poll(
        selected=_strings(p.get(vote, "selectedOptions")),
        selected_hashes=_strings(p.get(vote, "selectedHashesB64")),
    )
    return MessageContent(MessageKind.POLL_VOTE, vote, quoted_message_id=poll_id, poll=poll)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _call_from(inner: Any, *, ended: bool) -> IncomingCall | None:
    """whatsmeow's CallOffer or CallTerminate: the call's id and who calls."""
    caller = p.get_str(inner, "CallCreator", "From")
    call_id = p.get_str(inner, "CallID")
    if caller is None or call_id is None:
        return None
    return IncomingCall(
        call_id=call_id,
        caller=phone_of(caller) or phone_of(p.get_str(inner, "CallCreatorAlt")),
        caller_id=canonical_jid(caller),
        ended=ended,
        timestamp=p.parse_timestamp(p.get(inner, "Timestamp")),
    )


def _receipt_from(event: dict[str, Any], inner: Any) -> MessageStatusUpdate | None:
    state = p.get_str(event, "state")
    key = state.lower() if state else (p.get_str(inner, "Type") or "")
    status = _RECEIPT_STATES.get(key.lower())
    ids = p.get(inner, "MessageIDs")
    if status is None or not isinstance(ids, list):
        return None
    message_ids = tuple(item for item in ids if isinstance(item, str) and item)
    if not message_ids:
        return None
    chat = p.get_str(inner, "Chat")
    return MessageStatusUpdate(
        message_ids=message_ids,
        chat_id=canonical_jid(chat) if chat else None,
        status=status,
        timestamp=p.parse_timestamp(p.get(inner, "Timestamp")),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WuzapiOptions(GatewayOptions):
    """The server's address and the user's token (the admin token only to manage users)."""

    token: str | None = field(default=None, metadata=PRIVATE)
    admin_token: str | None = field(default=None, metadata=PRIVATE)

    def configuration_url(self) -> str:
        """The server itself (it serves a dashboard)."""
        return self.url


async def _user_token(session: aiohttp.ClientSession, values: dict[str, str]) -> dict[str, str]:
    """A user token as typed in, or one of a new user made with the admin token.

    The admin token is not kept: an account only needs its own user's token.
    """
    admin_token = values.pop("admin_token", None)
    if values.get("token"):
        return values
    if not admin_token:
        raise CredentialsIncomplete("token_required")
    admin = WuzapiGateway(session, values["url"], admin_token=admin_token)
    user = await admin.create_user(f"home-assistant-{secrets.token_hex(3)}")
    return {**values, "token": user.token}


DESCRIPTOR: Final = GatewayDescriptor(
    gateway=WuzapiGateway,
    name="wuzapi",
    cloud=False,
    options=WuzapiOptions,
    credentials=(
        CredentialField("url", FieldType.URL),
        CredentialField("token", FieldType.PASSWORD, required=False),
        CredentialField("admin_token", FieldType.PASSWORD, required=False),
    ),
    build=lambda session, options: WuzapiGateway(
        session, options.url, token=options.token, admin_token=options.admin_token
    ),
    complete=_user_token,
)

"""The simulated wuzapi server's state, and what its route groups share.

Each group of routes (admin, session, chat, the phone's control API) is a `Part` over one
`WuzapiServer`, as wuzapi's handlers all work on its one user database.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import functools
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..common import Periodic, WebhookSender, hmac_hex, json_bytes
from ..phones import qr_data_url

KNOWN_EVENTS = frozenset(
    {
        "Message",
        "UndecryptableMessage",
        "Receipt",
        "MediaRetry",
        "ReadReceipt",
        "GroupInfo",
        "JoinedGroup",
        "Picture",
        "BlocklistChange",
        "Blocklist",
        "Connected",
        "Disconnected",
        "ConnectFailure",
        "KeepAliveRestored",
        "KeepAliveTimeout",
        "QRTimeout",
        "LoggedOut",
        "ClientOutdated",
        "TemporaryBan",
        "StreamError",
        "StreamReplaced",
        "PairSuccess",
        "PairError",
        "QR",
        "QRScannedWithoutMultidevice",
        "PrivacySettings",
        "PushNameSetting",
        "UserAbout",
        "AppState",
        "AppStateSyncComplete",
        "HistorySync",
        "OfflineSyncCompleted",
        "OfflineSyncPreview",
        "LabelEdit",
        "LabelAssociationChat",
        "LabelAssociationMessage",
        "CallOffer",
        "CallAccept",
        "CallTerminate",
        "CallOfferNotice",
        "CallRelayLatency",
        "Presence",
        "ChatPresence",
        "IdentityChange",
        "CATRefreshError",
        "NewsletterJoin",
        "NewsletterLeave",
        "NewsletterMuteChange",
        "NewsletterLiveUpdate",
        "FBMessage",
        "All",
    }
)
# Event names a May-2025 build knows (user creation and Connect accept no others), and what
# it posts at all: no session events.
OLD_BUILD_EVENTS = frozenset({"Message", "ReadReceipt", "Presence", "HistorySync", "ChatPresence"})
OLD_BUILD = "2025-05"
CURRENT_BUILD = "current"
BUILDS = (OLD_BUILD, CURRENT_BUILD)
# Media kinds whose old handlers set ContextInfo on a nil message and panic on a reply.
OLD_BUILD_PANICS_ON_REPLY = frozenset(
    {"/chat/send/video", "/chat/send/audio", "/chat/send/document", "/chat/send/sticker"}
    | {"/chat/send/location", "/chat/send/contact"}
)
RECEIPTS_POSTED = frozenset({"Read", "ReadSelf", "Delivered"})
MEDIA_FIELDS = {
    "image": ("Image", "imageMessage"),
    "video": ("Video", "videoMessage"),
    "audio": ("Audio", "audioMessage"),
    "document": ("Document", "documentMessage"),
    "sticker": ("Sticker", "stickerMessage"),
}
# Chat actions that only need some fields present: path -> (required fields, auto receipts).
PLAIN_SENDS = {
    "/chat/send/text": (("Body",), True),
    "/chat/send/contact": (("Name", "Vcard"), True),
    "/chat/react": (("Body", "Id"), False),
}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "application/pdf": "pdf",
}


def envelope(data: Any, code: int = 200) -> web.Response:
    """wuzapi's success envelope."""
    return web.json_response({"code": code, "data": data, "success": True}, status=code)


def not_found() -> web.Response:
    """What Go's file server answers for a route a build does not have."""
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


def failure(code: int, error: str, details: str | None = None) -> web.Response:
    """wuzapi's error envelope."""
    body: dict[str, Any] = {"code": code, "error": error, "success": False}
    if details:
        body["details"] = details
    return web.json_response(body, status=code)


@dataclass
class WuzapiConfig:
    """How the simulated server behaves."""

    admin_token: str = "admin-token"  # noqa: S105 - a test double's default
    user_tokens: tuple[str, ...] = ("user-token",)
    webhook_format: str = "form"  # "form" or "json", like WEBHOOK_FORMAT
    # "2025-05": the May-2025 build (old status shape, `token` in forms, RFC 3339 times, no
    # HMAC, no session events, old event names, integer user ids); "current": ≈ v1.0.9.
    build: str = CURRENT_BUILD
    auto_receipts: bool = True
    qr_rotate_seconds: float = 0.0  # WhatsApp shows a new QR about every 20 s; 0 = only on request
    on_whatsapp: frozenset[str] | None = None  # None: every number has WhatsApp

    @property
    def old(self) -> bool:
        """Whether this is the May-2025 build."""
        return self.build == OLD_BUILD

    def sign_in(self, url: str) -> dict[str, str]:
        """What to enter in the integration's form, by field label."""
        return {
            "Server URL": url,
            "User token": self.user_tokens[0],
            "Admin token": self.admin_token,
        }


@dataclass
class WuzapiUser:
    """One user (WhatsApp account) with its session."""

    id: str
    name: str
    token: str
    webhook: str = ""
    events: list[str] = field(default_factory=list)
    hmac_key: str | None = None
    media_delivery: str = "base64"
    client: bool = False  # whatsmeow client object exists (connect was called)
    connected: bool = False
    jid: str = ""  # stored in the database; kept after an unlink
    paired: bool = False  # the device store holds a device (the phone is linked)
    clients: int = 0  # whatsmeow clients running for this user (more than one is a leak)
    stopping: bool = False  # old builds stop a client asynchronously
    hmac_unreadable: bool = False  # the stored key cannot be decrypted: posts go unsigned
    push_name: str = ""
    qr_payload: str = ""
    qr_serial: int = 0
    linking_code: str = ""
    linking_phone: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    chat: list[dict[str, Any]] = field(default_factory=list)  # the phone page's conversation
    # The options of the polls sent, to name those a vote chose (in memory: lost at a restart).
    polls: dict[str, list[str]] = field(default_factory=dict)

    @property
    def lid(self) -> str:
        """The account's LID (WhatsApp makes one per number; this one is made up from it)."""
        return f"{int(self.jid or 0) * 7 % 10**15:015d}@lid"

    def control_view(self) -> dict[str, Any]:
        """Everything the control API tells about the user, settings and secrets included."""
        return {
            **self.public(),
            "events": list(self.events),
            "hmac_key": self.hmac_key,
            "hmac_unreadable": self.hmac_unreadable,
            "media_delivery": self.media_delivery,
            "client": self.client,
            "linking_code": self.linking_code,
            "linking_phone": self.linking_phone,
        }

    @property
    def logged_in(self) -> bool:
        """Paired and connected."""
        return self.connected and self.paired

    @property
    def qr_data_url(self) -> str:
        """The current QR as wuzapi stores it: a PNG data URL."""
        return qr_data_url(self.qr_payload)

    def public(self) -> dict[str, Any]:
        """The user as /admin/users shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "token": self.token,
            "webhook": self.webhook,
            "events": ",".join(self.events),
            "jid": self.jid,
            "paired": self.paired,
            "clients": self.clients,
            "connected": self.connected,
            "loggedIn": self.logged_in,
            "hmac_configured": bool(self.hmac_key),
        }


class WuzapiServer:
    """The users, their sessions and webhooks: what every part of the API works on."""

    def __init__(self, config: WuzapiConfig, sender: WebhookSender) -> None:
        """Create the users whose tokens the configuration lists."""
        self.config = config
        self.sender = sender
        self.users: dict[str, WuzapiUser] = {}
        self.on_whatsapp = set(config.on_whatsapp) if config.on_whatsapp is not None else None
        self.groups: dict[str, str] = {}  # the groups the accounts are in: id → subject
        self.qr_rotation = Periodic(config.qr_rotate_seconds, self._rotate_qr_codes)
        self._next_id = 1
        for index, token in enumerate(config.user_tokens):
            self.add_user(f"user{index + 1}", token, events=["All"])

    @property
    def no_session(self) -> str:
        """The error of a user without a client (the old build writes it capitalised)."""
        return "No session" if self.config.old else "no session"

    async def _rotate_qr_codes(self) -> None:
        for user in list(self.users.values()):
            if user.connected and not user.paired and user.qr_payload:
                await self.new_qr(user)

    def add_user(self, name: str, token: str, **fields: Any) -> WuzapiUser:
        """A new user in the database."""
        # Old builds number their users; newer ones give them random hex ids.
        user_id = str(self._next_id) if self.config.old else secrets.token_hex(16)
        self._next_id += 1
        user = WuzapiUser(id=user_id, name=name, token=token, **fields)
        self.users[user.id] = user
        return user

    def authenticate(self, request: web.Request) -> WuzapiUser | None:
        """The user whose token the request carries."""
        token = request.headers.get("Token") or request.query.get("token") or ""
        for user in self.users.values():
            if token and hmac.compare_digest(user.token, token):
                return user
        return None

    def control_user(self, request: web.Request) -> WuzapiUser:
        """The user a control route names by id, token or name."""
        key = request.match_info["id"]
        for user in self.users.values():
            if key in (user.id, user.token, user.name):
                return user
        raise web.HTTPNotFound(text=f"no wuzapi user {key}")

    def stop_client(self, user: WuzapiUser) -> None:
        """The user's whatsmeow clients are gone."""
        user.stopping = False
        user.client = user.connected = False
        user.clients = 0

    async def emit(self, user: WuzapiUser, event: dict[str, Any]) -> None:
        """Post an event to the user's webhook if subscribed, in the configured format."""
        if not user.webhook:
            return
        if event["type"] not in user.events and "All" not in user.events:
            return
        if self.config.old and event["type"] not in OLD_BUILD_EVENTS:
            return  # old builds post no session events
        headers: dict[str, str] = {}
        if self.config.webhook_format == "json":
            body = json_bytes({**event, "userID": user.id, "instanceName": user.name})
            content_type = "application/json"
        else:
            fields = {"jsonData": json_bytes(event).decode()}
            if self.config.old:
                fields["token"] = user.token
            else:
                fields |= {"userID": user.id, "instanceName": user.name}
            body = urlencode(sorted(fields.items())).encode()
            content_type = "application/x-www-form-urlencoded"
        if user.hmac_key and not self.config.old and not user.hmac_unreadable:
            headers["x-hmac-signature"] = hmac_hex(user.hmac_key, body)
        await self.sender.post("wuzapi", user.webhook, body, content_type, headers)

    async def new_qr(self, user: WuzapiUser) -> None:
        """WhatsApp hands out the next QR code."""
        user.qr_serial += 1
        user.qr_payload = f"2@{secrets.token_urlsafe(24)},{user.id},{user.qr_serial}"
        await self.emit(user, {"type": "QR", "event": "code", "qrCodeBase64": user.qr_data_url})

    async def pair(self, user: WuzapiUser, phone: str, name: str) -> None:
        """The phone linked the device."""
        user.jid = phone
        user.paired = True
        user.push_name = name
        user.qr_payload = ""
        user.linking_code = ""
        pair_event = {
            "ID": f"{phone}:12@s.whatsapp.net",
            "LID": f"{user.lid.removesuffix('@lid')}:12@lid",
            "BusinessName": "",
            "Platform": "android",
        }
        await self.emit(user, {"type": "PairSuccess", "event": pair_event})
        await self.emit(user, {"type": "Connected", "event": {}})

    def unlink(self, user: WuzapiUser) -> None:
        """The device is gone; the database keeps the old jid."""
        user.paired = False
        user.qr_payload = ""
        self.stop_client(user)


class Part:
    """One group of the server's routes."""

    def __init__(self, server: WuzapiServer) -> None:
        """Serve over the shared server state."""
        self.server = server

    @property
    def config(self) -> WuzapiConfig:
        """How the server behaves."""
        return self.server.config

    def routes(self) -> list[web.RouteDef]:
        """The group's routes."""
        raise NotImplementedError


type Route[P: Part] = Callable[[P, web.Request], Awaitable[web.Response]]
type UserHandler[P: Part] = Callable[[P, web.Request, WuzapiUser], Awaitable[web.Response]]
type SendHandler[P: Part] = Callable[
    [P, web.Request, WuzapiUser, dict[str, Any]], Awaitable[web.Response]
]


def user_route[P: Part](handler: UserHandler[P]) -> Route[P]:
    """Authenticate the user by its token header (or ?token=) before the handler runs."""

    @functools.wraps(handler)
    async def route(self: P, request: web.Request) -> web.Response:
        user = self.server.authenticate(request)
        if user is None:
            return failure(401, "Unauthorized" if self.config.old else "unauthorized")
        return await handler(self, request, user)

    return route


def admin_route[P: Part](handler: Route[P]) -> Route[P]:
    """Check the admin token in the Authorization header before the handler runs."""

    @functools.wraps(handler)
    async def route(self: P, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), self.config.admin_token.encode()):
            return failure(401, "unauthorized")
        return await handler(self, request)

    return route


def send_route[P: Part](*, need_phone: bool) -> Callable[[SendHandler[P]], Route[P]]:
    """Checks wuzapi makes before any chat action: user, live session, JSON body, Phone."""

    def decorate(handler: SendHandler[P]) -> Route[P]:
        @functools.wraps(handler)
        async def checked(self: P, request: web.Request, user: WuzapiUser) -> web.Response:
            if not user.client:
                return failure(500, self.server.no_session)
            if not user.paired:
                return failure(
                    500, "failed to send message: the store doesn't contain a device JID"
                )
            if not user.connected:
                return failure(500, "not connected")
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return failure(400, "could not decode Payload")
            if need_phone and (not isinstance(body.get("Phone"), str) or not body["Phone"]):
                return failure(400, "missing Phone in Payload")
            return await handler(self, request, user, body)

        return user_route(checked)

    return decorate


def parse_events(value: Any) -> tuple[list[str], str | None]:
    """Event names from a list or a comma separated string, or what is wrong with them."""
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",") if name.strip()]
    elif isinstance(value, list):
        names = [str(name) for name in value]
    else:
        return [], "invalid event: events must be a list or a comma separated string"
    for name in names:
        if name not in KNOWN_EVENTS:
            return [], f"invalid event: {name}"
    return names, None


def jid(value: str) -> str:
    """A number as a person's JID; a JID as it is."""
    return value if "@" in value else f"{value}@s.whatsapp.net"


def decode_data_url(value: str) -> bytes | None:
    """The bytes of a base64 data URL, or None."""
    if not value.startswith("data:") or ";base64," not in value:
        return None
    try:
        return base64.b64decode(value.split(";base64,", 1)[1], validate=True)
    except binascii.Error, ValueError:
        return None

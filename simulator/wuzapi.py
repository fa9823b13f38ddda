"""Simulated wuzapi server (asternic/wuzapi), following docs/reference/gateway-contracts.md §1."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import functools
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from .common import Periodic, WebhookSender, hmac_hex, json_bytes, message_id, now, read_json
from .qr import qr_png

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
        if not self.qr_payload:
            return ""
        return "data:image/png;base64," + base64.b64encode(qr_png(self.qr_payload)).decode()

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


type Route = Callable[[WuzapiSimulator, web.Request], Awaitable[web.Response]]
type UserHandler = Callable[[WuzapiSimulator, web.Request, WuzapiUser], Awaitable[web.Response]]
type SendHandler = Callable[
    [WuzapiSimulator, web.Request, WuzapiUser, dict[str, Any]], Awaitable[web.Response]
]


def user_route(handler: UserHandler) -> Route:
    """Authenticate the user by its token header (or ?token=) before the handler runs."""

    @functools.wraps(handler)
    async def route(self: WuzapiSimulator, request: web.Request) -> web.Response:
        user = self.authenticate(request)
        if user is None:
            return failure(401, "Unauthorized" if self.config.old else "unauthorized")
        return await handler(self, request, user)

    return route


def admin_route(handler: Route) -> Route:
    """Check the admin token in the Authorization header before the handler runs."""

    @functools.wraps(handler)
    async def route(self: WuzapiSimulator, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), self.config.admin_token.encode()):
            return failure(401, "unauthorized")
        return await handler(self, request)

    return route


def send_route(*, need_phone: bool) -> Callable[[SendHandler], Route]:
    """Checks wuzapi makes before any chat action: user, live session, JSON body, Phone."""

    def decorate(handler: SendHandler) -> Route:
        @functools.wraps(handler)
        async def checked(
            self: WuzapiSimulator, request: web.Request, user: WuzapiUser
        ) -> web.Response:
            if not user.client:
                return failure(500, self.no_session)
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


class WuzapiSimulator:
    """In-memory wuzapi: REST routes, webhook deliveries and a control API for the phone side."""

    def __init__(self, config: WuzapiConfig, sender: WebhookSender) -> None:
        """Create the users whose tokens the configuration lists."""
        self.config = config
        self.sender = sender
        self.users: dict[str, WuzapiUser] = {}
        self.on_whatsapp = set(config.on_whatsapp) if config.on_whatsapp is not None else None
        self.qr_rotation = Periodic(config.qr_rotate_seconds, self._rotate_qr_codes)
        self._next_id = 1
        for index, token in enumerate(config.user_tokens):
            self._add_user(f"user{index + 1}", token, events=["All"])

    @property
    def no_session(self) -> str:
        """The error of a user without a client (the old build writes it capitalised)."""
        return "No session" if self.config.old else "no session"

    async def _rotate_qr_codes(self) -> None:
        for user in list(self.users.values()):
            if user.connected and not user.paired and user.qr_payload:
                await self._new_qr(user)

    def _add_user(self, name: str, token: str, **fields: Any) -> WuzapiUser:
        # Old builds number their users; newer ones give them random hex ids.
        user_id = str(self._next_id) if self.config.old else secrets.token_hex(16)
        self._next_id += 1
        user = WuzapiUser(id=user_id, name=name, token=token, **fields)
        self.users[user.id] = user
        return user

    def routes(self) -> list[web.RouteDef]:
        """Every route of the product and of its control API."""
        r = web
        return [
            r.get("/admin/users", self.list_users),
            r.post("/admin/users", self.add_user),
            r.post("/session/connect", self.connect),
            r.get("/session/status", self.status),
            r.get("/session/qr", self.qr),
            r.post("/session/pairphone", self.pairphone),
            r.post("/session/disconnect", self.disconnect),
            r.post("/session/logout", self.logout),
            r.post("/session/hmac/config", self.set_hmac),
            r.get("/session/hmac/config", self.get_hmac),
            r.post("/session/s3/config", self.set_s3),
            r.get("/session/s3/config", self.get_s3),
            r.post("/webhook", self.set_webhook),
            r.get("/webhook", self.get_webhook),
            *(r.post(path, self.send_plain) for path in PLAIN_SENDS),
            *(r.post(f"/chat/send/{kind}", self.send_media) for kind in MEDIA_FIELDS),
            r.post("/chat/send/location", self.send_location),
            r.post("/chat/markread", self.markread),
            *(r.post(f"/chat/download{kind}", self.download) for kind in MEDIA_FIELDS),
            r.post("/user/check", self.check),
            r.get("/__emulator/wuzapi/users", self.control_users),
            r.post("/__emulator/wuzapi/users/{id}/scan", self.control_scan),
            r.post("/__emulator/wuzapi/users/{id}/link_code", self.control_link_code),
            r.post("/__emulator/wuzapi/users/{id}/rotate_qr", self.control_rotate_qr),
            r.post("/__emulator/wuzapi/users/{id}/qr_timeout", self.control_qr_timeout),
            r.post("/__emulator/wuzapi/users/{id}/inbound", self.control_inbound),
            r.post("/__emulator/wuzapi/users/{id}/receipt", self.control_receipt),
            r.post("/__emulator/wuzapi/users/{id}/drop_socket", self.control_drop),
            r.post("/__emulator/wuzapi/users/{id}/reconnect", self.control_reconnect),
            r.post("/__emulator/wuzapi/users/{id}/logout_from_phone", self.control_logout),
            r.post("/__emulator/wuzapi/users/{id}/protocol_noise", self.control_noise),
            r.post("/__emulator/wuzapi/users/{id}/lose_hmac_key", self.control_lose_hmac_key),
            r.post("/__emulator/wuzapi/users/{id}/settings", self.control_settings),
            r.post("/__emulator/wuzapi/users/{id}/qr_pending", self.control_qr_pending),
            r.post("/__emulator/wuzapi/restart", self.control_restart),
            r.get("/__emulator/wuzapi/users/{id}/sent", self.control_sent),
            r.get("/__emulator/wuzapi/users/{id}/chat", self.control_chat),
            r.post("/__emulator/wuzapi/on_whatsapp", self.control_on_whatsapp),
        ]

    # Authentication

    def authenticate(self, request: web.Request) -> WuzapiUser | None:
        """The user whose token the request carries."""
        token = request.headers.get("Token") or request.query.get("token") or ""
        for user in self.users.values():
            if token and hmac.compare_digest(user.token, token):
                return user
        return None

    def _control_user(self, request: web.Request) -> WuzapiUser:
        key = request.match_info["id"]
        for user in self.users.values():
            if key in (user.id, user.token, user.name):
                return user
        raise web.HTTPNotFound(text=f"no wuzapi user {key}")

    # Admin

    @admin_route
    async def list_users(self, request: web.Request) -> web.Response:
        """GET /admin/users."""
        return envelope([user.public() for user in self.users.values()])

    @admin_route
    async def add_user(self, request: web.Request) -> web.Response:
        """POST /admin/users."""
        body = await read_json(request)
        name, token = body.get("name"), body.get("token")
        if not isinstance(name, str) or not name or not isinstance(token, str) or not token:
            return failure(400, "missing name or token")
        if any(user.token == token for user in self.users.values()):
            text = "user with this token already exists"
            return failure(
                409, "User with the same token already exists" if self.config.old else text
            )
        if self.config.old:
            return self._add_old_build_user(name, token, body)
        events, error = _parse_events(body.get("events", ""))
        if error:
            return failure(400, "invalid event type", error)
        s3 = body.get("s3Config")
        s3 = s3 if isinstance(s3, dict) else {}
        user = self._add_user(
            name,
            token,
            webhook=str(body.get("webhook") or ""),
            events=events,
            hmac_key=body.get("hmacKey") or None,
            media_delivery=str(s3.get("mediaDelivery", "")),
        )
        data = {
            "id": user.id,
            "name": user.name,
            "token": user.token,
            "webhook": user.webhook,
            "events": ",".join(user.events),
            "osname": body.get("osname", ""),
            "hmac_key": bool(user.hmac_key),
        }
        return envelope(data, 201)

    def _add_old_build_user(self, name: str, token: str, body: dict[str, Any]) -> web.Response:
        """May-2025 AddUser: a comma separated string of old names; hmacKey, s3Config ignored."""
        events = body.get("events", "")
        if not isinstance(events, str):
            return failure(
                400, "Incomplete data in Payload. Required name, token, webhook, expiration, events"
            )
        names = [event.strip() for event in events.split(",") if event.strip()]
        for event in names:
            if event not in OLD_BUILD_EVENTS | {"All"}:
                return failure(400, f"Invalid event: {event}")
        user = self._add_user(name, token, webhook=str(body.get("webhook") or ""), events=names)
        # Not enveloped, as text/plain.
        return web.Response(text=f'{{"id":{user.id}}}', content_type="text/plain")

    @user_route
    async def connect(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/connect.

        Newer builds start another whatsmeow client unless one exists and is connected (so a
        connect during whatsmeow's own reconnect leaks one); old builds refuse while a client
        exists, even one still stopping.
        """
        if user.client and (user.connected or self.config.old):
            return failure(500, "Already Connected" if self.config.old else "already connected")
        body = await read_json(request)
        subscribe = body.get("Subscribe")
        if isinstance(subscribe, list):
            if self.config.old:
                # Unknown names are dropped without a word; an empty list means All.
                known = OLD_BUILD_EVENTS | {"All"}
                user.events = [str(name) for name in subscribe if name in known] or (
                    [] if subscribe else ["All"]
                )
            else:
                events, error = _parse_events(subscribe)
                if error:
                    return failure(400, "invalid event type", error)
                # Newer builds store what they are given, even an empty list.
                user.events = events
        user.clients += 1
        user.client = True
        user.connected = True
        if user.paired:
            await self._emit(user, {"type": "Connected", "event": {}})
        else:
            await self._new_qr(user)
        return envelope(
            {
                "details": "Connected!",
                "events": ",".join(user.events),
                "jid": user.jid,
                "webhook": user.webhook,
            }
        )

    @user_route
    async def status(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /session/status in the old or the new shape."""
        if self.config.old:
            if user.stopping:
                # The asynchronous kill is done by the time the next request comes.
                self._stop_client(user)
                return envelope({"Connected": True, "LoggedIn": user.paired})
            if not user.client:
                return failure(500, self.no_session)
            return envelope({"Connected": user.connected, "LoggedIn": user.logged_in})
        return envelope(
            {
                "id": user.id,
                "name": user.name,
                "connected": user.connected,
                "loggedIn": user.logged_in,
                "token": user.token,
                "jid": f"{user.jid}:12@s.whatsapp.net" if user.jid else "",
                "webhook": user.webhook,
                "events": ",".join(user.events),
                "qrcode": user.qr_data_url if user.connected and not user.paired else "",
                "hmac_configured": bool(user.hmac_key),
            }
        )

    @user_route
    async def qr(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /session/qr."""
        if not user.client:
            return failure(500, self.no_session)
        if not user.connected:
            return failure(500, "not connected")
        if user.paired:
            return failure(500, "Already Loggedin" if self.config.old else "already logged in")
        return envelope({"QRCode": user.qr_data_url})

    @user_route
    async def pairphone(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/pairphone."""
        body = await read_json(request)
        phone = body.get("Phone")
        if not isinstance(phone, str) or not phone:
            return failure(400, "missing Phone in Payload")
        if user.paired:
            return failure(400, "already paired")
        if not user.connected:
            return failure(500, "not connected")
        alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"
        code = "".join(secrets.choice(alphabet) for _ in range(8))
        user.linking_code = f"{code[:4]}-{code[4:]}"
        user.linking_phone = phone
        return envelope({"LinkingCode": user.linking_code})

    @user_route
    async def disconnect(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/disconnect keeps the pairing and always clears the subscription."""
        if not user.client:
            return failure(500, self.no_session)
        if not user.logged_in:
            # Nothing is stopped: the client goes on (whatsmeow reconnecting, or the QR shown).
            text = "cannot disconnect because it is not logged in"
            return failure(500, text.capitalize() if self.config.old else text)
        user.events = []
        if self.config.old:
            user.stopping = True
        else:
            self._stop_client(user)
        return envelope({"Details": "Disconnected"})

    def _stop_client(self, user: WuzapiUser) -> None:
        user.stopping = False
        user.client = user.connected = False
        user.clients = 0

    @user_route
    async def logout(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/logout unlinks the device."""
        if not user.client:
            return failure(500, self.no_session)
        if not user.paired:
            return failure(500, "not logged in")
        self._unlink(user)
        return envelope({"Details": "Logged out"})

    @user_route
    async def set_hmac(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/hmac/config (newer builds only); a stored key is readable again."""
        if self.config.old:
            return not_found()
        key = (await read_json(request)).get("hmac_key")
        if not isinstance(key, str) or len(key) < 32:
            return failure(400, "HMAC key must be at least 32 characters long")
        user.hmac_key = key
        user.hmac_unreadable = False
        return envelope({"Details": "HMAC configuration saved successfully"})

    @user_route
    async def get_hmac(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /session/hmac/config answers without the envelope, as API.md shows."""
        if self.config.old:
            return not_found()
        return web.json_response({"hmac_key": "***" if user.hmac_key else ""})

    @user_route
    async def set_s3(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/s3/config: only media_delivery matters to the simulator."""
        if self.config.old:
            return not_found()
        delivery = (await read_json(request)).get("media_delivery", "base64")
        if delivery not in ("base64", "s3", "both"):
            return failure(400, "invalid media_delivery")
        user.media_delivery = str(delivery)
        return envelope({"Details": "S3 configuration saved successfully"})

    @user_route
    async def get_s3(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /session/s3/config."""
        if self.config.old:
            return not_found()
        return envelope({"enabled": False, "media_delivery": user.media_delivery})

    @user_route
    async def set_webhook(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /webhook (Go decodes field names case-insensitively)."""
        body = {key.lower(): value for key, value in (await read_json(request)).items()}
        url = body.get("webhookurl")
        if not isinstance(url, str) or not url:
            return failure(400, "missing webhookURL in Payload")
        if "events" in body:
            events, error = _parse_events(body["events"])
            if error:
                return failure(400, "invalid event type", error)
            user.events = events
        user.webhook = url
        return envelope({"webhook": url})

    @user_route
    async def get_webhook(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /webhook."""
        return envelope({"webhook": user.webhook, "subscribe": user.events})

    async def _sent(
        self, user: WuzapiUser, endpoint: str, body: dict[str, Any], *, receipts: bool = True
    ) -> web.Response:
        """Record an accepted send, schedule its receipts, answer like wuzapi."""
        phone = str(body["Phone"])
        context = body.get("ContextInfo")
        if isinstance(context, dict) and context.get("StanzaID") and not context.get("Participant"):
            return failure(400, "missing Participant in ContextInfo")
        given_id = body.get("Id")
        sent_id = given_id if isinstance(given_id, str) and given_id else message_id()
        chat = _jid(phone)
        answer = {"Details": "Sent", "Timestamp": self._timestamp(), "Id": sent_id}
        if any(record["id"] == sent_id for record in user.sent):
            # WhatsApp keeps one message per id: sending it again changes nothing.
            return envelope(answer)
        user.sent.append({"endpoint": endpoint, "id": sent_id, "body": body})
        user.chat.append(_chat_line_sent(sent_id, chat, body))
        if receipts and self.config.auto_receipts:
            self.sender.later(self._auto_receipts(user, chat, sent_id))
        return envelope(answer)

    async def _auto_receipts(self, user: WuzapiUser, chat: str, sent_id: str) -> None:
        for state in ("Delivered", "Read"):
            await self._emit(user, _receipt_event(chat, [sent_id], state))

    @send_route(need_phone=True)
    async def send_plain(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """Text, contact, edit and reaction: required fields, then sent."""
        required, receipts = PLAIN_SENDS[request.path]
        for name in required:
            if not body.get(name):
                return failure(400, f"missing {name} in Payload")
        if (panic := self._old_build_panic(request, body)) is not None:
            return panic
        if request.path == "/chat/react":
            return self._react(user, body)
        return await self._sent(user, request.path, body, receipts=receipts)

    def _react(self, user: WuzapiUser, body: dict[str, Any]) -> web.Response:
        """wuzapi answers a reaction with the target's id (`me:` stripped): no id of its own."""
        target = str(body["Id"]).removeprefix("me:")
        record_body = dict(body)
        if self.config.old:
            record_body.pop("Participant", None)  # old react has no Participant
        user.sent.append({"endpoint": "/chat/react", "id": None, "body": record_body})
        return envelope({"Details": "Sent", "Timestamp": self._timestamp(), "Id": target})

    def _timestamp(self) -> int | str:
        """A send's time: RFC 3339 in the old build, Unix seconds in newer ones."""
        stamp = now()
        return stamp.isoformat(timespec="seconds") if self.config.old else int(stamp.timestamp())

    def _old_build_panic(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        """Old handlers other than text and image dereference a nil message on a reply."""
        context = body.get("ContextInfo")
        replying = isinstance(context, dict) and (
            context.get("StanzaID") or context.get("MentionedJID")
        )
        if not (self.config.old and replying and request.path in OLD_BUILD_PANICS_ON_REPLY):
            return None
        # Go recovers the panic and closes the connection without an answer.
        if request.transport is not None:
            request.transport.close()
        raise web.HTTPInternalServerError

    @send_route(need_phone=True)
    async def send_media(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/send/{image,video,audio,document,sticker}."""
        kind = request.path.rsplit("/", 1)[1]
        field_name = MEDIA_FIELDS[kind][0]
        data = body.get(field_name)
        if not isinstance(data, str) or not data:
            return failure(400, f"missing {field_name} in Payload")
        if (panic := self._old_build_panic(request, body)) is not None:
            return panic
        if self.config.old and kind == "audio" and not data.startswith("data:audio/ogg"):
            return failure(400, 'Audio data should start with "data:audio/ogg;base64,"')
        if kind == "document":
            if not body.get("FileName"):
                return failure(400, "missing FileName in Payload")
            if self.config.old and not data.startswith("data:application/octet-stream"):
                return failure(
                    400, 'Document data should start with "data:application/octet-stream;base64,"'
                )
        if data.startswith(("http://", "https://")):
            if self.config.old:
                return failure(400, f"{field_name} data should start with data:")
        elif _decode_data_url(data) is None:
            return failure(400, "could not decode base64 encoded data from payload")
        return await self._sent(user, request.path, body)

    @send_route(need_phone=True)
    async def send_location(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/send/location (zero coordinates are rejected, as in wuzapi)."""
        for name in ("Latitude", "Longitude"):
            if not isinstance(body.get(name), int | float) or not body[name]:
                return failure(400, f"missing {name} in Payload")
        if (panic := self._old_build_panic(request, body)) is not None:
            return panic
        return await self._sent(user, request.path, body)

    @send_route(need_phone=False)
    async def markread(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/markread."""
        ids = body.get("Id")
        if not isinstance(ids, list) or not ids:
            return failure(400, "missing Id in Payload")
        if not body.get("Chat") and not body.get("ChatPhone"):
            return failure(400, "missing Chat in Payload")
        user.sent.append({"endpoint": request.path, "id": None, "body": body})
        return envelope({"Details": "Message(s) marked as read"})

    @send_route(need_phone=False)
    async def download(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/download*: media the simulator put into an inbound message.

        The May-2025 build has no /chat/downloadsticker.
        """
        if self.config.old and request.path.endswith("sticker"):
            return not_found()
        path = str(body.get("DirectPath") or urlsplit(str(body.get("Url") or "")).path)
        stored = user.media.get(path)
        if stored is None:
            return failure(500, "failed to download media")
        mime, data = stored
        encoded = base64.b64encode(data).decode()
        return envelope({"Mimetype": mime, "Data": f"data:{mime};base64,{encoded}"})

    @send_route(need_phone=False)
    async def check(
        self, request: web.Request, _user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /user/check."""
        phones = body.get("Phone")
        if not isinstance(phones, list) or not phones:
            return failure(400, "missing Phone in Payload")
        users = []
        for phone in phones:
            digits = "".join(ch for ch in str(phone) if ch.isdigit())
            # whatsmeow's IsOnWhatsApp finds nobody without the international "+".
            known = self.on_whatsapp is None or digits in self.on_whatsapp
            found = str(phone).startswith("+") and known
            users.append(
                {
                    "Query": str(phone),
                    "IsInWhatsapp": found,
                    "JID": f"{digits}@s.whatsapp.net" if found else "",
                    "VerifiedName": "",
                }
            )
        return envelope({"Users": users})

    # Webhooks

    async def _emit(self, user: WuzapiUser, event: dict[str, Any]) -> None:
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

    async def _new_qr(self, user: WuzapiUser) -> None:
        user.qr_serial += 1
        user.qr_payload = f"2@{secrets.token_urlsafe(24)},{user.id},{user.qr_serial}"
        await self._emit(user, {"type": "QR", "event": "code", "qrCodeBase64": user.qr_data_url})

    async def _pair(self, user: WuzapiUser, phone: str, name: str) -> None:
        user.jid = phone
        user.paired = True
        user.push_name = name
        user.qr_payload = ""
        user.linking_code = ""
        pair_event = {
            "ID": f"{phone}:12@s.whatsapp.net",
            "LID": f"{int(phone) * 7 % 10**15:015d}:12@lid",
            "BusinessName": "",
            "Platform": "android",
        }
        await self._emit(user, {"type": "PairSuccess", "event": pair_event})
        await self._emit(user, {"type": "Connected", "event": {}})

    def _unlink(self, user: WuzapiUser) -> None:
        """The device is gone; the database keeps the old jid."""
        user.paired = False
        user.qr_payload = ""
        self._stop_client(user)

    # Control API (the phone side)

    async def control_users(self, request: web.Request) -> web.Response:
        """All users with their state."""
        return web.json_response([user.control_view() for user in self.users.values()])

    async def control_scan(self, request: web.Request) -> web.Response:
        """The phone scans the QR code currently shown."""
        user = self._control_user(request)
        body = await read_json(request)
        if not user.connected or user.paired or not user.qr_payload:
            raise web.HTTPConflict(text="this user is not showing a QR code")
        if body.get("qr") not in (None, user.qr_payload):
            raise web.HTTPConflict(text="that QR code has expired")
        await self._pair(user, str(body.get("phone", "491700000001")), str(body.get("name", "")))
        return web.json_response(user.public())

    async def control_link_code(self, request: web.Request) -> web.Response:
        """The phone enters the pairing code."""
        user = self._control_user(request)
        body = await read_json(request)
        if not user.linking_code or body.get("code") != user.linking_code:
            raise web.HTTPConflict(text="wrong or no pairing code")
        await self._pair(user, user.linking_phone, str(body.get("name", "")))
        return web.json_response(user.public())

    async def control_rotate_qr(self, request: web.Request) -> web.Response:
        """WhatsApp rotates the QR code (about every 20 s on a real server)."""
        user = self._control_user(request)
        if not user.connected or user.paired:
            raise web.HTTPConflict(text="this user is not showing a QR code")
        await self._new_qr(user)
        return web.json_response({"qr": user.qr_payload})

    async def control_qr_timeout(self, request: web.Request) -> web.Response:
        """Nobody scanned in time: the client is destroyed."""
        user = self._control_user(request)
        self._stop_client(user)
        user.qr_payload = ""
        await self._emit(user, {"type": "QRTimeout", "event": "timeout"})
        return web.json_response(user.public())

    async def control_drop(self, request: web.Request) -> web.Response:
        """The socket to WhatsApp drops."""
        user = self._control_user(request)
        user.connected = False
        await self._emit(user, {"type": "Disconnected", "event": {}})
        return web.json_response(user.public())

    async def control_reconnect(self, request: web.Request) -> web.Response:
        """The socket comes back."""
        user = self._control_user(request)
        user.client = user.connected = True
        await self._emit(user, {"type": "Connected", "event": {}})
        return web.json_response(user.public())

    async def control_logout(self, request: web.Request) -> web.Response:
        """The device is removed under Linked devices on the phone."""
        user = self._control_user(request)
        self._unlink(user)
        await self._emit(user, {"type": "LoggedOut", "event": {"OnConnect": False, "Reason": 0}})
        return web.json_response(user.public())

    async def control_qr_pending(self, request: web.Request) -> web.Response:
        """The client runs but WhatsApp has not handed out its first code yet."""
        user = self._control_user(request)
        user.qr_payload = ""
        return web.json_response(user.control_view())

    async def control_settings(self, request: web.Request) -> web.Response:
        """Settings as they stand in the server's database, changed by hand.

        Any of {"webhook": …, "events": […], "hmac_key": … or null, "media_delivery": …}:
        a user created or edited outside Home Assistant, or a database restored from before.
        """
        user = self._control_user(request)
        body = await read_json(request)
        if "webhook" in body:
            user.webhook = str(body["webhook"])
        if "events" in body:
            user.events = [str(event) for event in body["events"]]
        if "hmac_key" in body:
            user.hmac_key = None if body["hmac_key"] is None else str(body["hmac_key"])
        if "media_delivery" in body:
            user.media_delivery = str(body["media_delivery"])
        return web.json_response(user.control_view())

    async def control_lose_hmac_key(self, request: web.Request) -> web.Response:
        """The server cannot decrypt the stored key any more: it posts unsigned until set again.

        (The real server does so when WUZAPI_GLOBAL_ENCRYPTION_KEY is unset or changed.)
        """
        user = self._control_user(request)
        user.hmac_unreadable = True
        return web.json_response(user.public())

    async def control_restart(self, request: web.Request) -> web.Response:
        """The server restarts: no client runs until connect.

        With "forget", its database was reset too: every user lost webhook, events and key.
        """
        forget = bool((await read_json(request)).get("forget", False))
        for user in self.users.values():
            self._stop_client(user)
            if forget:
                user.webhook, user.events, user.hmac_key = "", [], None
        return web.json_response([user.public() for user in self.users.values()])

    async def control_noise(self, request: web.Request) -> web.Response:
        """A protocol message without user content, as sent right after pairing."""
        user = self._control_user(request)
        info = _info(user.jid or "491700000001", user.jid or "491700000001", message_id())
        info["IsFromMe"] = True
        message = {"protocolMessage": {"type": 5, "historySyncNotification": {"syncType": 3}}}
        await self._emit(user, {"type": "Message", "event": _message_event(info, message)})
        return web.json_response({"id": info["ID"]})

    async def control_receipt(self, request: web.Request) -> web.Response:
        """The recipient's phone reports delivery or reading."""
        user = self._control_user(request)
        body = await read_json(request)
        ids = body.get("ids") or []
        chat = _jid(str(body.get("chat", "491700000002")))
        state = str(body.get("state", "Read"))
        if state in RECEIPTS_POSTED:  # the server drops every other receipt
            await self._emit(user, _receipt_event(chat, ids, state))
        return web.json_response({"ids": ids})

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through this user."""
        return web.json_response(self._control_user(request).sent)

    async def control_chat(self, request: web.Request) -> web.Response:
        """What the phone page shows: the session, the QR and the conversation."""
        user = self._control_user(request)
        return web.json_response(
            {
                **user.public(),
                "qr": user.qr_payload,
                "qr_image": user.qr_data_url,
                "linking_code": user.linking_code,
                "chat": user.chat,
            }
        )

    async def control_on_whatsapp(self, request: web.Request) -> web.Response:
        """Which numbers /user/check reports as having WhatsApp (null: all)."""
        numbers = (await read_json(request)).get("numbers")
        self.on_whatsapp = set(map(str, numbers)) if isinstance(numbers, list) else None
        return web.json_response({"numbers": numbers})

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A contact sends a message: text, media, location, contact, reaction, poll, reply."""
        user = self._control_user(request)
        body = await read_json(request)
        sender = "".join(ch for ch in str(body.get("from", "491700000002")) if ch.isdigit())
        group = body.get("group")
        chat = str(group) if group else sender
        info = _info(_jid(chat), _jid(sender), str(body.get("id") or message_id()))
        info["PushName"] = str(body.get("name", ""))
        info["IsFromMe"] = bool(body.get("from_me", False))
        if body.get("lid"):
            # Newer WhatsApp addresses some senders by LID and puts the phone in SenderAlt.
            info["Sender"], info["SenderAlt"] = f"{int(sender) % 10**15:015d}@lid", _jid(sender)
            info["AddressingMode"] = "lid"
        kind = str(body.get("kind", "text"))
        context = None
        if body.get("reply_to"):
            context = {
                "stanzaID": str(body["reply_to"]),
                "participant": _jid(str(body.get("reply_to_sender") or user.jid or sender)),
                "quotedMessage": {"conversation": str(body.get("quoted_text", ""))},
            }
        extra: dict[str, Any] = {}
        try:
            message = self._inbound_message(user, kind, body, info, context, extra)
        except ValueError as err:
            raise web.HTTPBadRequest(text=str(err)) from None
        event = {"type": "Message", "event": _message_event(info, message), **extra}
        user.chat.append(
            {
                "direction": "in",
                "id": info["ID"],
                "chat": info["Chat"],
                "sender": _jid(sender),
                "name": info["PushName"],
                "kind": kind,
                "text": str(body.get("text") or body.get("caption") or ""),
                "time": now().isoformat(timespec="seconds"),
            }
        )
        await self._emit(user, event)
        return web.json_response({"id": info["ID"], "event": event})

    def _inbound_message(
        self,
        user: WuzapiUser,
        kind: str,
        body: dict[str, Any],
        info: dict[str, Any],
        context: dict[str, Any] | None,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        text = str(body.get("text", ""))
        if kind == "text":
            if context:
                return {"extendedTextMessage": {"text": text, "contextInfo": context}}
            return {"conversation": text}
        if kind == "location":
            info["Type"], info["MediaType"] = "media", "location"
            location: dict[str, Any] = {
                "degreesLatitude": float(body.get("latitude", 0)),
                "degreesLongitude": float(body.get("longitude", 0)),
            }
            if body.get("place"):
                location["name"] = str(body["place"])
            return {"locationMessage": location}
        if kind == "contact":
            info["Type"], info["MediaType"] = "media", "vcard"
            return {
                "contactMessage": {
                    "displayName": str(body.get("contact_name", "")),
                    "vcard": str(body.get("vcard", "")),
                }
            }
        if kind == "reaction":
            info["Type"] = "reaction"
            key = {
                "remoteJID": info["Chat"],
                "fromMe": bool(body.get("target_from_me", True)),
                "ID": str(body.get("target_id", "")),
            }
            return {
                "reactionMessage": {
                    "key": key,
                    "text": str(body.get("emoji", "👍")),
                    "senderTimestampMS": int(now().timestamp() * 1000),
                }
            }
        if kind == "poll":
            info["Type"] = "poll"
            options = [{"optionName": str(option)} for option in body.get("options", [])]
            return {"pollCreationMessageV3": {"name": text, "options": options}}
        media_kind = "audio" if kind == "voice" else kind
        if media_kind not in MEDIA_FIELDS:
            raise ValueError(f"unknown message kind {kind}")
        data = _decode_data_url(str(body.get("data", ""))) or b"simulated media"
        mime = str(body.get("mime_type", "application/octet-stream"))
        ext = EXTENSIONS.get(mime.split(";")[0], "bin")
        path = f"/v/t62.7118-24/{info['ID']}.enc"
        user.media[path] = (mime, data)
        part: dict[str, Any] = {
            "URL": f"https://mmg.whatsapp.net{path}",
            "directPath": path,
            "mimetype": mime,
            "fileLength": len(data),
            "mediaKey": base64.b64encode(secrets.token_bytes(32)).decode(),
            "fileSHA256": base64.b64encode(secrets.token_bytes(32)).decode(),
            "fileEncSHA256": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        if body.get("caption"):
            part["caption"] = str(body["caption"])
        if kind == "voice":
            part["PTT"] = True
        if media_kind == "document":
            part["fileName"] = str(body.get("filename", f"{info['ID']}.{ext}"))
        if context:
            part["contextInfo"] = context
        info["Type"], info["MediaType"] = "media", "ptt" if kind == "voice" else media_kind
        # Old builds inline all but stickers; newer ones as the user's media delivery says.
        if (self.config.old and media_kind != "sticker") or (
            not self.config.old and user.media_delivery in ("base64", "both")
        ):
            extra["base64"] = base64.b64encode(data).decode()
            extra["mimeType"] = mime
            extra["fileName"] = part.get("fileName", f"{info['ID']}.{ext}")
        if user.media_delivery in ("s3", "both"):
            extra["s3"] = {
                "url": f"https://s3.example.invalid/wuzapi/{info['ID']}.{ext}",
                "mimeType": mime,
                "size": len(data),
            }
        return {MEDIA_FIELDS[media_kind][1]: part}


def _chat_line_sent(sent_id: str, chat: str, body: dict[str, Any]) -> dict[str, Any]:
    """A message Home Assistant sent, as the phone page shows it."""
    line: dict[str, Any] = {
        "direction": "out",
        "id": sent_id,
        "chat": chat,
        "kind": "text",
        "text": str(body.get("Body") or body.get("Caption") or ""),
        "time": now().isoformat(timespec="seconds"),
    }
    for kind, (field_name, _) in MEDIA_FIELDS.items():
        if isinstance(data := body.get(field_name), str):
            line |= {"kind": kind, "media": data, "filename": str(body.get("FileName") or "")}
    if "Latitude" in body:
        line |= {"kind": "location", "text": f"{body['Latitude']}, {body['Longitude']}"}
    context = body.get("ContextInfo")
    if isinstance(context, dict) and context.get("StanzaID"):
        line["reply_to"] = str(context["StanzaID"])
    return line


def _parse_events(value: Any) -> tuple[list[str], str | None]:
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


def _jid(value: str) -> str:
    return value if "@" in value else f"{value}@s.whatsapp.net"


def _decode_data_url(value: str) -> bytes | None:
    if not value.startswith("data:") or ";base64," not in value:
        return None
    try:
        return base64.b64decode(value.split(";base64,", 1)[1], validate=True)
    except binascii.Error, ValueError:
        return None


def _info(chat: str, sender: str, msg_id: str) -> dict[str, Any]:
    """MessageInfo the way whatsmeow marshals it."""
    return {
        "Chat": chat,
        "Sender": sender,
        "IsFromMe": False,
        "IsGroup": chat.endswith("@g.us"),
        "AddressingMode": "",
        "SenderAlt": "",
        "RecipientAlt": "",
        "BroadcastListOwner": "",
        "BroadcastRecipients": None,
        "ID": msg_id,
        "ServerID": 0,
        "Type": "text",
        "PushName": "",
        "Timestamp": now().isoformat(timespec="seconds"),
        "Category": "",
        "Multicast": False,
        "MediaType": "",
        "Edit": "",
        "VerifiedName": None,
        "DeviceSentMeta": None,
    }


def _message_event(info: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Info": info,
        "Message": message,
        "IsEphemeral": False,
        "IsViewOnce": False,
        "IsEdit": False,
        "RetryCount": 0,
        "RawMessage": message,
    }


def _receipt_event(chat: str, ids: list[str], state: str) -> dict[str, Any]:
    return {
        "type": "ReadReceipt",
        "state": state,
        "event": {
            "Chat": chat,
            "Sender": chat,
            "IsFromMe": False,
            "IsGroup": chat.endswith("@g.us"),
            "MessageIDs": ids,
            "Timestamp": now().isoformat(timespec="seconds"),
            "Type": "read" if state == "Read" else "",
            "MessageSender": "",
        },
    }

"""Simulated WAHA server (devlikeapro/waha), following docs/reference/gateway-contracts.md §5.1.

Sessions by name with WAHA's states, the API key in `X-Api-Key`, NestJS's error bodies, the
webhook envelope with its request id, HMAC-SHA512 signatures on the Plus tier only, files
served under `/api/files`, and the engine's own answers to sends and raw messages (`_data`):
NOWEB (Baileys) by default, WEBJS (WhatsApp Web) or GOWS (whatsmeow).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import functools
import hashlib
import hmac
import secrets
import time
from typing import Any

from aiohttp import web

from .common import WebhookSender, json_bytes, message_id, read_json
from .phones import (
    Phone,
    PhoneState,
    chat_line,
    check_pairing_code,
    conflict,
    contact_lid,
    inbound_line,
    mark_read,
)
from .qr import qr_png

ENGINES = ("NOWEB", "WEBJS", "GOWS")
# The events a current release knows; the October-2024 one lacks message.edited.
EVENTS = (
    "session.status",
    "message",
    "message.reaction",
    "message.any",
    "message.ack",
    "message.revoked",
    "message.edited",
    "poll.vote",
    "call.received",
    "call.accepted",
    "call.rejected",
    "presence.update",
    "group.join",
    "group.leave",
)
OLD_RELEASE = "2024.10"
# WAHA writes file URLs with the host it was configured with; the default is this one.
FILES_HOST = "http://localhost:3000"
MEDIA_ENDPOINTS = {
    "sendImage": "image",
    "sendFile": "document",
    "sendVoice": "voice",
    "sendVideo": "video",
}
WEB_TYPES = {
    "text": "chat",
    "image": "image",
    "video": "video",
    "audio": "audio",
    "voice": "ptt",
    "document": "document",
    "location": "location",
    "poll": "poll_creation",
}
PROTO_MEDIA = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "voice": "audioMessage",
    "document": "documentMessage",
}


def nest_error(status: int, message: Any, error: str) -> web.Response:
    """NestJS's error body."""
    return web.json_response(
        {"statusCode": status, "message": message, "error": error}, status=status
    )


@dataclass
class WahaConfig:
    """How the simulated server behaves."""

    api_key: str = "sim-waha-key"
    tier: str = "PLUS"  # CORE cannot sign webhook posts
    engine: str = "NOWEB"
    release: str = "2025.11"

    def sign_in(self, url: str) -> dict[str, str]:
        """What to enter in the integration's form, by field label."""
        return {"Server address": url, "API key": self.api_key, "Session": "default"}

    @property
    def events(self) -> tuple[str, ...]:
        """The webhook events this release accepts."""
        if self.release == OLD_RELEASE:
            return tuple(event for event in EVENTS if event != "message.edited")
        return EVENTS


@dataclass
class WahaSession:
    """One session: a WhatsApp account once linked."""

    name: str
    config: dict[str, Any] = field(default_factory=dict)
    status: str = "STOPPED"
    number: str = ""  # kept while the session is stopped
    push_name: str = ""
    qr_serial: int = 0
    pairing_code: str = ""
    pairing_phone: str = ""  # the number the pairing code was asked for
    sent: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)  # the phone page's conversation
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def me(self) -> dict[str, Any] | None:
        """The linked account, as WAHA shows it."""
        if not self.number or self.status != "WORKING":
            return None
        return {"id": f"{self.number}@c.us", "pushName": self.push_name}

    @property
    def qr_payload(self) -> str:
        """What the QR shown encodes ("" when none is shown)."""
        if self.status != "SCAN_QR_CODE" or self.pairing_code:
            return ""
        return f"2@waha,{self.name},{self.qr_serial}"

    def info(self) -> dict[str, Any]:
        """GET /api/sessions/{name}."""
        return {"name": self.name, "status": self.status, "config": self.config, "me": self.me}


type Route = Callable[[WahaSimulator, web.Request], Awaitable[web.Response]]
type SessionHandler = Callable[
    [WahaSimulator, web.Request, WahaSession, dict[str, Any]], Awaitable[web.Response]
]


def api_route(handler: Route) -> Route:
    """Check the API key first."""

    @functools.wraps(handler)
    async def route(self: WahaSimulator, request: web.Request) -> web.Response:
        return self.unauthorized(request) or await handler(self, request)

    return route


def working_route(handler: SessionHandler) -> Route:
    """A send: the key, then the session named in the body (or the path), which must work."""

    @functools.wraps(handler)
    async def route(self: WahaSimulator, request: web.Request) -> web.Response:
        if denied := self.unauthorized(request):
            return denied
        body = await read_json(request)
        name = request.match_info.get("session") or str(body.get("session") or "default")
        session = self.sessions.get(name)
        if session is None or session.status == "STOPPED":
            return nest_error(
                404,
                f"We didn't find a session with name '{name}'. Please start it first by using "
                f"POST /api/sessions/{name}/start request",
                "Not Found",
            )
        if session.status != "WORKING":
            return web.json_response(
                {
                    "error": "Session status is not as expected. Try again later or restart "
                    "the session",
                    "session": name,
                    "status": session.status,
                    "expected": ["WORKING"],
                },
                status=422,
            )
        return await handler(self, request, session, body)

    return route


def wa_id(from_me: bool, chat: str, short: str, participant: str | None = None) -> str:
    """WAHA's serialized message id: fromMe_chat_id[_participant]."""
    serialized = f"{str(from_me).lower()}_{chat}_{short}"
    return f"{serialized}_{participant}" if participant else serialized


def c_us(target: str) -> str:
    """A chat as WAHA writes it: digits@c.us for people."""
    return target if "@" in target else f"{target}@c.us"


class WahaSimulator:
    """An in-memory WAHA server with sessions, webhooks and a control API."""

    def __init__(self, config: WahaConfig, sender: WebhookSender) -> None:
        """An empty server (the integration creates its session)."""
        self.config = config
        self.sender = sender
        self.sessions: dict[str, WahaSession] = {}

    def routes(self) -> list[web.RouteDef]:
        """The API and the control API."""
        r = web
        control = "/__emulator/waha/sessions/{name}"
        return [
            r.get("/api/version", self.version),
            r.get("/api/sessions", self.list_sessions),
            r.post("/api/sessions", self.create),
            r.get("/api/sessions/{name}", self.get_session),
            r.put("/api/sessions/{name}", self.update),
            r.post("/api/sessions/{name}/{action}", self.session_action),
            r.get("/api/{session}/auth/qr", self.qr),
            r.post("/api/{session}/auth/request-code", self.request_code),
            r.post("/api/sendText", self.send_text),
            *(r.post(f"/api/{name}", self.send_media) for name in MEDIA_ENDPOINTS),
            r.post("/api/sendLocation", self.send_location),
            r.post("/api/sendContactVcard", self.send_contact),
            r.post("/api/sendPoll", self.send_poll),
            r.post("/api/sendSeen", self.send_seen),
            r.put("/api/reaction", self.reaction),
            r.post("/api/{session}/presence", self.presence),
            r.put("/api/{session}/chats/{chat}/messages/{id}", self.edit),
            r.delete("/api/{session}/chats/{chat}/messages/{id}", self.delete),
            r.get("/api/checkNumberStatus", self.check_number),
            r.get("/api/files/{session}/{file}", self.file),
            r.post(control + "/scan", self.control_scan),
            r.post(control + "/inbound", self.control_inbound),
            r.post(control + "/ack", self.control_ack),
            r.post(control + "/logout_from_phone", self.control_logout),
            r.post(control + "/fail", self.control_fail),
            r.post(control + "/call", self.control_call),
            r.post(control + "/webhooks", self.control_webhooks),
            r.get(control + "/sent", self.control_sent),
            r.get("/__emulator/waha/sessions", self.control_sessions),
        ]

    def unauthorized(self, request: web.Request) -> web.Response | None:
        """The answer to a missing or wrong API key; None when it is right (or none is set)."""
        key = self.config.api_key
        given = request.headers.get("X-Api-Key", "")
        if key and not hmac.compare_digest(given.encode(), key.encode()):
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        return None

    def _session(self, request: web.Request) -> WahaSession | web.Response:
        session = self.sessions.get(request.match_info["name"])
        return session or nest_error(404, "Session not found", "Not Found")

    def _invalid_config(self, config: Any) -> web.Response | None:
        """The validation pipe: each webhook needs a URL and known events."""
        for index, hook in enumerate((config or {}).get("webhooks") or []):
            if not str(hook.get("url", "")).startswith(("http://", "https://")):
                problem = f"config.webhooks.{index}.url must be a URL address"
                return nest_error(422, [problem], "Unprocessable Entity")
            unknown = [e for e in hook.get("events") or [] if e not in self.config.events]
            if unknown:
                problem = (
                    f"config.webhooks.{index}.each value in events must be one of the "
                    f"following values: {', '.join(self.config.events)}"
                )
                return nest_error(422, [problem], "Unprocessable Entity")
        return None

    # Sessions

    @api_route
    async def version(self, request: web.Request) -> web.Response:
        """GET /api/version."""
        return web.json_response(
            {
                "version": self.config.release,
                "engine": self.config.engine,
                "tier": self.config.tier,
                "browser": None,
            }
        )

    @api_route
    async def list_sessions(self, request: web.Request) -> web.Response:
        """GET /api/sessions (stopped ones with ?all=true)."""
        every = request.query.get("all") == "true"
        return web.json_response(
            [s.info() for s in self.sessions.values() if every or s.status != "STOPPED"]
        )

    @api_route
    async def create(self, request: web.Request) -> web.Response:
        """POST /api/sessions {name, start, config}."""
        body = await read_json(request)
        name = str(body.get("name") or f"session_{secrets.token_hex(8)}")
        if name in self.sessions:
            message = f"Session '{name}' already exists. Use PUT to update it."
            return nest_error(422, message, "Unprocessable Entity")
        if invalid := self._invalid_config(body.get("config")):
            return invalid
        session = self.sessions[name] = WahaSession(name, dict(body.get("config") or {}))
        if body.get("start"):
            await self._start(session)
        return web.json_response(session.info(), status=201)

    @api_route
    async def get_session(self, request: web.Request) -> web.Response:
        """GET /api/sessions/{name}."""
        found = self._session(request)
        return found if isinstance(found, web.Response) else web.json_response(found.info())

    @api_route
    async def update(self, request: web.Request) -> web.Response:
        """PUT /api/sessions/{name} {config}: a running session restarts with it."""
        found = self._session(request)
        if isinstance(found, web.Response):
            return found
        body = await read_json(request)
        if invalid := self._invalid_config(body.get("config")):
            return invalid
        running = found.status != "STOPPED"
        found.config = dict(body.get("config") or {})
        if running:
            await self._set_status(found, "STOPPED")
            await self._start(found)
        return web.json_response(found.info())

    @api_route
    async def session_action(self, request: web.Request) -> web.Response:
        """POST /api/sessions/{name}/start|stop|logout|restart."""
        found = self._session(request)
        if isinstance(found, web.Response):
            return found
        action = request.match_info["action"]
        if action == "start":
            if found.status == "STOPPED":
                await self._start(found)
        elif action == "stop":
            await self._set_status(found, "STOPPED")
        elif action == "restart":
            await self._set_status(found, "STOPPED")
            await self._start(found)
        elif action == "logout":
            running = found.status != "STOPPED"
            found.number = ""
            await self._set_status(found, "STOPPED")
            if running:
                await self._start(found)
        else:
            return nest_error(404, f"Cannot POST {request.path}", "Not Found")
        return web.json_response(found.info())

    async def _start(self, session: WahaSession) -> None:
        """STARTING, then WORKING when linked, else a QR code to scan."""
        await self._set_status(session, "STARTING")
        if session.number:
            await self._set_status(session, "WORKING")
        else:
            session.qr_serial += 1
            session.pairing_code = ""
            await self._set_status(session, "SCAN_QR_CODE")

    async def _set_status(self, session: WahaSession, status: str) -> None:
        if session.status != status:
            session.status = status
            await self.emit(session, "session.status", {"name": session.name, "status": status})

    async def qr(self, request: web.Request) -> web.Response:
        """GET /api/{session}/auth/qr: PNG, base64 in JSON, or ?format=raw."""
        if denied := self.unauthorized(request):
            return denied
        session = self.sessions.get(request.match_info["session"])
        if session is None or not session.qr_payload:
            status = session.status if session else "STOPPED"
            message = {
                "error": "Session status is not as expected. Try again later or restart the "
                "session",
                "session": request.match_info["session"],
                "status": status,
                "expected": ["SCAN_QR_CODE"],
            }
            return web.json_response(message, status=422)
        if request.query.get("format") == "raw":
            return web.json_response({"value": session.qr_payload})
        png = qr_png(session.qr_payload)
        if "application/json" in request.headers.get("Accept", ""):
            data = base64.b64encode(png).decode()
            return web.json_response({"mimetype": "image/png", "data": data})
        return web.Response(body=png, content_type="image/png")

    async def request_code(self, request: web.Request) -> web.Response:
        """POST /api/{session}/auth/request-code {phoneNumber}: ABCD-EFGH."""
        if denied := self.unauthorized(request):
            return denied
        session = self.sessions.get(request.match_info["session"])
        if session is None or session.status != "SCAN_QR_CODE":
            status = session.status if session else "STOPPED"
            message = (
                f"Can request code only in SCAN_QR_CODE status. The current status is {status}"
            )
            return nest_error(422, message, "Unprocessable Entity")
        phone = "".join(
            ch for ch in str((await read_json(request)).get("phoneNumber", "")) if ch.isdigit()
        )
        if not phone:
            return nest_error(400, ["phoneNumber must be a string"], "Bad Request")
        code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTVWXYZ23456789") for _ in range(8))
        session.pairing_code, session.pairing_phone = code, phone
        return web.json_response({"code": f"{code[:4]}-{code[4:]}"})

    # Sending

    def _answer_sent(
        self, session: WahaSession, chat: str, record: dict[str, Any], line: dict[str, Any]
    ) -> web.Response:
        short = secrets.token_hex(10).upper()
        serialized = wa_id(True, chat, short)
        session.sent.append({"id": serialized, **record})
        session.chat.append({**line, "id": serialized, "chat": chat})
        if self.config.engine == "NOWEB":
            jid = chat.replace("@c.us", "@s.whatsapp.net")
            answer: dict[str, Any] = {
                "key": {"remoteJid": jid, "fromMe": True, "id": short},
                "message": {},
                "messageTimestamp": str(int(time.time())),
                "status": "PENDING",
            }
        elif self.config.engine == "WEBJS":
            answer = {
                "id": {"fromMe": True, "remote": chat, "id": short, "_serialized": serialized},
                "ack": 0,
                "timestamp": int(time.time()),
            }
        else:
            answer = {"id": serialized, "timestamp": int(time.time()), "fromMe": True}
        return web.json_response(answer, status=201)

    @working_route
    async def send_text(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """POST /api/sendText {session, chatId, text, reply_to}."""
        if not body.get("chatId") or not isinstance(body.get("text"), str):
            return nest_error(
                400, ["chatId must be a string", "text must be a string"], "Bad Request"
            )
        chat = c_us(str(body["chatId"]))
        line = chat_line("out", "", chat, body["text"], reply_to=body.get("reply_to"))
        return self._answer_sent(session, chat, {"endpoint": "sendText", "body": body}, line)

    @working_route
    async def send_media(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """POST /api/sendImage|sendFile|sendVoice|sendVideo with `file` as base64 or URL."""
        endpoint = request.path.rsplit("/", 1)[-1]
        file = body.get("file")
        if not body.get("chatId") or not isinstance(file, dict):
            return nest_error(400, ["file must be an object"], "Bad Request")
        try:
            data = base64.b64decode(str(file.get("data", "")), validate=True)
        except ValueError:
            return nest_error(400, ["file.data must be base64 encoded"], "Bad Request")
        chat = c_us(str(body["chatId"]))
        mime = str(file.get("mimetype") or "application/octet-stream")
        kind = MEDIA_ENDPOINTS[endpoint]
        line = chat_line(
            "out",
            "",
            chat,
            str(body.get("caption") or ""),
            kind="image" if kind == "image" else "document",
            media=f"data:{mime};base64,{base64.b64encode(data).decode()}",
            filename=str(file.get("filename") or ""),
        )
        record = {"endpoint": endpoint, "body": body}
        return self._answer_sent(session, chat, record, line)

    @working_route
    async def send_location(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """POST /api/sendLocation {chatId, latitude, longitude, title}."""
        chat = c_us(str(body.get("chatId", "")))
        text = f"{body.get('latitude')}, {body.get('longitude')}"
        line = chat_line("out", "", chat, text, kind="location", place=str(body.get("title") or ""))
        return self._answer_sent(session, chat, {"endpoint": "sendLocation", "body": body}, line)

    @working_route
    async def send_contact(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """POST /api/sendContactVcard {chatId, contacts: [{vcard}]}."""
        chat = c_us(str(body.get("chatId", "")))
        line = chat_line("out", "", chat, "contact card", kind="contact")
        return self._answer_sent(
            session, chat, {"endpoint": "sendContactVcard", "body": body}, line
        )

    @working_route
    async def send_poll(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """POST /api/sendPoll {chatId, poll: {name, options, multipleAnswers}}."""
        poll = body.get("poll")
        if not isinstance(poll, dict) or len(poll.get("options") or []) < 2:
            return nest_error(400, ["poll.options must contain at least 2 elements"], "Bad Request")
        chat = c_us(str(body.get("chatId", "")))
        text = "\n".join([str(poll.get("name")), *(f"○ {o}" for o in poll["options"])])
        line = chat_line("out", "", chat, text, kind="poll")
        return self._answer_sent(session, chat, {"endpoint": "sendPoll", "body": body}, line)

    @working_route
    async def send_seen(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """POST /api/sendSeen {chatId, messageId?, participant?}."""
        session.sent.append({"endpoint": "sendSeen", "id": None, "body": body})
        return web.json_response({}, status=201)

    @working_route
    async def reaction(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """PUT /api/reaction {messageId, reaction}."""
        if not body.get("messageId") or not isinstance(body.get("reaction"), str):
            return nest_error(400, ["messageId must be a string"], "Bad Request")
        session.sent.append({"endpoint": "reaction", "id": None, "body": body})
        return web.json_response({})

    @working_route
    async def presence(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """POST /api/{session}/presence {chatId, presence}."""
        if body.get("presence") not in ("online", "offline", "typing", "recording", "paused"):
            return nest_error(400, ["presence must be one of the following values"], "Bad Request")
        session.sent.append({"endpoint": "presence", "id": None, "body": body})
        return web.json_response({}, status=201)

    def _own_line(self, session: WahaSession, request: web.Request) -> dict[str, Any] | None:
        wanted = request.match_info["id"]
        return next((line for line in session.chat if line["id"] == wanted), None)

    @working_route
    async def edit(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """PUT /api/{session}/chats/{chat}/messages/{id} {text}."""
        line = self._own_line(session, request)
        if line is None or line["direction"] != "out":
            return nest_error(404, "Message not found", "Not Found")
        line["text"], line["edited"] = str(body.get("text", "")), True
        session.sent.append({"endpoint": "edit", "id": line["id"], "body": body})
        return web.json_response({})

    @working_route
    async def delete(
        self, request: web.Request, session: WahaSession, body: dict[str, Any]
    ) -> web.Response:
        """DELETE /api/{session}/chats/{chat}/messages/{id}."""
        line = self._own_line(session, request)
        if line is None or line["direction"] != "out":
            return nest_error(404, "Message not found", "Not Found")
        line["text"], line["deleted"] = "", True
        session.sent.append({"endpoint": "delete", "id": line["id"], "body": {}})
        return web.json_response({})

    @api_route
    async def check_number(self, request: web.Request) -> web.Response:
        """GET /api/checkNumberStatus?phone=…&session=…."""
        phone = request.query.get("phone", "")
        exists = phone.isdigit() and not phone.endswith("0000")
        return web.json_response(
            {"numberExists": exists, "chatId": f"{phone}@c.us" if exists else None}
        )

    async def file(self, request: web.Request) -> web.Response:
        """GET /api/files/{session}/{file}: what an incoming message carried."""
        if denied := self.unauthorized(request):
            return denied
        session = self.sessions.get(request.match_info["session"])
        found = session.files.get(request.match_info["file"]) if session else None
        if found is None:
            return nest_error(404, "File not found", "Not Found")
        return web.Response(body=found[1], content_type=found[0])

    # Webhooks

    async def emit(self, session: WahaSession, event: str, payload: dict[str, Any]) -> None:
        """Post one event to every webhook of the session that wants it."""
        for hook in session.config.get("webhooks") or []:
            if event not in (hook.get("events") or []) and "*" not in (hook.get("events") or []):
                continue
            envelope = {
                "id": f"evt_{secrets.token_hex(13)}",
                "timestamp": int(time.time() * 1000),
                "session": session.name,
                "metadata": session.config.get("metadata") or {},
                "engine": self.config.engine,
                "me": session.me,
                "environment": {
                    "version": self.config.release,
                    "engine": self.config.engine,
                    "tier": self.config.tier,
                    "browser": None,
                },
                "event": event,
                "payload": payload,
            }
            body = json_bytes(envelope)
            headers = {
                "X-Webhook-Request-Id": secrets.token_hex(13),
                "X-Webhook-Timestamp": str(envelope["timestamp"]),
                "User-Agent": f"WAHA/{self.config.release}",
            }
            key = (hook.get("hmac") or {}).get("key")
            if key and self.config.tier == "PLUS":
                headers["X-Webhook-Hmac"] = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
                headers["X-Webhook-Hmac-Algorithm"] = "sha512"
            await self.sender.post("waha", str(hook["url"]), body, "application/json", headers)

    # Control API (the phone side)

    def _control_session(self, request: web.Request) -> WahaSession:
        session = self.sessions.get(request.match_info["name"])
        if session is None:
            raise web.HTTPNotFound(text="no such session")
        return session

    async def control_sessions(self, request: web.Request) -> web.Response:
        """Every session, with its config (webhooks and keys included)."""
        return web.json_response([s.info() for s in self.sessions.values()])

    async def control_scan(self, request: web.Request) -> web.Response:
        """The phone scans the QR code: {number, name}."""
        body = await read_json(request)
        await self.link(
            self._control_session(request), str(body.get("number", "")), str(body.get("name", ""))
        )
        return web.json_response(self._control_session(request).info())

    async def link(self, session: WahaSession, number: str, name: str) -> None:
        """The phone linked the session (by QR code or pairing code)."""
        if session.status != "SCAN_QR_CODE":
            raise conflict("this session is not showing a QR code")
        session.number = "".join(ch for ch in number or "31612345678" if ch.isdigit())
        session.push_name = name
        session.pairing_code = ""
        await self._set_status(session, "WORKING")

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A contact writes (see inbound)."""
        session = self._control_session(request)
        payload = await self.inbound(session, await read_json(request))
        return web.json_response(payload)

    async def inbound(self, session: WahaSession, body: dict[str, Any]) -> dict[str, Any]:
        """Post what a contact sends: text, media, location, poll, reaction, edit, delete, vote.

        Body: from, name, text, kind, group, id, reply_to, lid, from_me, mime_type, data,
        filename, caption, latitude, longitude, options, target_id, emoji.
        """
        sender = "".join(ch for ch in str(body.get("from", "491700000002")) if ch.isdigit())
        from_me = bool(body.get("from_me", False))
        group = body.get("group")
        lid = contact_lid(sender)
        person = lid if body.get("lid") else f"{sender}@c.us"
        chat = str(group) if group else person
        short = str(body.get("id") or message_id())
        own = f"{session.number}@c.us"
        participant = person if group else None
        payload: dict[str, Any] = {
            "id": wa_id(from_me, chat, short, participant),
            "timestamp": int(time.time()),
            "from": own if from_me else chat,
            "fromMe": from_me,
            "to": chat if from_me else own,
            "participant": participant,
        }
        kind = str(body.get("kind", "text"))
        event = "message"
        if kind == "reaction":
            payload["reaction"] = {
                "text": str(body.get("emoji", "👍")),
                "messageId": str(body.get("target_id", "")),
            }
            await self.emit(session, "message.reaction", payload)
            return payload
        if kind == "vote":
            vote = {**payload, "selectedOptions": list(body.get("options") or [])}
            poll_id = str(body.get("poll_id", ""))
            voted = {"vote": vote, "poll": {"id": poll_id, "to": chat, "from": own, "fromMe": True}}
            await self.emit(session, "poll.vote", voted)
            return voted
        text = str(body.get("text") or body.get("caption") or "")
        payload |= {"body": text, "hasMedia": False, "ack": 1, "ackName": "SERVER"}
        if body.get("reply_to"):
            payload["replyTo"] = {"id": str(body["reply_to"]), "participant": own, "body": ""}
        if kind in PROTO_MEDIA:
            data = base64.b64decode(str(body.get("data", "")).split(",", 1)[-1] or "") or b"sim"
            mime = str(body.get("mime_type", "application/octet-stream"))
            name = f"{payload['id']}.{mime.split('/')[-1].split(';')[0]}"
            session.files[name] = (mime, data)
            payload["hasMedia"] = True
            payload["media"] = {
                "url": f"{FILES_HOST}/api/files/{session.name}/{name}",
                "mimetype": mime,
                "filename": body.get("filename"),
            }
        if kind == "location":
            payload["location"] = {
                "latitude": str(body.get("latitude", 0)),
                "longitude": str(body.get("longitude", 0)),
                "description": str(body.get("place", "")),
            }
        if kind == "edit":
            event = "message.edited"
            payload["editedMessageId"] = str(body.get("target_id", ""))
        if kind == "delete":
            deleted = str(body.get("target_id", ""))
            revoked = {"after": payload, "before": None, "revokedMessageId": deleted}
            await self.emit(session, "message.revoked", revoked)
            return revoked
        payload["_data"] = self._raw(kind, body, payload, sender, text)
        if event == "message.edited":
            await self.emit(session, event, payload)
            return payload
        session.chat.append(inbound_line(body, payload["id"], chat, f"{sender}@c.us"))
        if not from_me:
            await self.emit(session, "message", payload)
        await self.emit(session, "message.any", payload)
        return payload

    def _raw(
        self, kind: str, body: dict[str, Any], payload: dict[str, Any], sender: str, text: str
    ) -> dict[str, Any]:
        """The engine's own message (`_data`)."""
        name = str(body.get("name", ""))
        if self.config.engine == "WEBJS":
            return {"type": WEB_TYPES.get(kind, "chat"), "body": text, "notifyName": name}
        content: dict[str, Any]
        if kind in PROTO_MEDIA:
            part: dict[str, Any] = {"mimetype": str(body.get("mime_type", ""))}
            if text:
                part["caption"] = text
            if kind == "voice":
                part["ptt"] = True
            content = {PROTO_MEDIA[kind]: part}
        elif kind == "location":
            content = {
                "locationMessage": {
                    "degreesLatitude": float(body.get("latitude", 0)),
                    "degreesLongitude": float(body.get("longitude", 0)),
                }
            }
        elif kind == "poll":
            options = [{"optionName": str(option)} for option in body.get("options") or []]
            content = {"pollCreationMessageV3": {"name": text, "options": options}}
        else:
            content = {"conversation": text}
        if self.config.engine == "GOWS":
            info: dict[str, Any] = {"ID": payload["id"], "PushName": name}
            if body.get("lid"):
                info["SenderAlt"] = f"{sender}@s.whatsapp.net"
            return {"Info": info, "Message": content}
        key: dict[str, Any] = {"id": payload["id"], "fromMe": payload["fromMe"]}
        if body.get("lid"):
            key["remoteJidAlt"] = f"{sender}@s.whatsapp.net"
        return {"key": key, "message": content, "pushName": name}

    async def control_ack(self, request: web.Request) -> web.Response:
        """The recipient's phone got or read messages: {ids, ack: 2 (device) | 3 (read)}."""
        session = self._control_session(request)
        body = await read_json(request)
        await self.acknowledge(
            session, [str(i) for i in body.get("ids") or []], int(body.get("ack", 3))
        )
        return web.json_response({"ok": True})

    async def acknowledge(self, session: WahaSession, ids: list[str], ack: int) -> None:
        """Post message.ack for messages Home Assistant sent."""
        names = {-1: "ERROR", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
        if ack >= 3:
            mark_read(session.chat, ids)
        own = f"{session.number}@c.us"
        for sent in session.sent:
            if sent["id"] in ids:
                chat = c_us(str(sent["body"].get("chatId", "")))
                payload = {
                    "id": sent["id"],
                    "from": own,
                    "to": chat,
                    "participant": None,
                    "fromMe": True,
                    "ack": ack,
                    "ackName": names.get(ack, "UNKNOWN"),
                }
                await self.emit(session, "message.ack", payload)

    async def control_logout(self, request: web.Request) -> web.Response:
        """The user removes the linked device on the phone: the session fails."""
        await self.unlink(self._control_session(request))
        return web.json_response({"ok": True})

    async def unlink(self, session: WahaSession) -> None:
        """Logged out from the phone: WAHA shows a QR code again."""
        session.number = ""
        await self._set_status(session, "STOPPED")
        await self._start(session)

    async def control_fail(self, request: web.Request) -> web.Response:
        """The engine crashed: FAILED until restarted."""
        await self._set_status(self._control_session(request), "FAILED")
        return web.json_response({"ok": True})

    async def control_call(self, request: web.Request) -> web.Response:
        """A contact calls: {from, id}."""
        session = self._control_session(request)
        body = await read_json(request)
        caller = "".join(ch for ch in str(body.get("from", "491700000002")) if ch.isdigit())
        payload = {
            "id": str(body.get("id") or secrets.token_hex(16).upper()),
            "from": f"{caller}@c.us",
            "timestamp": int(time.time()),
            "isVideo": bool(body.get("video", False)),
            "isGroup": False,
        }
        await self.emit(session, "call.received", payload)
        return web.json_response(payload)

    async def control_webhooks(self, request: web.Request) -> web.Response:
        """The session's webhooks were changed in the dashboard: {"webhooks": [...]}."""
        session = self._control_session(request)
        session.config["webhooks"] = list((await read_json(request)).get("webhooks") or [])
        return web.json_response(session.info())

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through the session."""
        return web.json_response(self._control_session(request).sent)

    def page_phones(self) -> list[Phone]:
        """Every session, for the phone page."""
        return [WahaPhone(self, session) for session in self.sessions.values()]


class WahaPhone(Phone):
    """A WAHA session's WhatsApp account on the phone page."""

    product = "waha"

    def __init__(self, simulator: WahaSimulator, session: WahaSession) -> None:
        """The phone of `session`."""
        super().__init__(session.name, f"WAHA session {session.name}")
        self.simulator = simulator
        self.session = session

    def state(self) -> PhoneState:
        """Linked while the session works; a QR code or a pairing code while it waits."""
        session = self.session
        return PhoneState(
            number=session.number,
            qr=session.qr_payload,
            awaiting_code=bool(session.pairing_code),
            chat=session.chat,
        )

    async def scan(self, number: str, name: str) -> None:
        """Link by QR code."""
        await self.simulator.link(self.session, number, name)

    async def enter_code(self, code: str, name: str) -> None:
        """Link by the pairing code shown in Home Assistant."""
        check_pairing_code(code, self.session.pairing_code)
        await self.simulator.link(self.session, self.session.pairing_phone, name)

    async def write(self, message: dict[str, Any]) -> str:
        """A contact writes."""
        return str((await self.simulator.inbound(self.session, message))["id"])

    async def read(self, ids: list[str]) -> None:
        """The contact reads what Home Assistant sent."""
        await self.simulator.acknowledge(self.session, ids, 3)

    async def unlink(self) -> None:
        """Linked devices → remove."""
        await self.simulator.unlink(self.session)

"""Simulated Waabot API, following docs/reference/gateway-contracts.md §4.

Account routes need a bearer token from `POST /sessions`; instance routes also need the
instance's `session_id` and `access_token`. Webhooks are undocumented upstream; the simulator
posts `{"event": "onMessage", "session_id": …, "data": <Baileys WebMessageInfo>}`, the shape
the integration's parser assumes first.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import functools
import hmac
import secrets
from typing import Any

from aiohttp import web

from .common import WebhookSender, json_bytes, message_id, now, read_json
from .phones import Phone, PhoneState, chat_line, conflict, inbound_line, png_data_url
from .qr import qr_png

API = "/api/v1"
MEDIA_MESSAGES = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "doc": "documentMessage",
}


def envelope(message: str, data: Any = None, *, status: int = 200) -> web.Response:
    """Waabot's answer shape."""
    return web.json_response(
        {"status": status < 400, "message": message, "data": data}, status=status
    )


@dataclass
class WaabotConfig:
    """How the simulated account behaves."""

    email: str = "ha@example.com"
    password: str = "sim-password"  # noqa: S105 - a test double's default
    instances: int = 1

    def sign_in(self, url: str) -> dict[str, str]:
        """What to enter in the integration's form, by field label."""
        return {"E-mail address": self.email, "Password": self.password, "API address": url + API}


@dataclass
class WaabotInstance:
    """One WhatsApp instance ("bot") of the account."""

    id: str
    session_id: str
    access_token: str
    started: bool = False
    number: str = ""
    name: str = ""
    qr_serial: int = 1
    webhook: str = ""
    events: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)  # the phone page's conversation

    @property
    def qr_payload(self) -> str:
        """What the QR code shown for linking encodes ("" when none is shown)."""
        if not self.started or self.number:
            return ""
        return f"2@waabot,{self.session_id},{self.qr_serial}"

    def public(self) -> dict[str, Any]:
        """The instance as GET /whatsapp lists it."""
        return {
            "_id": self.id,
            "session_id": self.session_id,
            "settings": {
                "bot_number": self.number,
                "bot_name": f"WhatsappClient ({self.number})",
                "status": "CONNECTED" if self.number else "DISCONNECTED",
                "access_token": self.access_token,
            },
        }

    @property
    def jid(self) -> str:
        """The account's own id, with the device suffix Baileys reports."""
        return f"{self.number}:8@s.whatsapp.net"


def _new_instance() -> WaabotInstance:
    def dashed() -> str:
        return "-".join(secrets.token_hex(2) for _ in range(4))

    return WaabotInstance(secrets.token_hex(12), dashed(), dashed())


type Route = Callable[[WaabotSimulator, web.Request], Awaitable[web.Response]]
type InstanceHandler = Callable[
    [WaabotSimulator, web.Request, WaabotInstance, dict[str, Any]], Awaitable[web.Response]
]


def account_route(handler: Route) -> Route:
    """Check the bearer token before the handler runs."""

    @functools.wraps(handler)
    async def route(self: WaabotSimulator, request: web.Request) -> web.Response:
        return self.unauthorized(request) or await handler(self, request)

    return route


def instance_route(handler: InstanceHandler) -> Route:
    """Check the bearer token and the instance credentials (query or JSON body)."""

    @functools.wraps(handler)
    async def route(self: WaabotSimulator, request: web.Request) -> web.Response:
        if denied := self.unauthorized(request):
            return denied
        body = await read_json(request) if request.content_type == "application/json" else {}
        session_id = request.query.get("session_id") or str(body.get("session_id") or "")
        token = request.query.get("access_token") or str(body.get("access_token") or "")
        instance = next((i for i in self.instances.values() if i.session_id == session_id), None)
        if instance is None or not hmac.compare_digest(
            token.encode(), instance.access_token.encode()
        ):
            return envelope("Invalid session_id or access_token", status=403)
        return await handler(self, request, instance, body)

    return route


class WaabotSimulator:
    """In-memory Waabot account with instances, webhooks and a control API."""

    def __init__(self, config: WaabotConfig, sender: WebhookSender) -> None:
        """Create the account and its instances."""
        self.config = config
        self.sender = sender
        self.tokens: set[str] = set()
        created = [_new_instance() for _ in range(config.instances)]
        self.instances = {instance.id: instance for instance in created}

    def routes(self) -> list[web.RouteDef]:
        """Every route of the API and of its control API."""
        r = web
        control = "/__emulator/waabot"
        return [
            r.post(API + "/sessions", self.login),
            r.get(API + "/whatsapp", self.list_instances),
            r.post(API + "/whatsapp/createNewWhatsapp", self.create_instance),
            r.post(API + "/whatsapp/init", self.init),
            r.get(API + "/whatsapp/scan", self.scan),
            r.get(API + "/whatsapp/instance", self.instance_info),
            r.get(API + "/whatsapp/instance/logout/{id}", self.logout),
            r.put(API + "/whatsapp/setWebhook", self.set_webhook),
            r.post(API + "/whatsapp/message", self.send_message),
            r.post(API + "/whatsapp/message/{media}", self.send_media),
            r.get(control + "/instances", self.control_instances),
            r.post(control + "/instances/{session}/scan", self.control_scan),
            r.post(control + "/instances/{session}/inbound", self.control_inbound),
            r.post(control + "/instances/{session}/logout_from_phone", self.control_logout),
            r.post(control + "/instances/{session}/stop", self.control_stop),
            r.get(control + "/instances/{session}/sent", self.control_sent),
            r.post(control + "/instances/{session}/webhook", self.control_webhook),
            r.post(control + "/expire_tokens", self.control_expire_tokens),
        ]

    def unauthorized(self, request: web.Request) -> web.Response | None:
        """The answer to a missing or expired bearer token, None when it is valid."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            return envelope("Unauthorized: log in again", status=401)
        return None

    # Account routes

    async def login(self, request: web.Request) -> web.Response:
        """POST /sessions: a fresh access and refresh token."""
        body = await read_json(request)
        email_ok = hmac.compare_digest(
            str(body.get("email", "")).encode(), self.config.email.encode()
        )
        password_ok = hmac.compare_digest(
            str(body.get("password", "")).encode(), self.config.password.encode()
        )
        if not (email_ok and password_ok):
            return envelope("Invalid email or password", status=401)
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return web.json_response({"accessToken": token, "refreshToken": secrets.token_urlsafe(24)})

    @account_route
    async def list_instances(self, request: web.Request) -> web.Response:
        """GET /whatsapp."""
        instances = [instance.public() for instance in self.instances.values()]
        return envelope("Whatsapp fetched successfully!", instances)

    @account_route
    async def create_instance(self, request: web.Request) -> web.Response:
        """POST /whatsapp/createNewWhatsapp."""
        instance = _new_instance()
        self.instances[instance.id] = instance
        return envelope("Whatsapp created successfully!", instance.public())

    # Instance routes

    @instance_route
    async def init(
        self, request: web.Request, instance: WaabotInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /whatsapp/init: start the engine (a linked session comes back by itself)."""
        config = body.get("config")
        if not isinstance(config, dict):
            config = {}
        if config.get("setWebhook") and isinstance(config.get("webhookUrl"), str):
            instance.webhook = config["webhookUrl"]
        instance.started = True
        return web.Response(status=204)

    @instance_route
    async def scan(
        self, request: web.Request, instance: WaabotInstance, body: dict[str, Any]
    ) -> web.Response:
        """GET /whatsapp/scan: the QR as an image, or as base64 text."""
        if not instance.qr_payload:
            return envelope(
                "QR code not available: the instance is not waiting for a scan", status=400
            )
        png = qr_png(instance.qr_payload)
        if request.query.get("format") == "base64text":
            return web.Response(text=png_data_url(png))
        return web.Response(body=png, content_type="image/png")

    @instance_route
    async def instance_info(
        self, request: web.Request, instance: WaabotInstance, body: dict[str, Any]
    ) -> web.Response:
        """GET /whatsapp/instance."""
        if not instance.started:
            data: dict[str, Any] = {"error": True, "message": "invalid key supplied"}
        else:
            user = {"id": instance.jid, "name": instance.name} if instance.number else {}
            data = {
                "error": False,
                "message": "Instance fetched successfully",
                "instance_data": {
                    "instance_key": instance.id,
                    "phone_connected": bool(instance.number),
                    "webhookUrl": instance.webhook or None,
                    "user": user,
                },
            }
        return envelope("Status checked successfully", data)

    @instance_route
    async def logout(
        self, request: web.Request, instance: WaabotInstance, body: dict[str, Any]
    ) -> web.Response:
        """GET /whatsapp/instance/logout/<_id>."""
        if request.match_info["id"] != instance.id:
            return envelope("Instance not found", status=404)
        unlink(instance)
        return envelope("Instance logged out successfully")

    @instance_route
    async def set_webhook(
        self, request: web.Request, instance: WaabotInstance, body: dict[str, Any]
    ) -> web.Response:
        """PUT /whatsapp/setWebhook."""
        url = body.get("webhook_url")
        events = body.get("events")
        if not isinstance(url, str) or not isinstance(events, list):
            return envelope("webhook_url and events are required", status=400)
        instance.webhook = url
        instance.events = [str(event) for event in events]
        return web.Response(status=204)

    def _answer_sent(
        self, instance: WaabotInstance, chat: str, content: dict[str, Any], record: dict[str, Any]
    ) -> web.Response:
        digits = chat.split("@")[0]
        jid = chat if chat.endswith("@g.us") else f"{digits}@s.whatsapp.net"
        sent_id = "BAE5" + secrets.token_hex(6).upper()
        key = {"remoteJid": jid, "fromMe": True, "id": sent_id}
        instance.sent.append({"id": sent_id, **record})
        instance.chat.append(_chat_line_sent(sent_id, jid, record))
        data = {
            "key": key,
            "status": "PENDING",
            "message": content,
            "messageTimestamp": str(int(now().timestamp())),
        }
        return envelope("Message sent successfully", data)

    @instance_route
    async def send_message(
        self, request: web.Request, instance: WaabotInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /whatsapp/message: text and/or a location."""
        chat = body.get("chatId")
        if not isinstance(chat, str) or not chat:
            return envelope("chatId is required", status=400)
        location = body.get("location")
        if not body.get("message") and not isinstance(location, dict):
            return envelope("message is required", status=400)
        if not instance.number:
            return envelope("Instance is not connected to WhatsApp", status=400)
        content: dict[str, Any] = {"extendedTextMessage": {"text": str(body.get("message", ""))}}
        if isinstance(location, dict):
            content = {
                "locationMessage": {
                    "degreesLatitude": float(location.get("lat", 0)),
                    "degreesLongitude": float(location.get("lng", 0)),
                }
            }
        return self._answer_sent(instance, chat, content, {"endpoint": "message", "body": body})

    @instance_route
    async def send_media(
        self, request: web.Request, instance: WaabotInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /whatsapp/message/image|video|audio|doc: multipart with `file` and `chatId`."""
        media = request.match_info["media"]
        if media not in MEDIA_MESSAGES:
            return envelope(f"Unknown message type {media}", status=404)
        form = await request.post()
        upload = form.get("file")
        chat = form.get("chatId")
        if not isinstance(upload, web.FileField) or not isinstance(chat, str) or not chat:
            return envelope("file and chatId are required", status=400)
        if not instance.number:
            return envelope("Instance is not connected to WhatsApp", status=400)
        data = upload.file.read()
        fields = {name: str(value) for name, value in form.items() if isinstance(value, str)}
        record = {
            "endpoint": f"message/{media}",
            "body": fields,
            "file": {
                "filename": upload.filename,
                "content_type": upload.content_type,
                "size": len(data),
                "base64": base64.b64encode(data).decode(),
            },
        }
        part = {"mimetype": upload.content_type, "fileLength": str(len(data))}
        if fields.get("caption"):
            part["caption"] = fields["caption"]
        return self._answer_sent(instance, chat, {MEDIA_MESSAGES[media]: part}, record)

    # Webhooks

    async def _post(self, instance: WaabotInstance, event: str, data: dict[str, Any]) -> None:
        if instance.webhook and (not instance.events or event in instance.events):
            body = {"event": event, "session_id": instance.session_id, "data": data}
            await self.sender.post("waabot", instance.webhook, json_bytes(body), "application/json")

    # Control API (the phone side)

    def _control_instance(self, request: web.Request) -> WaabotInstance:
        session = request.match_info["session"]
        for instance in self.instances.values():
            if session in (instance.session_id, instance.id):
                return instance
        raise web.HTTPNotFound(text="no such instance")

    async def control_instances(self, request: web.Request) -> web.Response:
        """Every instance with its credentials (the dashboard's view)."""
        return web.json_response(
            [
                {**instance.public(), "webhook": instance.webhook}
                for instance in self.instances.values()
            ]
        )

    async def control_scan(self, request: web.Request) -> web.Response:
        """The phone scans the instance's QR code."""
        instance = self._control_instance(request)
        body = await read_json(request)
        scan(instance, str(body.get("number", "")), str(body.get("name", "")))
        return web.json_response(instance.public())

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A contact writes to the instance's account."""
        instance = self._control_instance(request)
        return web.json_response(await self.inbound(instance, await read_json(request)))

    async def inbound(self, instance: WaabotInstance, body: dict[str, Any]) -> dict[str, Any]:
        """Post the message a contact sends (see control_inbound)."""
        sender = "".join(ch for ch in str(body.get("from", "2348179803743")) if ch.isdigit())
        from_me = bool(body.get("from_me", False))
        group = body.get("group")
        key: dict[str, Any] = {
            "remoteJid": str(group or f"{sender}@s.whatsapp.net"),
            "fromMe": from_me,
            "id": str(body.get("id") or message_id()),
        }
        if group:
            key["participant"] = f"{sender}@s.whatsapp.net"
        kind = str(body.get("kind", "text"))
        context: dict[str, Any] | None = None
        if body.get("reply_to"):
            context = {"stanzaId": str(body["reply_to"])}
        if body.get("mentions"):
            mentioned = [f"{number}@s.whatsapp.net" for number in body["mentions"]]
            context = (context or {}) | {"mentionedJid": mentioned}
        content: dict[str, Any]
        if kind == "text":
            text = {"text": str(body.get("text", ""))}
            content = {"extendedTextMessage": text | ({"contextInfo": context} if context else {})}
        elif kind in ("image", "video", "audio", "voice", "document"):
            part: dict[str, Any] = {
                "url": "https://mmg.whatsapp.net/o1/v/t62.7118-24/example.enc",
                "mimetype": str(body.get("mime_type", "application/octet-stream")),
            }
            if kind == "voice":
                part["ptt"] = True
            if body.get("caption"):
                part["caption"] = str(body["caption"])
            if body.get("filename"):
                part["fileName"] = str(body["filename"])
            if context:
                part["contextInfo"] = context
            name = "audioMessage" if kind == "voice" else f"{kind}Message"
            content = {name: part}
        elif kind == "location":
            content = {
                "locationMessage": {
                    "degreesLatitude": float(body.get("latitude", 0)),
                    "degreesLongitude": float(body.get("longitude", 0)),
                }
            }
        else:
            raise web.HTTPBadRequest(text=f"unknown message kind {kind}")
        message = {
            "key": key,
            "message": content,
            "messageTimestamp": str(int(now().timestamp())),
            "pushName": str(body.get("name", "")),
        }
        instance.chat.append(
            inbound_line(body, key["id"], key["remoteJid"], f"{sender}@s.whatsapp.net")
        )
        await self._post(instance, "onAnyMessage" if from_me else "onMessage", message)
        return message

    def page_phones(self) -> list[Phone]:
        """Every instance's account, for the phone page."""
        return [WaabotPhone(self, instance) for instance in self.instances.values()]

    async def control_logout(self, request: web.Request) -> web.Response:
        """The user removes the linked device on the phone."""
        unlink(self._control_instance(request))
        return web.json_response({"ok": True})

    async def control_stop(self, request: web.Request) -> web.Response:
        """The engine loses the instance (as after a restart of the service)."""
        self._control_instance(request).started = False
        return web.json_response({"ok": True})

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through the instance."""
        return web.json_response(self._control_instance(request).sent)

    async def control_webhook(self, request: web.Request) -> web.Response:
        """The instance's webhook was changed in the dashboard: {"url": …} (empty: none)."""
        instance = self._control_instance(request)
        instance.webhook = str((await read_json(request)).get("url", ""))
        return web.json_response({"ok": True})

    async def control_expire_tokens(self, request: web.Request) -> web.Response:
        """Every bearer token expires now; clients have to log in again."""
        self.tokens.clear()
        return web.json_response({"ok": True})


def unlink(instance: WaabotInstance) -> None:
    """The session ends: the instance shows a new QR code."""
    instance.number = ""
    instance.name = ""
    instance.qr_serial += 1


def scan(instance: WaabotInstance, number: str, name: str) -> None:
    """The phone scans the instance's QR code."""
    if not instance.qr_payload:
        raise conflict("this instance is not showing a QR code")
    instance.number = "".join(ch for ch in number or "2349040613521" if ch.isdigit())
    instance.name = name


class WaabotPhone(Phone):
    """A Waabot instance's WhatsApp account on the phone page."""

    product = "waabot"
    receipts = False  # Waabot posts no receipts

    def __init__(self, simulator: WaabotSimulator, instance: WaabotInstance) -> None:
        """The phone of `instance`."""
        super().__init__(instance.session_id, f"Waabot instance {instance.session_id}")
        self.simulator = simulator
        self.instance = instance

    def state(self) -> PhoneState:
        """Linked once scanned; a QR code while the engine runs unlinked."""
        instance = self.instance
        return PhoneState(number=instance.number, qr=instance.qr_payload, chat=instance.chat)

    async def scan(self, number: str, name: str) -> None:
        """Link by QR code."""
        scan(self.instance, number, name)

    async def write(self, message: dict[str, Any]) -> str:
        """A contact writes."""
        return str((await self.simulator.inbound(self.instance, message))["key"]["id"])

    async def read(self, ids: list[str]) -> None:
        """Waabot reports no receipts."""
        raise conflict("Waabot posts no read receipts")

    async def unlink(self) -> None:
        """Linked devices → remove."""
        unlink(self.instance)


def _chat_line_sent(sent_id: str, chat: str, record: dict[str, Any]) -> dict[str, Any]:
    """A message Home Assistant sent, as the phone page shows it."""
    body = record["body"]
    file = record.get("file")
    if file:
        media = f"data:{file['content_type']};base64,{file['base64']}"
        shown = "image" if record["endpoint"] == "message/image" else "document"
        caption = str(body.get("caption") or "")
        return chat_line(
            "out",
            sent_id,
            chat,
            caption,
            kind=shown,
            media=media,
            filename=str(file["filename"] or ""),
        )
    location = body.get("location")
    if isinstance(location, dict):
        text = f"{location.get('lat')}, {location.get('lng')}"
        return chat_line(
            "out", sent_id, chat, text, kind="location", place=location.get("name", "")
        )
    return chat_line("out", sent_id, chat, str(body.get("message") or ""))

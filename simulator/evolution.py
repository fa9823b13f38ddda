"""Simulated Evolution API v2 server, following docs/reference/gateway-contracts.md §5.2.

Instances by name with their own tokens beside the global key (`apikey` header), Evolution's
error body `{status, error, response: {message}}`, `connect` answering the QR code (or a pairing
code), one webhook per instance whose posts are unsigned and carry the instance token, Baileys'
`WebMessageInfo` in messages.upsert (media inlined as `message.base64`), acks in
messages.update, deletions in messages.delete.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import functools
import hmac
import secrets
import time
from typing import Any
import uuid

from aiohttp import web

from .common import WebhookSender, json_bytes, message_id, now, read_json
from .phones import (
    Phone,
    PhoneState,
    chat_line,
    check_pairing_code,
    conflict,
    contact_lid,
    inbound_line,
    mark_read,
    png_data_url,
)
from .qr import qr_png

SERVER_URL = "http://localhost:8080"
STATUS_NAMES = {1: "SERVER_ACK", 2: "DELIVERY_ACK", 3: "READ", 4: "PLAYED", -1: "ERROR"}
MEDIA_KEYS = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "voice": "audioMessage",
    "document": "documentMessage",
}


def failure(status: int, error: str, *messages: str) -> web.Response:
    """Evolution's error body."""
    return web.json_response(
        {"status": status, "error": error, "response": {"message": list(messages)}},
        status=status,
    )


@dataclass
class EvolutionConfig:
    """How the simulated server behaves."""

    api_key: str = "sim-evolution-key"  # the global key (AUTHENTICATION_API_KEY)
    # AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES: tokens in the instance list and in each post.
    expose_tokens: bool = True

    def sign_in(self, url: str) -> dict[str, str]:
        """What to enter in the integration's form, by field label."""
        return {"Server address": url, "API key": self.api_key, "Instance": "home-assistant"}


@dataclass
class EvolutionInstance:
    """One instance: a Baileys socket, a WhatsApp account once linked."""

    name: str
    token: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "close"
    owner: str = ""  # the linked number
    profile_name: str = ""
    qr_count: int = 0
    pairing_code: str = ""
    pairing_phone: str = ""  # the number the pairing code was asked for
    webhook: dict[str, Any] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)  # the phone page's conversation
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def owner_jid(self) -> str | None:
        """The account's id."""
        return f"{self.owner}@s.whatsapp.net" if self.owner else None

    @property
    def qr_payload(self) -> str:
        """What the QR shown encodes ("" when none is shown)."""
        if self.state != "connecting" or self.owner or self.pairing_code:
            return ""
        return f"2@evolution,{self.id},{self.qr_count}"

    def qrcode(self) -> dict[str, Any]:
        """The instance's qrCode: pairingCode, code, base64, count."""
        payload = self.qr_payload
        return {
            "pairingCode": self.pairing_code or None,
            "code": payload or None,
            "base64": png_data_url(qr_png(payload)) if payload else None,
            "count": self.qr_count,
        }

    def row(self, expose: bool) -> dict[str, Any]:
        """The instance as fetchInstances lists it (a row of the instance table)."""
        return {
            "id": self.id,
            "name": self.name,
            "connectionStatus": self.state,
            "ownerJid": self.owner_jid,
            "profileName": self.profile_name or None,
            "integration": "WHATSAPP-BAILEYS",
            "number": None,
            "token": self.token if expose else None,
            "clientName": "evolution_exchange",
        }


type Route = Callable[[EvolutionSimulator, web.Request], Awaitable[web.Response]]
type InstanceHandler = Callable[
    [EvolutionSimulator, web.Request, EvolutionInstance, dict[str, Any]], Awaitable[web.Response]
]


def instance_route(handler: InstanceHandler) -> Route:
    """The instance in the path must exist; the global key or its own token opens it."""

    @functools.wraps(handler)
    async def route(self: EvolutionSimulator, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        instance = self.instances.get(name)
        if denied := self.unauthorized(request, instance):
            return denied
        if instance is None:
            return failure(404, "Not Found", f'The "{name}" instance does not exist')
        body = await read_json(request) if request.can_read_body else {}
        return await handler(self, request, instance, body)

    return route


def send_route(handler: InstanceHandler) -> Route:
    """A send: the instance must be connected to WhatsApp."""

    @instance_route
    @functools.wraps(handler)
    async def route(
        self: EvolutionSimulator,
        request: web.Request,
        instance: EvolutionInstance,
        body: dict[str, Any],
    ) -> web.Response:
        if instance.state != "open":
            return failure(400, "Bad Request", "Connection Closed")
        return await handler(self, request, instance, body)

    return route


def remote_jid(number: str) -> str:
    """Evolution's number field as a JID (digits for people)."""
    return number if "@" in number else f"{number}@s.whatsapp.net"


class EvolutionSimulator:
    """An in-memory Evolution API server with instances, webhooks and a control API."""

    def __init__(self, config: EvolutionConfig, sender: WebhookSender) -> None:
        """An empty server (the integration creates its instance)."""
        self.config = config
        self.sender = sender
        self.instances: dict[str, EvolutionInstance] = {}

    def routes(self) -> list[web.RouteDef]:
        """The API and the control API."""
        r = web
        control = "/__emulator/evolution/instances/{name}"
        sends = (
            "sendText",
            "sendMedia",
            "sendWhatsAppAudio",
            "sendSticker",
            "sendLocation",
            "sendPoll",
        )
        return [
            r.post("/instance/create", self.create),
            r.get("/instance/fetchInstances", self.fetch_instances),
            r.get("/instance/connect/{name}", self.connect),
            r.get("/instance/connectionState/{name}", self.connection_state),
            r.post("/instance/restart/{name}", self.restart),
            r.delete("/instance/logout/{name}", self.logout),
            r.post("/webhook/set/{name}", self.set_webhook),
            r.get("/webhook/find/{name}", self.find_webhook),
            *(r.post(f"/message/{endpoint}/{{name}}", self.send) for endpoint in sends),
            r.post("/message/sendReaction/{name}", self.reaction),
            r.post("/chat/markMessageAsRead/{name}", self.mark_read),
            r.post("/chat/whatsappNumbers/{name}", self.whatsapp_numbers),
            r.post("/chat/updateMessage/{name}", self.update_message),
            r.delete("/chat/deleteMessageForEveryone/{name}", self.delete_message),
            r.post("/chat/sendPresence/{name}", self.presence),
            r.post("/chat/getBase64FromMediaMessage/{name}", self.media_base64),
            r.get("/__emulator/evolution/instances", self.control_instances),
            r.post(control + "/scan", self.control_scan),
            r.post(control + "/inbound", self.control_inbound),
            r.post(control + "/ack", self.control_ack),
            r.post(control + "/logout_from_phone", self.control_logout),
            r.post(control + "/call", self.control_call),
            r.post(control + "/webhook", self.control_webhook),
            r.get(control + "/sent", self.control_sent),
        ]

    def unauthorized(
        self, request: web.Request, instance: EvolutionInstance | None = None
    ) -> web.Response | None:
        """401 unless the key is the global one or the named instance's token."""
        key = request.headers.get("apikey", "")
        if key and hmac.compare_digest(key.encode(), self.config.api_key.encode()):
            return None
        if key and instance and hmac.compare_digest(key.encode(), instance.token.encode()):
            return None
        return web.json_response(
            {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}},
            status=401,
        )

    # Instances

    async def create(self, request: web.Request) -> web.Response:
        """POST /instance/create {instanceName, qrcode, integration} (the global key only)."""
        if denied := self.unauthorized(request):
            return denied
        body = await read_json(request)
        name = str(body.get("instanceName") or "")
        if not name:
            return failure(400, "Bad Request", "instanceName is required")
        if name in self.instances:
            return failure(403, "Forbidden", f'This name "{name}" is already in use.')
        instance = self.instances[name] = EvolutionInstance(
            name, str(body.get("token") or uuid.uuid4()).upper()
        )
        if body.get("qrcode"):
            await self._start(instance)
        return web.json_response(
            {
                "instance": {
                    "instanceName": name,
                    "instanceId": instance.id,
                    "integration": "WHATSAPP-BAILEYS",
                    "status": instance.state,
                },
                "hash": instance.token,
                "webhook": {},
                "settings": {},
                "qrcode": instance.qrcode(),
            },
            status=201,
        )

    async def fetch_instances(self, request: web.Request) -> web.Response:
        """GET /instance/fetchInstances[?instanceName=]: all (global key), or the token's own."""
        name = request.query.get("instanceName")
        key = request.headers.get("apikey", "")
        own = [
            i
            for i in self.instances.values()
            if hmac.compare_digest(key.encode(), i.token.encode())
        ]
        if not hmac.compare_digest(key.encode(), self.config.api_key.encode()):
            if not own:
                return self.unauthorized(request) or web.json_response([])
            listed = [i for i in own if name in (None, i.name)]
            return web.json_response([i.row(self.config.expose_tokens) for i in listed])
        if name is not None and name not in self.instances:
            return failure(404, "Not Found", f'Instance "{name}" not found')
        listed = [i for i in self.instances.values() if name in (None, i.name)]
        return web.json_response([i.row(self.config.expose_tokens) for i in listed])

    async def _start(self, instance: EvolutionInstance, number: str | None = None) -> None:
        """The socket opens: linked accounts connect, others get a QR code (or a code)."""
        if instance.owner:
            await self._set_state(instance, "open")
            return
        instance.state = "connecting"
        instance.qr_count += 1
        if number:
            instance.pairing_phone = number
            instance.pairing_code = "".join(
                secrets.choice("ABCDEFGHJKLMNPQRSTVWXYZ23456789") for _ in range(8)
            )
        await self.emit(
            instance,
            "connection.update",
            {"instance": instance.name, "state": "connecting", "statusReason": 200},
        )
        await self.emit(
            instance, "qrcode.updated", {"qrcode": {"instance": instance.name, **instance.qrcode()}}
        )

    async def _set_state(self, instance: EvolutionInstance, state: str, reason: int = 200) -> None:
        instance.state = state
        data: dict[str, Any] = {"instance": instance.name, "state": state, "statusReason": reason}
        if state == "open":
            data |= {"wuid": instance.owner_jid, "profileName": instance.profile_name}
        await self.emit(instance, "connection.update", data)

    @instance_route
    async def connect(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """GET /instance/connect/{name}[?number=]: the QR code, or the state when linked."""
        if instance.state == "open":
            return web.json_response({"instance": {"instanceName": instance.name, "state": "open"}})
        number = request.query.get("number")
        if instance.state == "close" or (number and not instance.pairing_code):
            await self._start(instance, number)
        return web.json_response(instance.qrcode())

    @instance_route
    async def connection_state(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """GET /instance/connectionState/{name}."""
        return web.json_response(
            {"instance": {"instanceName": instance.name, "state": instance.state}}
        )

    @instance_route
    async def restart(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /instance/restart/{name}: refused while closed."""
        if instance.state == "close":
            return failure(400, "Bad Request", f'The "{instance.name}" instance is not connected')
        await self._set_state(instance, "connecting")
        await self._start(instance)
        return web.json_response(
            {"instance": {"instanceName": instance.name, "state": instance.state}}
        )

    @instance_route
    async def logout(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """DELETE /instance/logout/{name}."""
        if instance.state == "close":
            return failure(400, "Bad Request", f'The "{instance.name}" instance is not connected')
        await self.unlink(instance)
        return web.json_response(
            {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
        )

    async def unlink(self, instance: EvolutionInstance) -> None:
        """The account is logged out: the socket closes with reason 401."""
        instance.owner = ""
        instance.pairing_code = ""
        await self._set_state(instance, "close", 401)

    @instance_route
    async def set_webhook(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /webhook/set/{name} {webhook: {enabled, url, byEvents, base64, events}}."""
        hook = body.get("webhook")
        if not isinstance(hook, dict):
            return failure(400, "Bad Request", "webhook is required")
        if hook.get("enabled") and not str(hook.get("url", "")).startswith(("http://", "https://")):
            return failure(400, "Bad Request", 'Invalid "url" property')
        instance.webhook = {
            "id": instance.webhook.get("id") or secrets.token_hex(12),
            "url": hook.get("url"),
            "headers": hook.get("headers") or {},
            "enabled": bool(hook.get("enabled")),
            "events": list(hook.get("events") or []) if hook.get("enabled") else [],
            "webhookByEvents": bool(hook.get("byEvents")),
            "webhookBase64": bool(hook.get("base64")),
            "instanceId": instance.id,
        }
        return web.json_response(instance.webhook, status=201)

    @instance_route
    async def find_webhook(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """GET /webhook/find/{name} (null when none was set)."""
        return web.json_response(instance.webhook or None)

    # Sending

    def _answer(
        self,
        instance: EvolutionInstance,
        number: str,
        content: dict[str, Any],
        record: dict[str, Any],
        line: dict[str, Any],
    ) -> web.Response:
        jid = remote_jid(number)
        sent_id = "3EB0" + secrets.token_hex(9).upper()
        instance.sent.append({"id": sent_id, **record})
        instance.chat.append({**line, "id": sent_id, "chat": jid})
        answer = {
            "key": {"remoteJid": jid, "fromMe": True, "id": sent_id},
            "pushName": "",
            "status": "PENDING",
            "message": content,
            "messageType": next(iter(content), "conversation"),
            "messageTimestamp": int(time.time()),
            "instanceId": instance.id,
            "source": "unknown",
        }
        return web.json_response(answer, status=201)

    @send_route
    async def send(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /message/sendText|sendMedia|sendWhatsAppAudio|sendSticker|sendLocation|sendPoll."""
        endpoint = request.path.split("/")[2]
        number = str(body.get("number") or "")
        if not number:
            return failure(400, "Bad Request", 'instance requires property "number"')
        record = {"endpoint": endpoint, "body": body}
        if endpoint == "sendText":
            text = str(body.get("text") or "")
            quoted = ((body.get("quoted") or {}).get("key") or {}).get("id")
            line = chat_line("out", "", "", text, reply_to=quoted)
            return self._answer(instance, number, {"conversation": text}, record, line)
        if endpoint == "sendLocation":
            text = f"{body.get('latitude')}, {body.get('longitude')}"
            place = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
            line = chat_line("out", "", "", text, kind="location", place=place)
            return self._answer(instance, number, {"locationMessage": {}}, record, line)
        if endpoint == "sendPoll":
            values = body.get("values") or []
            if len(values) < 2:
                return failure(400, "Bad Request", "values must contain at least 2 items")
            text = "\n".join([str(body.get("name")), *(f"○ {value}" for value in values)])
            return self._answer(
                instance,
                number,
                {"pollCreationMessageV3": {}},
                record,
                chat_line("out", "", "", text, kind="poll"),
            )
        field_name = {"sendMedia": "media", "sendWhatsAppAudio": "audio", "sendSticker": "sticker"}[
            endpoint
        ]
        try:
            data = base64.b64decode(str(body.get(field_name) or ""), validate=True)
        except ValueError:
            return failure(400, "Bad Request", "Owned media must be a url or base64")
        if not data:
            return failure(400, "Bad Request", f'instance requires property "{field_name}"')
        mime = str(body.get("mimetype") or ("audio/ogg" if field_name == "audio" else "image/webp"))
        kind = "image" if body.get("mediatype") == "image" else "document"
        line = chat_line(
            "out",
            "",
            "",
            str(body.get("caption") or ""),
            kind=kind,
            media=f"data:{mime};base64,{base64.b64encode(data).decode()}",
            filename=str(body.get("fileName") or ""),
        )
        return self._answer(instance, number, {"documentMessage": {}}, record, line)

    @send_route
    async def reaction(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /message/sendReaction/{name} {key, reaction}."""
        key = body.get("key")
        if not isinstance(key, dict) or not key.get("id"):
            return failure(400, "Bad Request", 'key requires property "id"')
        record = {"endpoint": "sendReaction", "body": body}
        return self._answer(
            instance,
            str(key.get("remoteJid", "")),
            {"reactionMessage": {}},
            record,
            chat_line("out", "", "", str(body.get("reaction", "")), kind="reaction"),
        )

    def _record(self, instance: EvolutionInstance, endpoint: str, body: dict[str, Any]) -> None:
        instance.sent.append({"endpoint": endpoint, "id": None, "body": body})

    @send_route
    async def mark_read(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/markMessageAsRead/{name} {readMessages: [key…]}."""
        self._record(instance, "markMessageAsRead", body)
        return web.json_response({"message": "Read messages", "read": "success"}, status=201)

    @send_route
    async def whatsapp_numbers(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/whatsappNumbers/{name} {numbers}."""
        numbers = [str(n) for n in body.get("numbers") or []]
        return web.json_response(
            [
                {"exists": not n.endswith("0000"), "jid": f"{n}@s.whatsapp.net", "number": n}
                for n in numbers
            ]
        )

    def _own_line(self, instance: EvolutionInstance, message: str | None) -> dict[str, Any] | None:
        return next(
            (
                line
                for line in instance.chat
                if line["id"] == message and line["direction"] == "out"
            ),
            None,
        )

    @send_route
    async def update_message(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/updateMessage/{name} {number, key, text}."""
        line = self._own_line(instance, (body.get("key") or {}).get("id"))
        if line is None:
            return failure(400, "Bad Request", "Message not found")
        line["text"], line["edited"] = str(body.get("text", "")), True
        self._record(instance, "updateMessage", body)
        return web.json_response({"key": body.get("key"), "status": "PENDING"})

    @send_route
    async def delete_message(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """DELETE /chat/deleteMessageForEveryone/{name} {id, fromMe, remoteJid}."""
        line = self._own_line(instance, body.get("id"))
        if line is None:
            return failure(400, "Bad Request", "Message not found")
        line["text"], line["deleted"] = "", True
        self._record(instance, "deleteMessageForEveryone", body)
        return web.json_response({"key": body, "status": "PENDING"}, status=201)

    @send_route
    async def presence(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/sendPresence/{name} {number, presence, delay}."""
        if body.get("presence") not in (
            "available",
            "unavailable",
            "composing",
            "recording",
            "paused",
        ):
            return failure(400, "Bad Request", "presence must be a valid presence")
        self._record(instance, "sendPresence", body)
        return web.json_response({"presence": body["presence"]}, status=201)

    @instance_route
    async def media_base64(
        self, request: web.Request, instance: EvolutionInstance, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/getBase64FromMediaMessage/{name} {message: {key: {id}}}."""
        wanted = (((body.get("message") or {}).get("key")) or {}).get("id")
        found = instance.media.get(str(wanted))
        if found is None:
            return failure(400, "Bad Request", "Message not found")
        mime, data = found
        return web.json_response(
            {
                "mediaType": "imageMessage",
                "fileName": None,
                "mimetype": mime,
                "base64": base64.b64encode(data).decode(),
            },
            status=201,
        )

    # Webhooks

    async def emit(self, instance: EvolutionInstance, event: str, data: Any) -> None:
        """Post an event, unsigned, if the instance's webhook wants it."""
        hook = instance.webhook
        upper = event.replace(".", "_").upper()
        if not hook.get("enabled") or upper not in hook.get("events", []):
            return
        url = str(hook["url"])
        if hook.get("webhookByEvents"):
            url = f"{url}/{event.replace('.', '-')}"
        envelope = {
            "event": event,
            "instance": instance.name,
            "data": data,
            "destination": hook["url"],
            "date_time": now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sender": instance.owner_jid,
            "server_url": SERVER_URL,
            "apikey": instance.token if self.config.expose_tokens else None,
        }
        headers = {str(k): str(v) for k, v in (hook.get("headers") or {}).items()}
        await self.sender.post("evolution", url, json_bytes(envelope), "application/json", headers)

    # Control API (the phone side)

    def _control_instance(self, request: web.Request) -> EvolutionInstance:
        instance = self.instances.get(request.match_info["name"])
        if instance is None:
            raise web.HTTPNotFound(text="no such instance")
        return instance

    async def control_instances(self, request: web.Request) -> web.Response:
        """Every instance with its token and webhook."""
        return web.json_response(
            [{**i.row(True), "webhook": i.webhook} for i in self.instances.values()]
        )

    async def control_scan(self, request: web.Request) -> web.Response:
        """The phone scans the QR code: {number, name}."""
        instance = self._control_instance(request)
        body = await read_json(request)
        await self.link(instance, str(body.get("number", "")), str(body.get("name", "")))
        return web.json_response(instance.row(True))

    async def link(self, instance: EvolutionInstance, number: str, name: str) -> None:
        """The phone linked the instance."""
        if instance.state != "connecting" or instance.owner:
            raise conflict("this instance is not showing a QR code")
        instance.owner = "".join(ch for ch in number or "5511912345678" if ch.isdigit())
        instance.profile_name = name
        instance.pairing_code = ""
        await self._set_state(instance, "open")

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A contact writes (see inbound)."""
        instance = self._control_instance(request)
        return web.json_response(await self.inbound(instance, await read_json(request)))

    async def inbound(self, instance: EvolutionInstance, body: dict[str, Any]) -> dict[str, Any]:
        """Post what a contact sends: text, media, location, reaction, edit, delete.

        Body: from, name, text, kind, group, id, reply_to, lid, from_me, mime_type, data,
        caption, latitude, longitude, target_id, emoji, mentions.
        """
        sender = "".join(ch for ch in str(body.get("from", "491700000002")) if ch.isdigit())
        group = body.get("group")
        person = f"{sender}@s.whatsapp.net"
        lid = contact_lid(sender)
        key: dict[str, Any] = {
            "remoteJid": str(group) if group else (lid if body.get("lid") else person),
            "fromMe": bool(body.get("from_me", False)),
            "id": str(body.get("id") or message_id()),
        }
        if group:
            key["participant"] = lid if body.get("lid") else person
        if body.get("lid"):
            key["senderPn"] = person
        kind = str(body.get("kind", "text"))
        if kind == "vote":
            return await self._vote(instance, body, key)
        if kind == "delete":
            deleted = {**key, "id": str(body.get("target_id", ""))}
            await self.emit(instance, "messages.delete", deleted)
            return deleted
        text = str(body.get("text") or body.get("caption") or "")
        context: dict[str, Any] = {}
        if body.get("reply_to"):
            context["stanzaId"] = str(body["reply_to"])
        if body.get("mentions"):
            context["mentionedJid"] = [remote_jid(str(n)) for n in body["mentions"]]
        message: dict[str, Any]
        if kind == "text":
            message = (
                {"extendedTextMessage": {"text": text, "contextInfo": context}}
                if context
                else {"conversation": text}
            )
        elif kind in MEDIA_KEYS:
            data = base64.b64decode(str(body.get("data", "")).split(",", 1)[-1] or "") or b"sim"
            mime = str(body.get("mime_type", "application/octet-stream"))
            instance.media[key["id"]] = (mime, data)
            part: dict[str, Any] = {"mimetype": mime, "url": "https://mmg.whatsapp.net/v/t62/x.enc"}
            if text:
                part["caption"] = text
            if kind == "voice":
                part["ptt"] = True
            if context:
                part["contextInfo"] = context
            message = {MEDIA_KEYS[kind]: part}
            if (instance.webhook or {}).get("webhookBase64"):
                message["base64"] = base64.b64encode(data).decode()
        elif kind == "location":
            message = {
                "locationMessage": {
                    "degreesLatitude": float(body.get("latitude", 0)),
                    "degreesLongitude": float(body.get("longitude", 0)),
                }
            }
        elif kind == "reaction":
            target = {
                "remoteJid": key["remoteJid"],
                "fromMe": True,
                "id": str(body.get("target_id", "")),
            }
            message = {"reactionMessage": {"key": target, "text": str(body.get("emoji", "👍"))}}
        elif kind == "edit":
            target = {
                "remoteJid": key["remoteJid"],
                "fromMe": False,
                "id": str(body.get("target_id", "")),
            }
            message = {
                "protocolMessage": {
                    "key": target,
                    "type": "MESSAGE_EDIT",
                    "editedMessage": {"conversation": text},
                }
            }
        elif kind == "poll":
            values = [{"optionName": str(o)} for o in body.get("options") or []]
            message = {"pollCreationMessageV3": {"name": text, "options": values}}
        else:
            raise web.HTTPBadRequest(text=f"unknown message kind {kind}")
        data_out = {
            "key": key,
            "pushName": str(body.get("name", "")),
            "status": "DELIVERY_ACK",
            "message": message,
            "messageType": next(iter(message)),
            "messageTimestamp": int(time.time()),
            "instanceId": instance.id,
            "source": "android",
        }
        if kind not in ("edit", "reaction"):
            instance.chat.append(inbound_line(body, key["id"], key["remoteJid"], person))
        await self.emit(instance, "messages.upsert", data_out)
        return data_out

    async def _vote(
        self, instance: EvolutionInstance, body: dict[str, Any], key: dict[str, Any]
    ) -> dict[str, Any]:
        """A vote on a poll we sent: Evolution posts the poll's whole tally.

        Its status is DELETED, as for every update that is not an ack.
        """
        poll_id = str(body.get("poll_id", ""))
        poll = next((s for s in instance.sent if s["id"] == poll_id), None)
        values = [str(v) for v in (poll["body"].get("values") if poll else None) or []]
        chosen = {str(o) for o in body.get("options") or []}
        voter = key["participant"] if "participant" in key else key["remoteJid"]
        data = {
            "keyId": poll_id,
            "remoteJid": key["remoteJid"],
            "fromMe": True,
            "participant": None,
            "status": "DELETED",
            "pollUpdates": [
                {"name": value, "voters": [voter] if value in chosen else []} for value in values
            ],
            "instanceId": instance.id,
        }
        await self.emit(instance, "messages.update", data)
        return data

    async def control_ack(self, request: web.Request) -> web.Response:
        """The recipient got or read messages: {ids, ack: 2 (delivered) | 3 (read)}."""
        instance = self._control_instance(request)
        body = await read_json(request)
        await self.acknowledge(
            instance, [str(i) for i in body.get("ids") or []], int(body.get("ack", 3))
        )
        return web.json_response({"ok": True})

    async def acknowledge(self, instance: EvolutionInstance, ids: list[str], ack: int) -> None:
        """Post messages.update for messages Home Assistant sent."""
        if ack >= 3:
            mark_read(instance.chat, ids)
        for sent in instance.sent:
            if sent["id"] in ids:
                data = {
                    "keyId": sent["id"],
                    "remoteJid": remote_jid(str(sent["body"].get("number", ""))),
                    "fromMe": True,
                    "participant": None,
                    "status": STATUS_NAMES.get(ack, "ERROR"),
                    "instanceId": instance.id,
                }
                await self.emit(instance, "messages.update", data)

    async def control_logout(self, request: web.Request) -> web.Response:
        """The user removes the linked device on the phone."""
        await self.unlink(self._control_instance(request))
        return web.json_response({"ok": True})

    async def control_call(self, request: web.Request) -> web.Response:
        """A contact calls: {from, id, status}."""
        instance = self._control_instance(request)
        body = await read_json(request)
        caller = "".join(ch for ch in str(body.get("from", "491700000002")) if ch.isdigit())
        call = {
            "chatId": f"{caller}@s.whatsapp.net",
            "from": f"{caller}@s.whatsapp.net",
            "id": str(body.get("id") or secrets.token_hex(16).upper()),
            "date": now().isoformat(),
            "isVideo": False,
            "isGroup": False,
            "status": str(body.get("status", "offer")),
        }
        await self.emit(instance, "call", call)
        return web.json_response(call)

    async def control_webhook(self, request: web.Request) -> web.Response:
        """The webhook was changed in the manager: {url (empty: disabled), base64}."""
        instance = self._control_instance(request)
        body = await read_json(request)
        url = str(body.get("url", ""))
        base64_on = bool(body.get("base64", instance.webhook.get("webhookBase64", True)))
        instance.webhook = {
            **instance.webhook,
            "url": url,
            "enabled": bool(url),
            "webhookBase64": base64_on,
        }
        return web.json_response(instance.webhook)

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through the instance."""
        return web.json_response(self._control_instance(request).sent)

    def page_phones(self) -> list[Phone]:
        """Every instance, for the phone page."""
        return [EvolutionPhone(self, instance) for instance in self.instances.values()]


class EvolutionPhone(Phone):
    """An Evolution instance's WhatsApp account on the phone page."""

    product = "evolution"

    def __init__(self, simulator: EvolutionSimulator, instance: EvolutionInstance) -> None:
        """The phone of `instance`."""
        super().__init__(instance.name, f"Evolution instance {instance.name}")
        self.simulator = simulator
        self.instance = instance

    def state(self) -> PhoneState:
        """Linked while open; a QR code or a pairing code while connecting."""
        instance = self.instance
        return PhoneState(
            number=instance.owner,
            qr=instance.qr_payload,
            awaiting_code=bool(instance.pairing_code) and not instance.owner,
            chat=instance.chat,
        )

    async def scan(self, number: str, name: str) -> None:
        """Link by QR code."""
        await self.simulator.link(self.instance, number, name)

    async def enter_code(self, code: str, name: str) -> None:
        """Link by the pairing code shown in Home Assistant."""
        check_pairing_code(code, self.instance.pairing_code)
        self.instance.pairing_code = ""
        await self.simulator.link(self.instance, self.instance.pairing_phone, name)

    async def write(self, message: dict[str, Any]) -> str:
        """A contact writes."""
        return str((await self.simulator.inbound(self.instance, message))["key"]["id"])

    async def read(self, ids: list[str]) -> None:
        """The contact reads what Home Assistant sent."""
        await self.simulator.acknowledge(self.instance, ids, 3)

    async def unlink(self) -> None:
        """Linked devices → remove."""
        await self.simulator.unlink(self.instance)

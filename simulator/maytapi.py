"""Simulated Maytapi API, following docs/reference/gateway-contracts.md §2."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import functools
import hmac
from typing import Any

from aiohttp import web

from .common import Periodic, WebhookSender, json_bytes, message_id, now, read_json
from .phones import Phone, PhoneState, chat_line, conflict, inbound_line, mark_read
from .qr import qr_png

SEND_TYPES = frozenset(
    {
        "text",
        "media",
        "location",
        "vcard",
        "contact",
        "link",
        "reaction",
        "edit",
        "delete",
        "forward",
    }
)
NEEDS_MESSAGE = SEND_TYPES - {"location"}
PHONE_STATUSES = ("active", "qr-code", "idle", "phone-error", "loading", "disabled")
ACKS = (("delivered", 1), ("reached", 2), ("seen", 3))


def refuse(message: str, status: int = 400) -> web.Response:
    """Maytapi's error shape."""
    return web.json_response({"success": False, "message": message}, status=status)


@dataclass
class MaytapiConfig:
    """How the simulated product behaves."""

    product_id: str = "sim-product"
    api_key: str = "sim-key"
    phone_ids: tuple[str, ...] = ("12",)
    phone_limit: int = 2
    ack_interval: float = 2.0  # seconds between ack batches; 0 = only on /flush_acks

    def sign_in(self, url: str) -> dict[str, str]:
        """What to enter in the integration's form, by field label."""
        return {"Product id": self.product_id, "API key": self.api_key, "API address": url}


@dataclass
class MaytapiPhone:
    """One phone slot with its WhatsApp session."""

    id: str
    number: str = ""
    status: str = "qr-code"
    webhook: str = ""
    ack_delivery: bool | None = None
    qr_serial: int = 1
    fail_next_send: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)  # the phone page's conversation

    def public(self) -> dict[str, Any]:
        """The phone as /listPhones shows it."""
        return {
            "id": int(self.id) if self.id.isdigit() else self.id,
            "number": self.number,
            "status": self.status,
        }

    def config_answer(self) -> dict[str, Any]:
        """The answer of GET and POST /<phone>/config."""
        return {
            "success": True,
            "status": {"webhook": self.webhook, "ack_delivery": self.ack_delivery},
        }

    def status_object(self) -> dict[str, Any]:
        """The `status` object of GET /<phone>/status."""
        active = self.status == "active"
        return {
            "loggedIn": active,
            "isQr": self.status == "qr-code",
            "loading": self.status == "loading",
            "connRetry": self.status == "phone-error",
            "message": "" if active else self.status,
            "state": {"state": "CONNECTED" if active else "UNPAIRED", "canSend": active},
            "version": "2.3000.0",
            "number": self.number,
            "multidevice": True,
        }


type Route = Callable[[MaytapiSimulator, web.Request], Awaitable[web.Response]]
type PhoneHandler = Callable[[MaytapiSimulator, web.Request, MaytapiPhone], Awaitable[web.Response]]


def product_route(handler: Route) -> Route:
    """Check product id and API key before the handler runs."""

    @functools.wraps(handler)
    async def route(self: MaytapiSimulator, request: web.Request) -> web.Response:
        return self.denied(request) or await handler(self, request)

    return route


def phone_route(handler: PhoneHandler) -> Route:
    """Check the credentials and look up the phone of the path before the handler runs."""

    @functools.wraps(handler)
    async def route(self: MaytapiSimulator, request: web.Request) -> web.Response:
        if denied := self.denied(request):
            return denied
        phone = self.phones.get(request.match_info["phone"])
        if phone is None:
            return refuse(f"Phone id {request.match_info['phone']} is not in your product.")
        return await handler(self, request, phone)

    return route


class MaytapiSimulator:
    """In-memory Maytapi product with phones, webhooks, batched acks and a control API."""

    def __init__(self, config: MaytapiConfig, sender: WebhookSender) -> None:
        """Create the product and its phones."""
        self.config = config
        self.sender = sender
        self.webhook = ""
        self.ack_delivery = True
        self.phones = {phone_id: MaytapiPhone(phone_id) for phone_id in config.phone_ids}
        self.logs: list[dict[str, Any]] = []
        self.pending_acks: list[tuple[MaytapiPhone, dict[str, Any]]] = []
        self.ack_batches = Periodic(config.ack_interval, self.flush_acks)

    def routes(self) -> list[web.RouteDef]:
        """Every route of the product and of its control API."""
        r = web
        base = "/api/{pid}"
        phone = base + "/{phone}"
        return [
            r.get(base + "/product", self.product),
            r.get(base + "/listPhones", self.list_phones),
            r.post(base + "/addPhone", self.add_phone),
            r.post(base + "/setWebhook", self.set_webhook),
            r.get(base + "/logs", self.get_logs),
            r.get(phone + "/status", self.status),
            r.get(phone + "/qrCode", self.qr_code),
            r.get(phone + "/screen", self.screen),
            r.get(phone + "/logout", self.logout),
            r.get(phone + "/redeploy", self.redeploy),
            r.get(phone + "/config", self.get_config),
            r.post(phone + "/config", self.set_config),
            r.post(phone + "/sendMessage", self.send_message),
            r.post("/__emulator/maytapi/phones/{phone}/scan", self.control_scan),
            r.post("/__emulator/maytapi/phones/{phone}/inbound", self.control_inbound),
            r.post("/__emulator/maytapi/phones/{phone}/set_status", self.control_set_status),
            r.post("/__emulator/maytapi/phones/{phone}/fail_next_send", self.control_fail_next),
            r.get("/__emulator/maytapi/phones/{phone}/sent", self.control_sent),
            r.get("/__emulator/maytapi/phones", self.control_phones),
            r.post("/__emulator/maytapi/phones/{phone}/webhook", self.control_webhook),
            r.post("/__emulator/maytapi/logs", self.control_logs),
            r.post("/__emulator/maytapi/flush_acks", self.control_flush_acks),
        ]

    # Authentication and lookup

    def denied(self, request: web.Request) -> web.Response | None:
        """Maytapi's answer to a wrong product id or API key, None when both are right."""
        if request.match_info["pid"] != self.config.product_id:
            return refuse("Product id is wrong! Please check your Account information.", 401)
        key = request.headers.get("x-maytapi-key") or request.query.get("token") or ""
        if not hmac.compare_digest(key.encode(), self.config.api_key.encode()):
            return refuse("Wrong token. Please provide token as a header or query string.", 401)
        return None

    def _control_phone(self, request: web.Request) -> MaytapiPhone:
        phone = self.phones.get(request.match_info["phone"])
        if phone is None:
            raise web.HTTPNotFound(text="no such phone")
        return phone

    def _product_data(self) -> dict[str, Any]:
        return {
            "pid": self.config.product_id,
            "webhook": self.webhook,
            "ack_delivery": self.ack_delivery,
            "phone_limit": self.config.phone_limit,
        }

    # Product routes

    @product_route
    async def product(self, request: web.Request) -> web.Response:
        """GET /product."""
        return web.json_response(self._product_data())

    @product_route
    async def list_phones(self, request: web.Request) -> web.Response:
        """GET /listPhones."""
        return web.json_response([phone.public() for phone in self.phones.values()])

    @product_route
    async def add_phone(self, request: web.Request) -> web.Response:
        """POST /addPhone."""
        if len(self.phones) >= self.config.phone_limit:
            return refuse("You have reached your phone limit. Please upgrade your plan.")
        phone_id = str(max((int(p) for p in self.phones if p.isdigit()), default=0) + 1)
        phone = self.phones[phone_id] = MaytapiPhone(phone_id)
        return web.json_response(
            {"id": phone_id, "pid": self.config.product_id, "number": phone.number}
        )

    @product_route
    async def set_webhook(self, request: web.Request) -> web.Response:
        """POST /setWebhook."""
        url = (await read_json(request)).get("webhook")
        if not isinstance(url, str):
            return refuse("webhook is required")
        self.webhook = url
        return web.json_response(self._product_data())

    @product_route
    async def get_logs(self, request: web.Request) -> web.Response:
        """GET /logs: the webhook delivery log."""
        return web.json_response(
            {"success": True, "data": {"count": str(len(self.logs)), "list": self.logs}}
        )

    # Phone routes

    @phone_route
    async def status(self, request: web.Request, phone: MaytapiPhone) -> web.Response:
        """GET /<phone>/status."""
        return web.json_response({"success": True, "status": phone.status_object()})

    @phone_route
    async def qr_code(self, request: web.Request, phone: MaytapiPhone) -> web.Response:
        """GET /<phone>/qrCode: the PNG itself while the phone shows a QR code."""
        if phone.status != "qr-code":
            return refuse(f"Phone is not on the QR screen (status: {phone.status})")
        return web.Response(body=qr_png(self.qr_payload(phone)), content_type="image/png")

    def qr_payload(self, phone: MaytapiPhone) -> str:
        """What the current QR of a phone encodes."""
        return f"2@maytapi,{self.config.product_id},{phone.id},{phone.qr_serial}"

    @phone_route
    async def screen(self, request: web.Request, phone: MaytapiPhone) -> web.Response:
        """GET /<phone>/screen: a screenshot (here: the QR or a blank pattern)."""
        return web.Response(body=qr_png(f"screen:{phone.status}"), content_type="image/png")

    @phone_route
    async def logout(self, request: web.Request, phone: MaytapiPhone) -> web.Response:
        """GET /<phone>/logout: back to the QR screen."""
        phone.number = ""
        await self._set_status(phone, "qr-code")
        return web.json_response({"success": True})

    @phone_route
    async def redeploy(self, request: web.Request, phone: MaytapiPhone) -> web.Response:
        """GET /<phone>/redeploy: restart; a linked phone comes back active."""
        await self._set_status(phone, "loading")
        phone.qr_serial += 1
        await self._set_status(phone, "active" if phone.number else "qr-code")
        return web.json_response({"success": True, "message": f"Phone {phone.id} is restarted."})

    @phone_route
    async def get_config(self, request: web.Request, phone: MaytapiPhone) -> web.Response:
        """GET /<phone>/config."""
        return web.json_response(phone.config_answer())

    @phone_route
    async def set_config(self, request: web.Request, phone: MaytapiPhone) -> web.Response:
        """POST /<phone>/config: nested {"webhook": {"webhook": url}} per the spec, flat too."""
        body = await read_json(request)
        webhook = body.get("webhook")
        if isinstance(webhook, dict):
            webhook = webhook.get("webhook")
        if webhook is not None and not isinstance(webhook, str):
            return refuse("webhook must be a URL")
        ack = body.get("ack_delivery", body.get("ackDelivery"))
        if webhook is not None:
            phone.webhook = webhook
        if isinstance(ack, bool):
            phone.ack_delivery = ack
        return web.json_response(phone.config_answer())

    @phone_route
    async def send_message(self, request: web.Request, phone: MaytapiPhone) -> web.Response:
        """POST /<phone>/sendMessage: validated, queued, acknowledged in batches."""
        body = await read_json(request)
        to_number = body.get("to_number")
        message_type = body.get("type")
        if not isinstance(to_number, str) or not to_number:
            return refuse("to_number is required")
        if message_type not in SEND_TYPES:
            return refuse(f"type must be one of {', '.join(sorted(SEND_TYPES))}")
        if message_type in NEEDS_MESSAGE and not body.get("message"):
            return refuse("message is required")
        if message_type == "location" and not (body.get("latitude") and body.get("longitude")):
            return refuse("latitude and longitude are required")
        if message_type == "media" and not _valid_media(str(body["message"])):
            return refuse("message must be a URL or a base64 data URL")
        if message_type in ("reaction", "edit") and not body.get("reply_to"):
            return refuse(f"reply_to is required for {message_type}s")
        digits = to_number.split("@")[0]
        chat_id = to_number if to_number.endswith("@g.us") else f"{digits}@c.us"
        sent_id = message_id()
        record = {"id": sent_id, "chat_id": chat_id, "body": body}
        phone.sent.append(record)
        if message_type in ("edit", "delete"):
            _change_line(phone.chat, message_type, body)
        else:
            phone.chat.append(_chat_line_sent(sent_id, chat_id, body))
        if phone.fail_next_send:
            phone.fail_next_send = False
            self.sender.later(
                self._deliver(
                    phone,
                    {
                        "type": "error",
                        "code": "F01",
                        "message": "Message could not be sent",
                        "data": {"chatId": chat_id, "msgId": sent_id},
                        "msgId": sent_id,
                        "chatId": chat_id,
                    },
                )
            )
        elif self._acks_wanted(phone):
            for ack_type, code in ACKS:
                ack = {
                    "ackType": ack_type,
                    "ackCode": code,
                    "chatId": chat_id,
                    "msgId": sent_id,
                    "time": int(now().timestamp()),
                }
                self.pending_acks.append((phone, ack))
        return web.json_response({"success": True, "data": {"chatId": chat_id, "msgId": sent_id}})

    def _acks_wanted(self, phone: MaytapiPhone) -> bool:
        return phone.ack_delivery if phone.ack_delivery is not None else self.ack_delivery

    # Webhooks

    def _webhook_url(self, phone: MaytapiPhone) -> str:
        return phone.webhook or self.webhook

    async def _deliver(self, phone: MaytapiPhone, body: dict[str, Any]) -> None:
        url = self._webhook_url(phone)
        if not url:
            return
        raw = json_bytes(body)
        delivery = await self.sender.post("maytapi", url, raw, "application/json")
        self.logs.append(
            {
                "id": len(self.logs) + 1,
                "pid": self.config.product_id,
                "phone": phone.id,
                "created_at": now().isoformat(),
                "type": "incoming" if body.get("type") == "message" else "outgoing",
                "data": {
                    "body": body,
                    "webhook": url,
                    "response": {"body": delivery.error or "OK", "statusCode": delivery.status},
                },
            }
        )

    async def _set_status(self, phone: MaytapiPhone, status: str) -> None:
        phone.status = status
        await self._deliver(
            phone,
            {
                "type": "status",
                "pid": self.config.product_id,
                "phone_id": phone.id,
                "status": status,
            },
        )

    async def flush_acks(self) -> int:
        """Deliver the acks collected so far, one batched webhook per phone."""
        pending, self.pending_acks = self.pending_acks, []
        batches: dict[str, list[dict[str, Any]]] = {}
        for phone, ack in pending:
            batches.setdefault(phone.id, []).append(ack)
        for phone_id, acks in batches.items():
            phone = self.phones[phone_id]
            await self._deliver(phone, self._ack_batch(phone, acks))
        return len(pending)

    def _ack_batch(self, phone: MaytapiPhone, acks: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "type": "ack",
            "product_id": self.config.product_id,
            "phone_id": int(phone.id) if phone.id.isdigit() else phone.id,
            "data": acks,
        }

    # Control API (the phone side)

    async def control_scan(self, request: web.Request) -> web.Response:
        """The phone scans the QR code."""
        phone = self._control_phone(request)
        await self.scan(phone, str((await read_json(request)).get("number", "")))
        return web.json_response(phone.public())

    async def scan(self, phone: MaytapiPhone, number: str) -> None:
        """The phone links as the account `number`."""
        if phone.status != "qr-code":
            raise conflict("this phone is not showing a QR code")
        phone.number = number or "905301234567"
        await self._set_status(phone, "active")

    async def unlink(self, phone: MaytapiPhone) -> None:
        """The session ends: the phone slot shows a new QR code."""
        phone.number = ""
        phone.qr_serial += 1
        await self._set_status(phone, "qr-code")

    async def read(self, phone: MaytapiPhone, ids: list[str]) -> None:
        """The contact saw messages: a `seen` ack for each, at once."""
        acks = [
            {"ackType": "seen", "ackCode": 3, "chatId": chat, "msgId": sent_id}
            | {"time": int(now().timestamp())}
            for chat, read in mark_read(phone.chat, ids).items()
            for sent_id in read
        ]
        if acks:
            await self._deliver(phone, self._ack_batch(phone, acks))

    def page_phones(self) -> list[Phone]:
        """Every phone slot, for the phone page."""
        return [MaytapiPhoneSide(self, phone) for phone in self.phones.values()]

    async def control_set_status(self, request: web.Request) -> web.Response:
        """Force a phone status (idle, phone-error, disabled, …)."""
        phone = self._control_phone(request)
        status = (await read_json(request)).get("status")
        if status not in PHONE_STATUSES:
            raise web.HTTPBadRequest(text=f"status must be one of {', '.join(PHONE_STATUSES)}")
        if status == "qr-code":
            await self.unlink(phone)
        else:
            await self._set_status(phone, str(status))
        return web.json_response(phone.public())

    async def control_fail_next(self, request: web.Request) -> web.Response:
        """The next send is accepted but then fails (an `error` webhook instead of acks)."""
        phone = self._control_phone(request)
        phone.fail_next_send = True
        return web.json_response({"ok": True})

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through this phone."""
        return web.json_response(self._control_phone(request).sent)

    async def control_phones(self, request: web.Request) -> web.Response:
        """Every phone with its settings."""
        return web.json_response(
            [
                {**phone.public(), "webhook": phone.webhook, "ack_delivery": phone.ack_delivery}
                for phone in self.phones.values()
            ]
        )

    async def control_webhook(self, request: web.Request) -> web.Response:
        """The phone's webhook was changed in the console: {"url": …}.

        An empty URL also clears the product's.
        """
        phone = self._control_phone(request)
        phone.webhook = str((await read_json(request)).get("url", ""))
        if not phone.webhook:
            self.webhook = ""
        return web.json_response({"ok": True})

    async def control_logs(self, request: web.Request) -> web.Response:
        """Entries for the webhook log as Maytapi keeps them: {"entries": […]}."""
        entries = (await read_json(request)).get("entries", [])
        if not isinstance(entries, list):
            raise web.HTTPBadRequest(text="entries must be a list")
        self.logs += entries
        return web.json_response({"count": len(self.logs)})

    async def control_flush_acks(self, request: web.Request) -> web.Response:
        """Deliver pending acks now instead of at the next batch."""
        return web.json_response({"delivered": await self.flush_acks()})

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A contact sends a message to the phone."""
        event = await self.inbound(self._control_phone(request), await read_json(request))
        return web.json_response({"id": event["message"]["_serialized"], "event": event})

    async def inbound(self, phone: MaytapiPhone, body: dict[str, Any]) -> dict[str, Any]:
        """Post the message a contact sends (see control_inbound); the webhook body."""
        sender = "".join(ch for ch in str(body.get("from", "905301112233")) if ch.isdigit())
        conversation = str(body.get("group") or f"{sender}@c.us")
        short_id = str(body.get("id") or message_id())
        from_me = bool(body.get("from_me", False))
        kind = str(body.get("kind", "text"))
        message: dict[str, Any] = {
            "id": short_id,
            "_serialized": f"{str(from_me).lower()}_{conversation}_{short_id}",
            "fromMe": from_me,
        }
        if kind == "text":
            mentions = [f"{number}@c.us" for number in body.get("mentions") or ()]
            message |= {"type": "text", "text": str(body.get("text", "")), "mentions": mentions}
        elif kind in ("image", "video", "document", "audio", "voice", "sticker"):
            message |= {
                "type": "ptt" if kind == "voice" else kind,
                "url": str(body.get("url", f"https://cdn.maytapi.com/flow/{short_id}")),
                "mime": str(body.get("mime_type", "application/octet-stream")),
                "filename": str(body.get("filename", f"{short_id}.bin")),
            }
            if body.get("caption"):
                message["caption"] = str(body["caption"])
        elif kind == "location":
            message |= {
                "type": "location",
                "payload": f"{body.get('latitude', 0)},{body.get('longitude', 0)}",
            }
        elif kind == "contact":
            message |= {
                "type": "vcard",
                "vcardList": [
                    {
                        "displayName": str(body.get("contact_name", "")),
                        "vcard": str(body.get("vcard", "")),
                    }
                ],
            }
        else:
            raise web.HTTPBadRequest(text=f"unknown message kind {kind}")
        event: dict[str, Any] = {
            "product_id": self.config.product_id,
            "productId": self.config.product_id,
            "phone_id": int(phone.id) if phone.id.isdigit() else phone.id,
            "phoneId": int(phone.id) if phone.id.isdigit() else phone.id,
            "type": "message",
            "message": message,
            "user": {
                "id": f"{sender}@c.us",
                "name": str(body.get("name", "")),
                "phone": sender,
                "image": "",
            },
            "conversation": conversation,
            "receiver": phone.number,
            "timestamp": int(now().timestamp()),
            "reply": f"https://api.maytapi.com/api/{self.config.product_id}/{phone.id}/sendMessage",
        }
        if body.get("reply_to"):
            event["quoted"] = {
                "id": str(body["reply_to"]),
                "type": "text",
                "text": str(body.get("quoted_text", "")),
                "user": {"id": f"{phone.number}@c.us", "phone": phone.number},
            }
        phone.chat.append(
            inbound_line(body, message["_serialized"], conversation, f"{sender}@c.us")
        )
        await self._deliver(phone, event)
        return event


class MaytapiPhoneSide(Phone):
    """A Maytapi phone slot on the phone page."""

    product = "maytapi"

    def __init__(self, simulator: MaytapiSimulator, phone: MaytapiPhone) -> None:
        """The phone in slot `phone`."""
        super().__init__(phone.id, f"Maytapi phone {phone.id}")
        self.simulator = simulator
        self.phone = phone

    def state(self) -> PhoneState:
        """Linked while active; a QR code on the QR screen."""
        phone = self.phone
        qr = self.simulator.qr_payload(phone) if phone.status == "qr-code" else ""
        return PhoneState(
            number=phone.number if phone.status == "active" else "", qr=qr, chat=phone.chat
        )

    async def scan(self, number: str, name: str) -> None:
        """Link by QR code."""
        await self.simulator.scan(self.phone, number)

    async def write(self, message: dict[str, Any]) -> str:
        """A contact writes."""
        return str((await self.simulator.inbound(self.phone, message))["message"]["_serialized"])

    async def read(self, ids: list[str]) -> None:
        """Seen acks."""
        await self.simulator.read(self.phone, ids)

    async def unlink(self) -> None:
        """Linked devices → remove."""
        await self.simulator.unlink(self.phone)


def _change_line(chat: list[dict[str, Any]], change: str, body: dict[str, Any]) -> None:
    """An edit (new text, the message in reply_to) or a deletion (the message in message)."""
    target = body.get("reply_to") if change == "edit" else body.get("message")
    for line in chat:
        if line["id"] == target:
            if change == "edit":
                line.update(text=str(body["message"]), edited=True)
            else:
                line.update(text="", deleted=True)


def _chat_line_sent(sent_id: str, chat: str, body: dict[str, Any]) -> dict[str, Any]:
    """A message Home Assistant sent, as the phone page shows it."""
    kind = str(body.get("type"))
    if kind == "media":
        media = str(body["message"])
        mime = media[5:].split(";")[0] if media.startswith("data:") else ""
        shown = "image" if mime.startswith("image/") else "document"
        text = str(body.get("text") or "")
        return chat_line(
            "out",
            sent_id,
            chat,
            text,
            kind=shown,
            media=media,
            filename=str(body.get("filename") or ""),
        )
    if kind == "location":
        return chat_line(
            "out",
            sent_id,
            chat,
            f"{body['latitude']}, {body['longitude']}",
            kind="location",
            place=body.get("text", ""),
        )
    line = chat_line("out", sent_id, chat, str(body.get("message") or ""), kind=kind)
    if body.get("reply_to"):
        line["reply_to"] = str(body["reply_to"])
    return line


def _valid_media(message: str) -> bool:
    if message.startswith(("http://", "https://")):
        return True
    if not message.startswith("data:") or ";base64," not in message:
        return False
    try:
        base64.b64decode(message.split(";base64,", 1)[1], validate=True)
    except binascii.Error, ValueError:
        return False
    return True

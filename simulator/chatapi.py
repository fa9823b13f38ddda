"""Simulated Chat-API instance, following docs/reference/gateway-contracts.md §3.

One instance under `/instance<ID>/`, the token in the query string, and the numbered message
log that `GET /messages?lastMessageNumber=` pages through (incoming and own messages alike).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import functools
import hmac
from typing import Any

from aiohttp import web

from .common import WebhookSender, json_bytes, message_id, now, read_json
from .phones import Phone, PhoneState, chat_line, conflict, inbound_line, mark_read, qr_data_url
from .qr import qr_png

PAGE_SIZE = 100
ACCOUNT_STATUSES = ("init", "loading", "got qr code", "authenticated", "not_paid")


def refuse(error: str, status: int = 400) -> web.Response:
    """Chat-API's error shape."""
    return web.json_response({"error": error}, status=status)


@dataclass
class ChatApiConfig:
    """How the simulated instance behaves."""

    instance_id: str = "424242"
    token: str = "chatapi-token"  # noqa: S105 - a test double's default

    def sign_in(self, url: str) -> dict[str, str]:
        """What to enter in the integration's form, by field label."""
        return {"Instance URL": f"{url}/instance{self.instance_id}", "Token": self.token}


@dataclass
class ChatApiInstance:
    """The instance's WhatsApp Web session, settings and message log."""

    account_status: str = "got qr code"
    substatus: str = "normal"
    number: str = ""
    name: str = ""
    qr_serial: int = 1
    webhook: str = ""
    ack_notifications: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)  # the phone page's conversation

    @property
    def jid(self) -> str:
        """The account's own chat id."""
        return f"{self.number}@c.us"

    def log(self, message: dict[str, Any]) -> dict[str, Any]:
        """Number a message and append it to the log."""
        message["messageNumber"] = len(self.messages) + 1
        self.messages.append(message)
        return message


type Route = Callable[[ChatApiSimulator, web.Request], Awaitable[web.Response]]


def instance_route(handler: Route) -> Route:
    """Check the token before the handler runs."""

    @functools.wraps(handler)
    async def route(self: ChatApiSimulator, request: web.Request) -> web.Response:
        token = request.query.get("token", "")
        if not hmac.compare_digest(token.encode(), self.config.token.encode()):
            return refuse("Wrong token. Please provide token as a query string parameter.", 401)
        return await handler(self, request)

    return route


class ChatApiSimulator:
    """In-memory Chat-API instance with a control API that plays the phone."""

    def __init__(self, config: ChatApiConfig, sender: WebhookSender) -> None:
        """Create the instance, showing a QR code."""
        self.config = config
        self.sender = sender
        self.instance = ChatApiInstance()

    def routes(self) -> list[web.RouteDef]:
        """Every route of the instance and of its control API."""
        base = f"/instance{self.config.instance_id}"
        r = web
        control = "/__emulator/chatapi"
        return [
            r.get(base + "/status", self.status),
            r.get(base + "/me", self.me),
            r.get(base + "/qr_code", self.qr_code),
            r.route("*", base + "/logout", self.logout),
            r.route("*", base + "/reboot", self.reboot),
            r.post(base + "/retry", self.retry),
            r.post(base + "/takeover", self.retry),
            r.post(base + "/sendMessage", self.send_message),
            r.post(base + "/sendFile", self.send_file),
            r.post(base + "/sendPTT", self.send_ptt),
            r.post(base + "/sendLocation", self.send_location),
            r.get(base + "/messages", self.get_messages),
            r.get(base + "/webhook", self.get_webhook),
            r.post(base + "/webhook", self.set_webhook),
            r.route("*", base + "/settings/ackNotificationsOn", self.ack_notifications),
            r.post(control + "/scan", self.control_scan),
            r.post(control + "/inbound", self.control_inbound),
            r.post(control + "/ack", self.control_ack),
            r.post(control + "/set_status", self.control_set_status),
            r.post(control + "/logout_from_phone", self.control_logout),
            r.get(control + "/sent", self.control_sent),
            r.get(control + "/instance", self.control_instance),
            r.post(control + "/webhook", self.control_webhook),
            r.post(control + "/log", self.control_log),
        ]

    def qr_payload(self) -> str:
        """What the current QR encodes."""
        return f"2@chatapi,{self.config.instance_id},{self.instance.qr_serial}"

    # Session

    @instance_route
    async def status(self, request: web.Request) -> web.Response:
        """GET /status."""
        instance = self.instance
        answer: dict[str, Any] = {"accountStatus": instance.account_status}
        if instance.account_status == "got qr code":
            answer["qrCode"] = qr_data_url(self.qr_payload())
        elif instance.account_status == "authenticated":
            answer["statusData"] = {"substatus": instance.substatus, "title": "", "msg": ""}
        return web.json_response(answer)

    @instance_route
    async def me(self, request: web.Request) -> web.Response:
        """GET /me: the linked account."""
        if not self.instance.number:
            return refuse("Instance is not authenticated")
        return web.json_response({"id": self.instance.jid, "name": self.instance.name})

    @instance_route
    async def qr_code(self, request: web.Request) -> web.Response:
        """GET /qr_code: the image itself while a QR is shown."""
        if self.instance.account_status != "got qr code":
            return refuse(f"No QR code: account status is {self.instance.account_status}")
        return web.Response(body=qr_png(self.qr_payload()), content_type="image/png")

    @instance_route
    async def logout(self, request: web.Request) -> web.Response:
        """GET or POST /logout."""
        self.unlink()
        return web.json_response({"result": "Logout request sent to messengers"})

    @instance_route
    async def reboot(self, request: web.Request) -> web.Response:
        """GET or POST /reboot: a linked account comes back with a normal session."""
        self.instance.substatus = "normal"
        return web.json_response({"success": True})

    @instance_route
    async def retry(self, request: web.Request) -> web.Response:
        """POST /retry and /takeover: WhatsApp Web is opened again."""
        self.instance.substatus = "normal"
        return web.json_response({"success": True})

    def unlink(self) -> None:
        """The session ends: the instance shows a new QR code."""
        instance = self.instance
        instance.account_status = "got qr code"
        instance.number = ""
        instance.qr_serial += 1

    # Sending

    async def _send(
        self, request: web.Request, kind: str, required: tuple[str, ...]
    ) -> web.Response:
        body = await read_json(request)
        chat = body.get("chatId")
        if not chat and body.get("phone"):
            chat = f"{''.join(ch for ch in str(body['phone']) if ch.isdigit())}@c.us"
        if not isinstance(chat, str) or "@" not in chat:
            return refuse("chatId or phone is required")
        missing = [name for name in required if not body.get(name)]
        if missing:
            return refuse(f"{', '.join(missing)} is required")
        instance = self.instance
        if instance.account_status == "not_paid":
            return web.json_response({"sent": False, "message": "Instance is not paid"})
        sent_id = f"true_{chat}_{message_id()}"
        record = {"id": sent_id, "endpoint": request.path.rsplit("/", 1)[1], "body": body}
        instance.sent.append(record)
        instance.chat.append(_chat_line_sent(sent_id, chat, kind, body))
        instance.log(
            {
                "id": sent_id,
                "body": str(body.get("body") or body.get("audio") or ""),
                "type": kind,
                "senderName": instance.name,
                "fromMe": True,
                "author": instance.jid,
                "time": int(now().timestamp()),
                "chatId": chat,
            }
        )
        if instance.ack_notifications:
            await self._post({"ack": [{"id": sent_id, "chatId": chat, "status": "delivered"}]})
        return web.json_response({"sent": True, "message": f"Sent to {chat}", "id": sent_id})

    @instance_route
    async def send_message(self, request: web.Request) -> web.Response:
        """POST /sendMessage."""
        return await self._send(request, "chat", ("body",))

    @instance_route
    async def send_file(self, request: web.Request) -> web.Response:
        """POST /sendFile: the body is a URL or a base64 data URL."""
        return await self._send(request, "document", ("body", "filename"))

    @instance_route
    async def send_ptt(self, request: web.Request) -> web.Response:
        """POST /sendPTT."""
        return await self._send(request, "ptt", ("audio",))

    @instance_route
    async def send_location(self, request: web.Request) -> web.Response:
        """POST /sendLocation."""
        return await self._send(request, "location", ("lat", "lng"))

    # Inbound

    @instance_route
    async def get_messages(self, request: web.Request) -> web.Response:
        """GET /messages: after lastMessageNumber (a page), or the last 100 with `last`."""
        log = self.instance.messages
        if request.query.get("last"):
            page = log[-PAGE_SIZE:]
        else:
            try:
                after = int(request.query.get("lastMessageNumber", "0"))
            except ValueError:
                return refuse("lastMessageNumber must be a number")
            page = [m for m in log if m["messageNumber"] > after][:PAGE_SIZE]
        last = page[-1]["messageNumber"] if page else len(log)
        return web.json_response({"messages": page, "lastMessageNumber": last})

    @instance_route
    async def get_webhook(self, request: web.Request) -> web.Response:
        """GET /webhook."""
        return web.json_response(
            {"set": bool(self.instance.webhook), "webhookUrl": self.instance.webhook}
        )

    @instance_route
    async def set_webhook(self, request: web.Request) -> web.Response:
        """POST /webhook."""
        url = (await read_json(request)).get("webhookUrl")
        if not isinstance(url, str):
            return refuse("webhookUrl is required")
        self.instance.webhook = url
        return web.json_response({"set": True, "webhookUrl": url})

    @instance_route
    async def ack_notifications(self, request: web.Request) -> web.Response:
        """GET or POST /settings/ackNotificationsOn."""
        if request.method == "POST":
            value = (await read_json(request)).get("ackNotificationsOn")
            self.instance.ack_notifications = value in (1, True, "1", "true")
        return web.json_response({"ackNotificationsOn": int(self.instance.ack_notifications)})

    async def _post(self, body: dict[str, Any]) -> None:
        if self.instance.webhook:
            payload = {"instanceId": self.config.instance_id, **body}
            await self.sender.post(
                "chatapi", self.instance.webhook, json_bytes(payload), "application/json"
            )

    # Control API (the phone side)

    async def control_scan(self, request: web.Request) -> web.Response:
        """The phone scans the QR code."""
        body = await read_json(request)
        self.scan(str(body.get("number", "")), str(body.get("name", "")))
        return web.json_response({"number": self.instance.number})

    def scan(self, number: str, name: str) -> None:
        """The phone links as the account `number`."""
        instance = self.instance
        if instance.account_status != "got qr code":
            raise conflict("the instance is not showing a QR code")
        instance.number = "".join(ch for ch in number or "12025550100" if ch.isdigit())
        instance.name = name
        instance.account_status = "authenticated"
        instance.substatus = "normal"

    def page_phones(self) -> list[Phone]:
        """The instance's account, for the phone page."""
        return [ChatApiPhone(self)]

    async def control_instance(self, request: web.Request) -> web.Response:
        """The instance's state and settings."""
        instance = self.instance
        return web.json_response(
            {
                "account_status": instance.account_status,
                "number": instance.number,
                "webhook": instance.webhook,
                "ack_notifications": instance.ack_notifications,
                "messages": len(instance.messages),
            }
        )

    async def control_webhook(self, request: web.Request) -> web.Response:
        """The webhook was changed by hand: {"url": …} (empty: none)."""
        self.instance.webhook = str((await read_json(request)).get("url", ""))
        return web.json_response({"ok": True})

    async def control_log(self, request: web.Request) -> web.Response:
        """Messages for the log, as the instance keeps them: {"messages": […]} (numbered)."""
        messages = (await read_json(request)).get("messages", [])
        if not isinstance(messages, list):
            raise web.HTTPBadRequest(text="messages must be a list")
        for message in messages:
            self.instance.log(dict(message))
        return web.json_response({"count": len(self.instance.messages)})

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A contact writes: the message is logged and, with a webhook set, pushed."""
        return web.json_response(await self.inbound(await read_json(request)))

    async def inbound(self, body: dict[str, Any]) -> dict[str, Any]:
        """Log and push the message a contact sends (see control_inbound)."""
        instance = self.instance
        sender = "".join(ch for ch in str(body.get("from", "12025550111")) if ch.isdigit())
        from_me = bool(body.get("from_me", False))
        chat = str(body.get("group") or f"{sender}@c.us")
        kind = str(body.get("kind", "text"))
        message: dict[str, Any] = {
            "id": f"{str(from_me).lower()}_{chat}_{body.get('id') or message_id()}",
            "senderName": str(body.get("name", "")),
            "fromMe": from_me,
            "author": instance.jid if from_me else f"{sender}@c.us",
            "time": int(now().timestamp()),
            "chatId": chat,
        }
        if kind == "text":
            message |= {"type": "chat", "body": str(body.get("text", ""))}
        elif kind in ("image", "video", "audio", "voice", "document", "sticker"):
            message |= {
                "type": "ptt" if kind == "voice" else kind,
                "body": str(
                    body.get("url")
                    or f"https://s3.eu-central-1.wasabisys.com/incoming/{message['id']}"
                ),
            }
            if body.get("caption"):
                message["caption"] = str(body["caption"])
        elif kind == "location":
            message |= {
                "type": "location",
                "body": f"{body.get('latitude', 0)};{body.get('longitude', 0)}",
            }
        else:
            raise web.HTTPBadRequest(text=f"unknown message kind {kind}")
        if body.get("reply_to"):
            message["quotedMsgId"] = str(body["reply_to"])
        instance.log(message)
        instance.chat.append(inbound_line(body, message["id"], chat, f"{sender}@c.us"))
        await self._post({"messages": [message]})
        return message

    async def control_ack(self, request: web.Request) -> web.Response:
        """The recipient's phone confirms messages (status delivered or viewed)."""
        body = await read_json(request)
        chat = str(body.get("chat", "12025550111@c.us"))
        ids = [str(sent) for sent in body.get("ids") or []]
        acks = await self.acknowledge({chat: ids}, str(body.get("status", "viewed")))
        return web.json_response({"acks": acks})

    async def acknowledge(self, ids: dict[str, list[str]], status: str) -> list[dict[str, Any]]:
        """Post acks with `status` for the sent messages `ids` (by chat); the acks posted."""
        pairs = [(chat, sent) for chat, sent_ids in ids.items() for sent in sent_ids]
        acks = [
            {"id": sent, "queueNumber": n, "chatId": chat, "status": status}
            for n, (chat, sent) in enumerate(pairs, start=1)
        ]
        await self._post({"ack": acks})
        return acks

    async def control_set_status(self, request: web.Request) -> web.Response:
        """Force the account status and substatus (offline, computer, …)."""
        body = await read_json(request)
        status = body.get("accountStatus", self.instance.account_status)
        if status not in ACCOUNT_STATUSES:
            raise web.HTTPBadRequest(
                text=f"accountStatus must be one of {', '.join(ACCOUNT_STATUSES)}"
            )
        self.instance.account_status = str(status)
        self.instance.substatus = str(body.get("substatus", "normal"))
        return web.json_response({"accountStatus": status, "substatus": self.instance.substatus})

    async def control_logout(self, request: web.Request) -> web.Response:
        """The user removes the linked device on the phone."""
        self.unlink()
        return web.json_response({"ok": True})

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through the instance."""
        return web.json_response(self.instance.sent)


class ChatApiPhone(Phone):
    """The instance's WhatsApp account on the phone page."""

    product = "chatapi"

    def __init__(self, simulator: ChatApiSimulator) -> None:
        """The phone of the one instance."""
        super().__init__(
            simulator.config.instance_id, f"Chat-API instance {simulator.config.instance_id}"
        )
        self.simulator = simulator

    def state(self) -> PhoneState:
        """Linked once authenticated; a QR code while the instance has one."""
        instance = self.simulator.instance
        linked = instance.account_status == "authenticated"
        qr = self.simulator.qr_payload() if instance.account_status == "got qr code" else ""
        return PhoneState(number=instance.number if linked else "", qr=qr, chat=instance.chat)

    async def scan(self, number: str, name: str) -> None:
        """Link by QR code."""
        self.simulator.scan(number, name)

    async def write(self, message: dict[str, Any]) -> str:
        """A contact writes."""
        return str((await self.simulator.inbound(message))["id"])

    async def read(self, ids: list[str]) -> None:
        """Viewed acks."""
        await self.simulator.acknowledge(mark_read(self.simulator.instance.chat, ids), "viewed")

    async def unlink(self) -> None:
        """Linked devices → remove."""
        self.simulator.unlink()


def _chat_line_sent(sent_id: str, chat: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A message Home Assistant sent, as the phone page shows it."""
    if kind == "location":
        text = f"{body['lat']}, {body['lng']}"
        return chat_line("out", sent_id, chat, text, kind="location", place=body.get("address", ""))
    if kind == "ptt":
        return chat_line("out", sent_id, chat, kind="voice", media=str(body["audio"]))
    if kind == "document":
        media = str(body["body"])
        shown = "image" if media.startswith("data:image/") else "document"
        caption = str(body.get("caption") or "")
        return chat_line(
            "out", sent_id, chat, caption, kind=shown, media=media, filename=str(body["filename"])
        )
    line = chat_line("out", sent_id, chat, str(body["body"]))
    if body.get("quotedMsgId"):
        line["reply_to"] = str(body["quotedMsgId"])
    return line

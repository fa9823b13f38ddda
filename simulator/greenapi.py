"""Simulated GREEN-API instance, following docs/reference/gateway-contracts.md §5.3.

`/waInstance{id}/{method}/{token}`; the instance's state, its rotating QR code and pairing
code; sends answering `idMessage`; settings; and notifications that go to the webhook URL
(with `Authorization: Bearer <webhookUrlToken>`) or, while that URL is empty, into a queue:
`receiveNotification` gives the oldest until `deleteNotification` removes it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
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
    inbound_line,
    mark_read,
)
from .qr import qr_png

FILE_TYPES = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "voice": "audioMessage",
    "document": "documentMessage",
}
# Settings a new instance has (the console's defaults); the webhook URL empty: the queue.
DEFAULT_SETTINGS = {
    "webhookUrl": "",
    "webhookUrlToken": "",
    "delaySendMessagesMilliseconds": 1000,
    "markIncomingMessagesReaded": "no",
    "outgoingWebhook": "yes",
    "outgoingMessageWebhook": "no",
    "outgoingAPIMessageWebhook": "no",
    "incomingWebhook": "yes",
    "stateWebhook": "no",
    "incomingCallWebhook": "no",
    "pollMessageWebhook": "no",
    "editedMessageWebhook": "no",
    "deletedMessageWebhook": "no",
}
# The setting each kind of notification needs.
SETTING_OF = {
    "incomingMessageReceived": "incomingWebhook",
    "outgoingMessageReceived": "outgoingMessageWebhook",
    "outgoingMessageStatus": "outgoingWebhook",
    "stateInstanceChanged": "stateWebhook",
    "incomingCall": "incomingCallWebhook",
}


@dataclass
class GreenApiConfig:
    """How the simulated instance behaves."""

    id_instance: str = "1101000001"
    api_token: str = "sim-green-token"  # noqa: S105 - a test double's default

    def sign_in(self, url: str) -> dict[str, str]:
        """What to enter in the integration's form, by field label."""
        return {"Instance id": self.id_instance, "API token": self.api_token, "API address": url}


@dataclass
class GreenApiInstance:
    """The instance: its WhatsApp account once authorized, settings, queue and records."""

    state: str = "notAuthorized"
    number: str = ""
    name: str = ""
    qr_serial: int = 1
    pairing_code: str = ""
    pairing_phone: str = ""
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    queue: list[dict[str, Any]] = field(default_factory=list)
    next_receipt: int = 1
    sent: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def wid(self) -> str:
        """The account's id ("" before authorization)."""
        return f"{self.number}@c.us" if self.number else ""

    @property
    def qr_payload(self) -> str:
        """What the QR shown encodes ("" when none is shown)."""
        if self.state != "notAuthorized" or self.pairing_code:
            return ""
        return f"2@greenapi,{self.qr_serial}"


class GreenApiSimulator:
    """An in-memory GREEN-API instance with a control API."""

    def __init__(self, config: GreenApiConfig, sender: WebhookSender) -> None:
        """One instance, not yet authorized."""
        self.config = config
        self.sender = sender
        self.instance = GreenApiInstance()

    def routes(self) -> list[web.RouteDef]:
        """The API (one route per shape of path) and the control API."""
        r = web
        api = "/waInstance{id}/{method}/{token}"
        control = "/__emulator/greenapi"
        return [
            r.route("*", api, self.api),
            r.route("*", api + "/{argument}", self.api),
            r.get("/__files/greenapi/{name}", self.file),
            r.get(control, self.control_view),
            r.post(control + "/scan", self.control_scan),
            r.post(control + "/rotate_qr", self.control_rotate_qr),
            r.post(control + "/inbound", self.control_inbound),
            r.post(control + "/ack", self.control_ack),
            r.post(control + "/logout_from_phone", self.control_logout),
            r.post(control + "/call", self.control_call),
            r.post(control + "/settings", self.control_settings),
            r.get(control + "/sent", self.control_sent),
        ]

    async def api(self, request: web.Request) -> web.Response:
        """Every method, after the instance id and its token are checked."""
        match = request.match_info
        id_ok = match["id"] == self.config.id_instance
        token_ok = hmac.compare_digest(match["token"].encode(), self.config.api_token.encode())
        if not (id_ok and token_ok):
            return web.Response(status=401, text="Unauthorized")
        handler = getattr(self, f"method_{match['method']}", None)
        if handler is None:
            return web.json_response({"message": f"Method {match['method']} not found"}, status=404)
        result: web.Response = await handler(request)
        return result

    # Account

    async def method_getStateInstance(self, request: web.Request) -> web.Response:  # noqa: N802
        """GET getStateInstance."""
        return web.json_response({"stateInstance": self.instance.state})

    async def method_getSettings(self, request: web.Request) -> web.Response:  # noqa: N802
        """GET getSettings: the settings and the account's wid."""
        return web.json_response({"wid": self.instance.wid, **self.instance.settings})

    async def method_setSettings(self, request: web.Request) -> web.Response:  # noqa: N802
        """POST setSettings: the keys given change."""
        body = await read_json(request)
        unknown = [key for key in body if key not in DEFAULT_SETTINGS]
        if unknown:
            return web.json_response({"message": f"Unknown settings: {unknown}"}, status=400)
        self.instance.settings.update(body)
        return web.json_response({"saveSettings": True})

    async def method_qr(self, request: web.Request) -> web.Response:
        """GET qr: the current code as base64 PNG, or why there is none."""
        instance = self.instance
        if instance.state == "authorized":
            return web.json_response(
                {"type": "alreadyLogged", "message": "instance account already authorized"}
            )
        if not instance.qr_payload:
            return web.json_response({"type": "error", "message": "QR code not available"})
        png = base64.b64encode(qr_png(instance.qr_payload)).decode()
        return web.json_response({"type": "qrCode", "message": png})

    async def method_getAuthorizationCode(self, request: web.Request) -> web.Response:  # noqa: N802
        """POST getAuthorizationCode {phoneNumber}."""
        number = str((await read_json(request)).get("phoneNumber", ""))
        if not number.isdigit() or self.instance.state == "authorized":
            return web.json_response({"status": False, "code": ""})
        self.instance.pairing_code = "".join(
            secrets.choice("ABCDEFGHJKLMNPQRSTVWXYZ23456789") for _ in range(8)
        )
        self.instance.pairing_phone = number
        return web.json_response({"status": True, "code": self.instance.pairing_code})

    async def method_logout(self, request: web.Request) -> web.Response:
        """GET logout."""
        await self.unlink()
        return web.json_response({"isLogout": True})

    async def method_reboot(self, request: web.Request) -> web.Response:
        """GET reboot: a sleeping instance wakes."""
        if self.instance.state == "sleepMode":
            await self._set_state("authorized" if self.instance.number else "notAuthorized")
        return web.json_response({"isReboot": True})

    # Sending

    def _not_authorized(self) -> web.Response | None:
        if self.instance.state != "authorized":
            return web.json_response({"message": "Instance is not authorized"}, status=400)
        return None

    def _answer(self, chat: str, record: dict[str, Any], line: dict[str, Any]) -> web.Response:
        sent_id = "BAE5" + secrets.token_hex(6).upper()
        self.instance.sent.append({"id": sent_id, "chat": chat, **record})
        self.instance.chat.append({**line, "id": sent_id, "chat": chat})
        return web.json_response({"idMessage": sent_id})

    async def method_sendMessage(self, request: web.Request) -> web.Response:  # noqa: N802
        """POST sendMessage {chatId, message, quotedMessageId}."""
        if denied := self._not_authorized():
            return denied
        body = await read_json(request)
        if not body.get("chatId") or not isinstance(body.get("message"), str):
            return web.json_response({"message": "chatId and message are required"}, status=400)
        line = chat_line("out", "", "", body["message"], reply_to=body.get("quotedMessageId"))
        return self._answer(str(body["chatId"]), {"method": "sendMessage", "body": body}, line)

    async def method_sendFileByUpload(self, request: web.Request) -> web.Response:  # noqa: N802
        """POST sendFileByUpload (multipart: file, chatId, fileName, caption)."""
        if denied := self._not_authorized():
            return denied
        form = await request.post()
        upload = form.get("file")
        chat = form.get("chatId")
        if not isinstance(upload, web.FileField) or not isinstance(chat, str):
            return web.json_response({"message": "file and chatId are required"}, status=400)
        data = upload.file.read()
        fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
        mime = upload.content_type
        line = chat_line(
            "out",
            "",
            "",
            fields.get("caption", ""),
            kind="image" if mime.startswith("image/") else "document",
            media=f"data:{mime};base64,{base64.b64encode(data).decode()}",
            filename=fields.get("fileName", ""),
        )
        record = {
            "method": "sendFileByUpload",
            "body": fields,
            "file": {"content_type": mime, "base64": base64.b64encode(data).decode()},
        }
        return self._answer(chat, record, line)

    async def method_sendLocation(self, request: web.Request) -> web.Response:  # noqa: N802
        """POST sendLocation {chatId, latitude, longitude, nameLocation, address}."""
        if denied := self._not_authorized():
            return denied
        body = await read_json(request)
        text = f"{body.get('latitude')}, {body.get('longitude')}"
        place = ", ".join(str(body[k]) for k in ("nameLocation", "address") if body.get(k))
        line = chat_line("out", "", "", text, kind="location", place=place)
        return self._answer(str(body.get("chatId")), {"method": "sendLocation", "body": body}, line)

    async def method_sendPoll(self, request: web.Request) -> web.Response:  # noqa: N802
        """POST sendPoll {chatId, message, options: [{optionName}], multipleAnswers}."""
        if denied := self._not_authorized():
            return denied
        body = await read_json(request)
        options = [
            str(o.get("optionName")) for o in body.get("options") or [] if isinstance(o, dict)
        ]
        if not 2 <= len(options) <= 12:
            return web.json_response({"message": "options must have 2 to 12 items"}, status=400)
        text = "\n".join([str(body.get("message")), *(f"○ {option}" for option in options)])
        line = chat_line("out", "", "", text, kind="poll")
        return self._answer(str(body.get("chatId")), {"method": "sendPoll", "body": body}, line)

    async def method_readChat(self, request: web.Request) -> web.Response:  # noqa: N802
        """POST readChat {chatId, idMessage}."""
        body = await read_json(request)
        self.instance.sent.append({"id": None, "method": "readChat", "body": body})
        return web.json_response({"setRead": True})

    async def method_checkWhatsapp(self, request: web.Request) -> web.Response:  # noqa: N802
        """POST checkWhatsapp {phoneNumber}."""
        number = str((await read_json(request)).get("phoneNumber", ""))
        return web.json_response(
            {"existsWhatsapp": number.isdigit() and not number.endswith("0000")}
        )

    # Notifications

    async def method_receiveNotification(self, request: web.Request) -> web.Response:  # noqa: N802
        """GET receiveNotification: the oldest notification, or null."""
        queue = self.instance.queue
        return web.json_response(queue[0] if queue else None)

    async def method_deleteNotification(self, request: web.Request) -> web.Response:  # noqa: N802
        """DELETE deleteNotification/{receiptId}."""
        receipt = request.match_info.get("argument", "")
        before = len(self.instance.queue)
        self.instance.queue = [n for n in self.instance.queue if str(n["receiptId"]) != receipt]
        return web.json_response({"result": len(self.instance.queue) < before})

    async def notify(self, body: dict[str, Any]) -> None:
        """A notification, if its setting is on: to the webhook URL, else into the queue."""
        settings = self.instance.settings
        setting = SETTING_OF.get(str(body["typeWebhook"]))
        if setting is not None and settings.get(setting) != "yes":
            return
        body = {
            **body,
            "instanceData": {
                "idInstance": int(self.config.id_instance),
                "wid": self.instance.wid,
                "typeInstance": "whatsapp",
            },
            "timestamp": int(time.time()),
        }
        url = str(settings.get("webhookUrl") or "")
        if not url:
            self.instance.queue.append({"receiptId": self.instance.next_receipt, "body": body})
            self.instance.next_receipt += 1
            return
        headers = {}
        if token := settings.get("webhookUrlToken"):
            headers["Authorization"] = f"Bearer {token}"
        await self.sender.post("greenapi", url, json_bytes(body), "application/json", headers)

    async def _set_state(self, state: str) -> None:
        self.instance.state = state
        await self.notify({"typeWebhook": "stateInstanceChanged", "stateInstance": state})

    async def file(self, request: web.Request) -> web.Response:
        """A received file, at its downloadUrl (no key: the URL is the secret)."""
        found = self.instance.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[1], content_type=found[0])

    # Control API (the phone side)

    async def control_view(self, request: web.Request) -> web.Response:
        """The instance: state, settings, queue."""
        instance = self.instance
        return web.json_response(
            {
                "state": instance.state,
                "number": instance.number,
                "settings": instance.settings,
                "queue": instance.queue,
            }
        )

    async def control_scan(self, request: web.Request) -> web.Response:
        """The phone scans the QR code: {number, name}."""
        body = await read_json(request)
        await self.link(str(body.get("number", "")), str(body.get("name", "")))
        return web.json_response({"state": self.instance.state})

    async def link(self, number: str, name: str) -> None:
        """The phone authorized the instance."""
        if self.instance.state != "notAuthorized":
            raise conflict("this instance is not showing a QR code")
        self.instance.number = "".join(ch for ch in number or "79001234567" if ch.isdigit())
        self.instance.name = name
        self.instance.pairing_code = ""
        await self._set_state("authorized")

    async def control_rotate_qr(self, request: web.Request) -> web.Response:
        """The next QR code (GREEN-API changes it every 20 s or so)."""
        self.instance.qr_serial += 1
        return web.json_response({"qr": self.instance.qr_payload})

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A contact writes (see inbound)."""
        body = await read_json(request)
        origin = f"{request.scheme}://{request.host}"
        return web.json_response(await self.inbound(body, origin))

    async def inbound(self, body: dict[str, Any], origin: str = "") -> dict[str, Any]:
        """The notification of what a contact sends.

        Body: from, name, text, kind, group, id, reply_to, from_me, mime_type, data, filename,
        caption, latitude, longitude, options, poll_id, target_id, emoji.
        """
        sender = "".join(ch for ch in str(body.get("from", "79040865149")) if ch.isdigit())
        group = body.get("group")
        chat = str(group) if group else f"{sender}@c.us"
        short = str(body.get("id") or message_id())
        kind = str(body.get("kind", "text"))
        text = str(body.get("text") or body.get("caption") or "")
        data: dict[str, Any]
        if kind == "text" and body.get("reply_to"):
            data = {
                "typeMessage": "quotedMessage",
                "extendedTextMessageData": {"text": text},
                "quotedMessage": {"stanzaId": str(body["reply_to"]), "typeMessage": "textMessage"},
            }
        elif kind == "text":
            data = {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
        elif kind in FILE_TYPES:
            mime = str(body.get("mime_type", "application/octet-stream"))
            raw = base64.b64decode(str(body.get("data", "")).split(",", 1)[-1] or "") or b"sim"
            name = f"{short}.{mime.split('/')[-1].split(';')[0]}"
            self.instance.files[name] = (mime, raw)
            data = {
                "typeMessage": FILE_TYPES[kind],
                "fileMessageData": {
                    "downloadUrl": f"{origin}/__files/greenapi/{name}",
                    "caption": text,
                    "fileName": str(body.get("filename") or name),
                    "mimeType": mime,
                },
            }
            if body.get("reply_to"):
                data["quotedMessage"] = {"stanzaId": str(body["reply_to"])}
        elif kind == "location":
            data = {
                "typeMessage": "locationMessage",
                "locationMessageData": {
                    "latitude": float(body.get("latitude", 0)),
                    "longitude": float(body.get("longitude", 0)),
                    "nameLocation": str(body.get("place", "")),
                },
            }
        elif kind == "reaction":
            data = {
                "typeMessage": "reactionMessage",
                "extendedTextMessageData": {"text": str(body.get("emoji", "👍"))},
                "quotedMessage": {"stanzaId": str(body.get("target_id", ""))},
            }
        elif kind == "edit":
            data = {
                "typeMessage": "editedMessage",
                "editedMessageData": {
                    "textMessage": text,
                    "stanzaId": str(body.get("target_id", "")),
                },
            }
        elif kind == "delete":
            data = {
                "typeMessage": "deletedMessage",
                "deletedMessageData": {"stanzaId": str(body.get("target_id", ""))},
            }
        elif kind == "poll":
            options = [{"optionName": str(o)} for o in body.get("options") or []]
            data = {
                "typeMessage": "pollMessage",
                "pollMessageData": {"name": text, "options": options, "multipleAnswers": False},
            }
        elif kind == "vote":
            data = self._vote(body, f"{sender}@c.us")
        else:
            raise web.HTTPBadRequest(text=f"unknown message kind {kind}")
        from_me = bool(body.get("from_me", False))
        notification = {
            "typeWebhook": "outgoingMessageReceived" if from_me else "incomingMessageReceived",
            "idMessage": short,
            "senderData": {
                "chatId": chat,
                "chatName": str(body.get("name", "")),
                "sender": f"{sender}@c.us",
                "senderName": str(body.get("name", "")),
                "senderContactName": "",
            },
            "messageData": data,
        }
        if kind not in ("edit", "delete", "reaction", "vote"):
            self.instance.chat.append(inbound_line(body, short, chat, f"{sender}@c.us"))
        await self.notify(notification)
        return notification

    def _vote(self, body: dict[str, Any], voter: str) -> dict[str, Any]:
        """pollUpdateMessage: the tally of a poll Home Assistant sent, with the vote in it."""
        poll_id = str(body.get("poll_id", ""))
        poll = next((s for s in self.instance.sent if s["id"] == poll_id), None)
        poll_body = poll["body"] if poll else {}
        names = [str(o.get("optionName")) for o in poll_body.get("options") or []]
        chosen = {str(o) for o in body.get("options") or []}
        votes = [
            {"optionName": name, "optionVoters": [voter] if name in chosen else []}
            for name in names
        ]
        return {
            "typeMessage": "pollUpdateMessage",
            "pollMessageData": {
                "stanzaId": poll_id,
                "name": str(poll_body.get("message", "")),
                "votes": votes,
                "multipleAnswers": bool(poll_body.get("multipleAnswers")),
            },
        }

    async def control_ack(self, request: web.Request) -> web.Response:
        """The recipient got or read messages: {ids, status: delivered | read}."""
        body = await read_json(request)
        await self.acknowledge(
            [str(i) for i in body.get("ids") or []], str(body.get("status", "read"))
        )
        return web.json_response({"ok": True})

    async def acknowledge(self, ids: list[str], status: str) -> None:
        """outgoingMessageStatus for messages Home Assistant sent."""
        if status == "read":
            mark_read(self.instance.chat, ids)
        for sent in self.instance.sent:
            if sent["id"] in ids:
                await self.notify(
                    {
                        "typeWebhook": "outgoingMessageStatus",
                        "chatId": sent["chat"],
                        "idMessage": sent["id"],
                        "status": status,
                        "sendByApi": True,
                    }
                )

    async def control_logout(self, request: web.Request) -> web.Response:
        """The user removes the linked device on the phone."""
        await self.unlink()
        return web.json_response({"ok": True})

    async def unlink(self) -> None:
        """Not authorized any more: a new QR code."""
        self.instance.number = ""
        self.instance.qr_serial += 1
        await self._set_state("notAuthorized")

    async def control_call(self, request: web.Request) -> web.Response:
        """A contact calls: {from, id, status}."""
        body = await read_json(request)
        caller = "".join(ch for ch in str(body.get("from", "79040865149")) if ch.isdigit())
        notification = {
            "typeWebhook": "incomingCall",
            "from": f"{caller}@c.us",
            "idMessage": str(body.get("id") or secrets.token_hex(16).upper()),
            "status": str(body.get("status", "offer")),
        }
        await self.notify(notification)
        return web.json_response(notification)

    async def control_settings(self, request: web.Request) -> web.Response:
        """The settings were changed in the console."""
        self.instance.settings.update(await read_json(request))
        return web.json_response(self.instance.settings)

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through the instance."""
        return web.json_response(self.instance.sent)

    def page_phones(self) -> list[Phone]:
        """The instance's account, for the phone page."""
        return [GreenApiPhone(self)]


class GreenApiPhone(Phone):
    """The GREEN-API instance's WhatsApp account on the phone page."""

    product = "greenapi"

    def __init__(self, simulator: GreenApiSimulator) -> None:
        """The phone of the instance."""
        super().__init__(
            simulator.config.id_instance, f"GREEN-API instance {simulator.config.id_instance}"
        )
        self.simulator = simulator

    def state(self) -> PhoneState:
        """Authorized, or a QR code (or a pairing code) to link it."""
        instance = self.simulator.instance
        return PhoneState(
            number=instance.number,
            qr=instance.qr_payload,
            awaiting_code=bool(instance.pairing_code) and not instance.number,
            chat=instance.chat,
        )

    async def scan(self, number: str, name: str) -> None:
        """Link by QR code."""
        await self.simulator.link(number, name)

    async def enter_code(self, code: str, name: str) -> None:
        """Link by the code shown in Home Assistant."""
        instance = self.simulator.instance
        check_pairing_code(code, instance.pairing_code)
        phone = instance.pairing_phone
        instance.pairing_code = ""
        await self.simulator.link(phone, name)

    async def write(self, message: dict[str, Any]) -> str:
        """A contact writes."""
        return str((await self.simulator.inbound(message))["idMessage"])

    async def read(self, ids: list[str]) -> None:
        """The contact reads what Home Assistant sent."""
        await self.simulator.acknowledge(ids, "read")

    async def unlink(self) -> None:
        """Linked devices → remove."""
        await self.simulator.unlink()

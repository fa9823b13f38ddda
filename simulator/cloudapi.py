"""Simulated WhatsApp Cloud API (Meta's Graph API for one business number).

The number's endpoint, sends answering `wamid` ids, media uploaded and fetched by id (with the
token), Meta's error bodies, and the webhook as Meta runs it: set in the app's dashboard
(here: the control API), checked with a `GET` handshake before the first post, every post
signed with the app secret. Free-form messages to someone who has not written in 24 hours are
taken, then fail with error 131047, as on Meta's side; templates always go.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
import hashlib
import hmac
import secrets
import time
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from .common import WebhookSender, json_bytes, message_id, read_json
from .phones import Phone, PhoneState, chat_line, conflict, inbound_line, mark_read

VERSION_PREFIX = "/{version:v[0-9.]+}"
# How long after a customer's last message free-form messages may be sent.
SERVICE_WINDOW = 24 * 3600
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def graph_error(status: int, message: str, code: int, kind: str = "OAuthException") -> web.Response:
    """Meta's error body."""
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_hex(8)}
    return web.json_response({"error": error}, status=status)


@dataclass
class CloudApiConfig:
    """How the simulated number behaves."""

    access_token: str = "sim-cloud-token"  # noqa: S105 - a test double's default
    phone_number_id: str = "106540352242922"
    app_secret: str = "sim-app-secret"  # noqa: S105 - a test double's default
    display_number: str = "+1 555-095-3877"
    # Meta's 24-hour rule for free-form messages (off: every customer counts as in the window).
    enforce_window: bool = True

    def sign_in(self, url: str) -> dict[str, str]:
        """What to enter in the integration's form, by field label."""
        return {
            "Access token": self.access_token,
            "Phone number id": self.phone_number_id,
            "App secret": self.app_secret,
            "Graph API address": f"{url}/v21.0",
        }


@dataclass
class CloudApiNumber:
    """The business number: its app's webhook, what was sent, who wrote when."""

    callback_url: str = ""
    verify_token: str = ""
    verified: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    last_inbound: dict[str, float] = field(default_factory=dict)  # by the customer's number


class CloudApiSimulator:
    """An in-memory Graph API for one WhatsApp business number, with a control API."""

    def __init__(self, config: CloudApiConfig, sender: WebhookSender) -> None:
        """The number, with no webhook set yet."""
        self.config = config
        self.sender = sender
        self.number = CloudApiNumber()

    def routes(self) -> list[web.RouteDef]:
        """The Graph API routes and the control API."""
        r = web
        control = "/__emulator/cloudapi"
        return [
            r.get(VERSION_PREFIX + "/{object}", self.get_object),
            r.post(VERSION_PREFIX + "/{object}/messages", self.messages),
            r.post(VERSION_PREFIX + "/{object}/media", self.upload),
            r.get("/__files/cloudapi/{id}", self.file),
            r.get(control, self.control_view),
            r.post(control + "/dashboard", self.control_dashboard),
            r.post(control + "/inbound", self.control_inbound),
            r.post(control + "/ack", self.control_ack),
            r.get(control + "/sent", self.control_sent),
        ]

    def unauthorized(self, request: web.Request) -> web.Response | None:
        """Meta's answer to a missing or wrong token."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(
            token.encode(), self.config.access_token.encode()
        ):
            return graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)
        return None

    def _unknown(self, object_id: str) -> web.Response:
        return graph_error(
            400,
            f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            100,
            "GraphMethodException",
        )

    async def get_object(self, request: web.Request) -> web.Response:
        """GET /{phone-number-id} (the number) or /{media-id} (a file's URL)."""
        if denied := self.unauthorized(request):
            return denied
        object_id = request.match_info["object"]
        if object_id == self.config.phone_number_id:
            return web.json_response(
                {
                    "display_phone_number": self.config.display_number,
                    "verified_name": "Home Assistant",
                    "quality_rating": "GREEN",
                    "id": object_id,
                }
            )
        if (found := self.number.media.get(object_id)) is not None:
            return web.json_response(
                {
                    "messaging_product": "whatsapp",
                    "url": f"{request.scheme}://{request.host}/__files/cloudapi/{object_id}",
                    "mime_type": found[0],
                    "sha256": hashlib.sha256(found[1]).hexdigest(),
                    "file_size": len(found[1]),
                    "id": object_id,
                }
            )
        return self._unknown(object_id)

    async def file(self, request: web.Request) -> web.Response:
        """A file's download URL: it needs the token too."""
        if denied := self.unauthorized(request):
            return denied
        found = self.number.media.get(request.match_info["id"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[1], content_type=found[0])

    async def upload(self, request: web.Request) -> web.Response:
        """POST /{phone-number-id}/media (multipart): the new media id."""
        if denied := self.unauthorized(request):
            return denied
        if request.match_info["object"] != self.config.phone_number_id:
            return self._unknown(request.match_info["object"])
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField) or form.get("messaging_product") != "whatsapp":
            return graph_error(400, "(#100) The parameter messaging_product is required.", 100)
        media_id = str(secrets.randbelow(10**15))
        self.number.media[media_id] = (upload.content_type, upload.file.read())
        return web.json_response({"id": media_id})

    async def messages(self, request: web.Request) -> web.Response:
        """POST /{phone-number-id}/messages: a message, or a read mark."""
        if denied := self.unauthorized(request):
            return denied
        if request.match_info["object"] != self.config.phone_number_id:
            return self._unknown(request.match_info["object"])
        body = await read_json(request)
        if body.get("messaging_product") != "whatsapp":
            return graph_error(400, "(#100) The parameter messaging_product is required.", 100)
        if body.get("status") == "read":
            self.number.sent.append({"id": None, "body": body})
            return web.json_response({"success": True})
        to = str(body.get("to") or "")
        kind = str(body.get("type") or "text")
        if not to.isdigit() or not isinstance(body.get(kind), dict):
            return graph_error(400, "(#100) Invalid parameter", 100)
        sent_id = "wamid." + base64.b64encode(secrets.token_bytes(24)).decode()
        record: dict[str, Any] = {"id": sent_id, "body": body}
        if (found := self.number.media.get(str(body[kind].get("id")))) is not None:
            record["file"] = {
                "content_type": found[0],
                "base64": base64.b64encode(found[1]).decode(),
            }
        self.number.sent.append(record)
        self.number.chat.append(self._line(sent_id, to, kind, body))
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": sent_id}],
        }
        last = self.number.last_inbound.get(to)
        outside = last is None or time.time() - last > SERVICE_WINDOW
        if kind != "template" and outside and self.config.enforce_window:
            self.sender.later(self._fail_outside_window(sent_id, to))
        if kind == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return web.json_response(answer)

    def _line(self, sent_id: str, to: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        part = body[kind]
        chat = f"{to}@s.whatsapp.net"
        reply_to = (body.get("context") or {}).get("message_id")
        if kind == "text":
            return chat_line("out", sent_id, chat, str(part.get("body", "")), reply_to=reply_to)
        if kind == "location":
            text = f"{part.get('latitude')}, {part.get('longitude')}"
            return chat_line(
                "out", sent_id, chat, text, kind="location", place=part.get("name", "")
            )
        if kind in MEDIA_TYPES:
            found = self.number.media.get(str(part.get("id")))
            media = f"data:{found[0]};base64,{base64.b64encode(found[1]).decode()}" if found else ""
            shown = "image" if kind == "image" else "document"
            return chat_line(
                "out", sent_id, chat, str(part.get("caption", "")), kind=shown, media=media
            )
        if kind == "template":
            parameters = [
                str(parameter.get("text"))
                for component in part.get("components") or []
                for parameter in component.get("parameters") or []
            ]
            text = f"[template {part.get('name')}] {' '.join(parameters)}".strip()
            return chat_line("out", sent_id, chat, text)
        return chat_line("out", sent_id, chat, str(part.get("emoji", "")), kind=kind)

    async def _fail_outside_window(self, sent_id: str, to: str) -> None:
        error = {
            "code": 131047,
            "title": "Re-engagement message",
            "message": "Re-engagement message",
            "error_data": {
                "details": "Message failed to send because more than 24 hours have passed since "
                "the customer last replied to this number."
            },
        }
        await self.post_status(sent_id, to, "failed", errors=[error])

    # Webhooks

    async def post_value(self, value: dict[str, Any]) -> None:
        """Post one change of the number to the app's webhook, signed; checked first."""
        number = self.number
        if not number.callback_url or not await self._verified():
            return
        body = json_bytes(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "102290129340398",
                        "changes": [
                            {
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": self.config.display_number,
                                        "phone_number_id": self.config.phone_number_id,
                                    },
                                    **value,
                                },
                                "field": "messages",
                            }
                        ],
                    }
                ],
            }
        )
        signature = hmac.new(self.config.app_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={signature}"}
        await self.sender.post("cloudapi", number.callback_url, body, "application/json", headers)

    async def _verified(self) -> bool:
        """Meta's "Verify and save": a GET with the verify token must echo the challenge."""
        number = self.number
        if number.verified:
            return True
        challenge = str(secrets.randbelow(10**9))
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": number.verify_token,
            "hub.challenge": challenge,
        }
        try:
            async with (
                ClientSession(timeout=ClientTimeout(total=10)) as session,
                session.get(number.callback_url, params=params) as response,
            ):
                number.verified = response.status == 200 and await response.text() == challenge
        except Exception:  # noqa: BLE001 - Meta only says that the check failed
            number.verified = False
        return number.verified

    async def post_status(
        self, sent_id: str, to: str, status: str, *, errors: list[dict[str, Any]] | None = None
    ) -> None:
        """A status of a message the number sent."""
        entry: dict[str, Any] = {
            "id": sent_id,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": to,
        }
        if errors:
            entry["errors"] = errors
        await self.post_value({"statuses": [entry]})

    # Control API (the customer's side, and the app's dashboard)

    async def control_view(self, request: web.Request) -> web.Response:
        """The number's webhook settings."""
        number = self.number
        return web.json_response(
            {
                "callback_url": number.callback_url,
                "verify_token": number.verify_token,
                "verified": number.verified,
            }
        )

    async def control_dashboard(self, request: web.Request) -> web.Response:
        """The user enters the callback URL and the verify token in the app's dashboard."""
        body = await read_json(request)
        self.number.callback_url = str(body.get("callback_url", ""))
        self.number.verify_token = str(body.get("verify_token", ""))
        self.number.verified = False
        verified = await self._verified() if body.get("verify") else False
        return web.json_response({"verified": verified})

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A customer writes (see inbound)."""
        body = await read_json(request)
        return web.json_response(await self.inbound(body))

    async def inbound(self, body: dict[str, Any]) -> dict[str, Any]:
        """What a customer sends: text, media, location, reaction, button, edit, revoke.

        Body: from, name, text, kind, id, reply_to, mime_type, data, caption, latitude,
        longitude, target_id, emoji.
        """
        sender = "".join(ch for ch in str(body.get("from", "491700000002")) if ch.isdigit())
        kind = str(body.get("kind", "text"))
        short = str(body.get("id") or message_id())
        text = str(body.get("text") or body.get("caption") or "")
        message: dict[str, Any] = {"from": sender, "id": short, "timestamp": str(int(time.time()))}
        if body.get("reply_to"):
            message["context"] = {"from": self.config.display_number, "id": str(body["reply_to"])}
        if kind == "text":
            message |= {"type": "text", "text": {"body": text}}
        elif kind in ("image", "video", "audio", "voice", "document", "sticker"):
            media_id = str(secrets.randbelow(10**15))
            mime = str(body.get("mime_type", "application/octet-stream"))
            raw = base64.b64decode(str(body.get("data", "")).split(",", 1)[-1] or "") or b"sim"
            self.number.media[media_id] = (mime, raw)
            media_type = "audio" if kind == "voice" else kind
            part: dict[str, Any] = {"id": media_id, "mime_type": mime, "sha256": "x"}
            if kind == "voice":
                part["voice"] = True
            if body.get("caption"):
                part["caption"] = str(body["caption"])
            message |= {"type": media_type, media_type: part}
        elif kind == "location":
            message |= {
                "type": "location",
                "location": {
                    "latitude": float(body.get("latitude", 0)),
                    "longitude": float(body.get("longitude", 0)),
                },
            }
        elif kind == "reaction":
            message |= {
                "type": "reaction",
                "reaction": {
                    "message_id": str(body.get("target_id", "")),
                    "emoji": str(body.get("emoji", "👍")),
                },
            }
        elif kind == "button":
            message |= {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "b1", "title": text},
                },
            }
        elif kind == "edit":
            message |= {
                "type": "edit",
                "edit": {
                    "original_message_id": str(body.get("target_id", "")),
                    "message": {"type": "text", "text": {"body": text}},
                },
            }
        elif kind == "delete":
            message |= {
                "type": "revoke",
                "revoke": {"original_message_id": str(body.get("target_id", ""))},
            }
        else:
            raise web.HTTPBadRequest(text=f"unknown message kind {kind}")
        if body.get("from_me"):
            return message  # Meta does not post what the number itself sent
        self.number.last_inbound[sender] = time.time()
        if kind not in ("edit", "delete", "reaction"):
            chat = f"{sender}@s.whatsapp.net"
            self.number.chat.append(inbound_line(body, short, chat, chat))
        contacts = [{"profile": {"name": str(body.get("name", ""))}, "wa_id": sender}]
        await self.post_value({"contacts": contacts, "messages": [message]})
        return message

    async def control_ack(self, request: web.Request) -> web.Response:
        """The customer's phone got or read messages: {ids, status: delivered | read}."""
        body = await read_json(request)
        await self.acknowledge(
            [str(i) for i in body.get("ids") or []], str(body.get("status", "read"))
        )
        return web.json_response({"ok": True})

    async def acknowledge(self, ids: list[str], status: str) -> None:
        """Statuses for messages the number sent."""
        if status == "read":
            mark_read(self.number.chat, ids)
        for sent in self.number.sent:
            if sent["id"] in ids:
                await self.post_status(str(sent["id"]), str(sent["body"]["to"]), status)

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through the number."""
        return web.json_response(self.number.sent)

    def page_phones(self) -> list[Phone]:
        """The number, for the phone page (it plays the customer)."""
        return [CloudApiPhone(self)]


class CloudApiPhone(Phone):
    """A customer's phone writing to the business number."""

    product = "cloudapi"

    def __init__(self, simulator: CloudApiSimulator) -> None:
        """The business number, registered with Meta (nothing to link)."""
        super().__init__(
            simulator.config.phone_number_id, f"Cloud API number {simulator.config.display_number}"
        )
        self.simulator = simulator

    def state(self) -> PhoneState:
        """Always registered."""
        digits = "".join(ch for ch in self.simulator.config.display_number if ch.isdigit())
        return PhoneState(number=digits, chat=self.simulator.number.chat)

    async def scan(self, number: str, name: str) -> None:
        """Nothing to scan."""
        raise conflict("a Cloud API number is registered with Meta: there is nothing to scan")

    async def write(self, message: dict[str, Any]) -> str:
        """A customer writes."""
        return str((await self.simulator.inbound(message))["id"])

    async def read(self, ids: list[str]) -> None:
        """The customer reads what Home Assistant sent."""
        await self.simulator.acknowledge(ids, "read")

    async def unlink(self) -> None:
        """Nothing is linked."""
        raise conflict("a Cloud API number is registered with Meta: there is nothing to unlink")

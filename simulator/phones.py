"""The phone page's view of every simulated product: one kind of phone, whatever the gateway.

Each product describes its WhatsApp accounts as `Phone`s (a wuzapi user, a Maytapi phone slot, a
Chat-API instance, a Waabot instance). The page lists them under `/__emulator/phones` and plays
one: scan its QR code, type a pairing code, write as a contact or in a group, read what Home
Assistant sent, remove the linked device.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web

from .common import now, read_json
from .qr import qr_png

# Read once, served from memory.
PHONE_PAGE = resources.files(__package__).joinpath("phone.html").read_text(encoding="utf-8")


def conflict(text: str) -> web.HTTPConflict:
    """What a phone cannot do in its present state (409); the page shows the text."""
    return web.HTTPConflict(text=text)


def check_pairing_code(typed: str, expected: str) -> None:
    """The code typed on the phone must be the one WhatsApp gave (dash and case aside)."""
    if not expected or typed.replace("-", "").upper() != expected.replace("-", "").upper():
        raise conflict("that is not the code WhatsApp asked for")


def contact_lid(number: str) -> str:
    """A contact's LID, made up from the number so that tests can tell it."""
    return f"{int(number) % 10**15:015d}@lid"


def png_data_url(png: bytes) -> str:
    """A PNG as the data URL an <img> shows."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def qr_data_url(payload: str) -> str:
    """The QR image of a payload as a data URL ("" without a payload)."""
    return png_data_url(qr_png(payload)) if payload else ""


def chat_line(
    direction: str, message_id: str, chat: str, text: str = "", **details: Any
) -> dict[str, Any]:
    """One bubble of the conversation: "in" from the phone, "out" from Home Assistant.

    `details` adds kind (default text), media (a URL or data URL), filename, sender, name,
    reply_to and a location's place where a message has them.
    """
    return {
        "direction": direction,
        "id": message_id,
        "chat": chat,
        "kind": "text",
        "text": text,
        "time": now().isoformat(timespec="seconds"),
        **details,
    }


def inbound_line(body: dict[str, Any], message_id: str, chat: str, sender: str) -> dict[str, Any]:
    """The bubble of what a contact wrote, from the control API's inbound body."""
    return chat_line(
        "in",
        message_id,
        chat,
        str(body.get("text") or body.get("caption") or ""),
        kind=str(body.get("kind", "text")),
        sender=sender,
        name=str(body.get("name", "")),
    )


def mark_read(chat: list[dict[str, Any]], ids: Iterable[str]) -> dict[str, list[str]]:
    """Mark sent bubbles as read; the ids by chat, for the receipts to post."""
    wanted = set(ids)
    by_chat: dict[str, list[str]] = {}
    for line in chat:
        if line["direction"] == "out" and line["id"] in wanted:
            line["read"] = True
            by_chat.setdefault(line["chat"], []).append(line["id"])
    return by_chat


@dataclass
class PhoneState:
    """What the page shows of a phone."""

    number: str  # the linked account's number, "" while not linked
    qr: str = ""  # the payload of the QR code shown for linking, "" when there is none
    awaiting_code: bool = False  # a pairing code was requested and waits to be typed
    chat: list[dict[str, Any]] = field(default_factory=list)


class Phone(ABC):
    """One WhatsApp account of a simulated product, as the phone in the user's hand."""

    product: str
    receipts: bool = True  # whether the gateway reports read receipts

    def __init__(self, phone_id: str, label: str) -> None:
        """A phone known by its product-wide id and a label for the picker."""
        self.id = phone_id
        self.label = label

    @abstractmethod
    def state(self) -> PhoneState:
        """The phone's present state."""

    @abstractmethod
    async def scan(self, number: str, name: str) -> None:
        """Scan the QR code shown, as the account `number`."""

    async def enter_code(self, code: str, name: str) -> None:
        """Type the pairing code shown in Home Assistant."""
        raise conflict(f"{self.product} links phones by QR code only")

    @abstractmethod
    async def write(self, message: dict[str, Any]) -> str:
        """A contact writes (the product's inbound control body); the new message's id."""

    @abstractmethod
    async def read(self, ids: list[str]) -> None:
        """The contact reads messages Home Assistant sent."""

    @abstractmethod
    async def unlink(self) -> None:
        """The linked device is removed on the phone."""

    def summary(self) -> dict[str, Any]:
        """The phone in the page's picker."""
        state = self.state()
        return {
            "product": self.product,
            "id": self.id,
            "label": self.label,
            "number": state.number,
            "qr": bool(state.qr),
            "awaiting_code": state.awaiting_code,
        }

    def view(self) -> dict[str, Any]:
        """Everything the page shows of the phone it plays."""
        state = self.state()
        return {
            **self.summary(),
            "qr": state.qr,
            "qr_image": qr_data_url(state.qr),
            "receipts": self.receipts,
            "chat": state.chat,
        }


def _text(body: dict[str, Any], name: str, default: str = "") -> str:
    return str(body.get(name) or default)


class PhonePage:
    """The page and the routes it calls, over the phones of every product served."""

    def __init__(self, phones: Callable[[], list[Phone]]) -> None:
        """`phones` lists the phones as they are now (products add accounts while running)."""
        self.phones = phones

    def routes(self) -> list[web.RouteDef]:
        """The page and its API."""
        return [
            web.get("/phone", self.page),
            web.get("/__emulator/phones", self.list_phones),
            web.get("/__emulator/phones/{product}/{id}", self.show),
            web.post("/__emulator/phones/{product}/{id}/{action}", self.act),
        ]

    async def page(self, request: web.Request) -> web.Response:
        """The simulated phone."""
        return web.Response(text=PHONE_PAGE, content_type="text/html")

    async def list_phones(self, request: web.Request) -> web.Response:
        """Every phone of every product, for the picker."""
        return web.json_response([phone.summary() for phone in self.phones()])

    def _phone(self, request: web.Request) -> Phone:
        product, phone_id = request.match_info["product"], request.match_info["id"]
        for phone in self.phones():
            if (phone.product, phone.id) == (product, phone_id):
                return phone
        raise web.HTTPNotFound(text=f"no {product} phone {phone_id}")

    async def show(self, request: web.Request) -> web.Response:
        """One phone with its QR code and conversation."""
        return web.json_response(self._phone(request).view())

    async def act(self, request: web.Request) -> web.Response:
        """An action of the phone; the phone's view after it.

        scan {qr, number, name}, code {code, name}, write {from, name, text, group}, read
        {ids}, unlink {}.
        """
        phone = self._phone(request)
        body = await read_json(request)
        action = request.match_info["action"]
        if action == "scan":
            # The page sends the code it shows: one WhatsApp replaced meanwhile is expired.
            shown = phone.state().qr
            if shown and body.get("qr") not in (None, "", shown):
                raise conflict("that QR code has expired")
            await phone.scan(_text(body, "number"), _text(body, "name"))
        elif action == "code":
            await phone.enter_code(_text(body, "code").strip(), _text(body, "name"))
        elif action == "write":
            return web.json_response({"id": await phone.write(body)})
        elif action == "read":
            await phone.read([str(item) for item in body.get("ids") or []])
        elif action == "unlink":
            await phone.unlink()
        else:
            raise web.HTTPNotFound(text=f"no phone action {action}")
        return web.json_response(phone.view())

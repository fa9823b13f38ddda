"""The simulated wuzapi server's control API: the phone side, WhatsApp, the operator."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from aiohttp import web

from ..common import message_id, now, read_json
from ..phones import Phone, PhoneState, conflict, contact_lid, inbound_line, mark_read
from .events import message_event, message_info, receipt_event
from .server import (
    EXTENSIONS,
    MEDIA_FIELDS,
    RECEIPTS_POSTED,
    Part,
    WuzapiUser,
    decode_data_url,
    jid,
)


class WuzapiPhone(Phone):
    """A wuzapi user's WhatsApp account on the phone page."""

    product = "wuzapi"

    def __init__(self, control: PhoneControl, user: WuzapiUser) -> None:
        """The phone of `user`."""
        super().__init__(user.id, f"wuzapi user {user.name}")
        self.control = control
        self.user = user

    def state(self) -> PhoneState:
        """Linked, waiting for a pairing code or showing a QR code."""
        user = self.user
        linking = user.connected and not user.paired
        # Once a pairing code was asked for, the phone links by typing it, not by scanning.
        awaiting_code = linking and bool(user.linking_code)
        return PhoneState(
            number=user.jid if user.paired else "",
            qr=user.qr_payload if linking and not awaiting_code else "",
            awaiting_code=awaiting_code,
            chat=user.chat,
        )

    async def scan(self, number: str, name: str) -> None:
        """Link by QR code."""
        await self.control.scan(self.user, None, number, name)

    async def enter_code(self, code: str, name: str) -> None:
        """Link by the pairing code."""
        await self.control.enter_code(self.user, code, name)

    async def write(self, message: dict[str, Any]) -> str:
        """A contact writes."""
        return str((await self.control.inbound(self.user, message))["event"]["Info"]["ID"])

    async def read(self, ids: list[str]) -> None:
        """Read receipts for what Home Assistant sent."""
        for chat, read in mark_read(self.user.chat, ids).items():
            await self.control.server.emit(self.user, receipt_event(chat, read, "Read"))

    async def unlink(self) -> None:
        """Linked devices → remove."""
        await self.control.unlink(self.user)


class PhoneControl(Part):
    """The control API: what the phone, WhatsApp and the server's operator do."""

    def page_phones(self) -> list[Phone]:
        """Every user's account, for the phone page."""
        return [WuzapiPhone(self, user) for user in self.server.users.values()]

    async def scan(self, user: WuzapiUser, qr: str | None, number: str, name: str) -> None:
        """The phone scans the QR code `qr` (None: the one shown) as the account `number`."""
        if not user.connected or user.paired or not user.qr_payload:
            raise conflict("this user is not showing a QR code")
        if qr not in (None, user.qr_payload):
            raise conflict("that QR code has expired")
        await self.server.pair(user, number or "491700000001", name)

    async def enter_code(self, user: WuzapiUser, code: str, name: str) -> None:
        """The phone enters the pairing code."""
        if not user.linking_code or code != user.linking_code:
            raise conflict("wrong or no pairing code")
        await self.server.pair(user, user.linking_phone, name)

    async def unlink(self, user: WuzapiUser) -> None:
        """The device is removed under Linked devices on the phone."""
        self.server.unlink(user)
        await self.server.emit(
            user, {"type": "LoggedOut", "event": {"OnConnect": False, "Reason": 0}}
        )

    def routes(self) -> list[web.RouteDef]:
        """The group's routes."""
        r = web
        return [
            r.get("/__emulator/wuzapi/users", self.control_users),
            r.post("/__emulator/wuzapi/users/{id}/scan", self.control_scan),
            r.post("/__emulator/wuzapi/users/{id}/link_code", self.control_link_code),
            r.post("/__emulator/wuzapi/users/{id}/rotate_qr", self.control_rotate_qr),
            r.post("/__emulator/wuzapi/users/{id}/qr_timeout", self.control_qr_timeout),
            r.post("/__emulator/wuzapi/users/{id}/inbound", self.control_inbound),
            r.post("/__emulator/wuzapi/users/{id}/receipt", self.control_receipt),
            r.post("/__emulator/wuzapi/users/{id}/call", self.control_call),
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
            r.post("/__emulator/wuzapi/groups", self.control_group),
        ]

    async def control_users(self, request: web.Request) -> web.Response:
        """All users with their state."""
        return web.json_response([user.control_view() for user in self.server.users.values()])

    async def control_scan(self, request: web.Request) -> web.Response:
        """The phone scans the QR code currently shown."""
        user = self.server.control_user(request)
        body = await read_json(request)
        qr = None if body.get("qr") is None else str(body["qr"])
        await self.scan(user, qr, str(body.get("phone", "")), str(body.get("name", "")))
        return web.json_response(user.public())

    async def control_link_code(self, request: web.Request) -> web.Response:
        """The phone enters the pairing code."""
        user = self.server.control_user(request)
        body = await read_json(request)
        await self.enter_code(user, str(body.get("code", "")), str(body.get("name", "")))
        return web.json_response(user.public())

    async def control_rotate_qr(self, request: web.Request) -> web.Response:
        """WhatsApp rotates the QR code (about every 20 s on a real server)."""
        user = self.server.control_user(request)
        if not user.connected or user.paired:
            raise web.HTTPConflict(text="this user is not showing a QR code")
        await self.server.new_qr(user)
        return web.json_response({"qr": user.qr_payload})

    async def control_qr_timeout(self, request: web.Request) -> web.Response:
        """Nobody scanned in time: the client is destroyed."""
        user = self.server.control_user(request)
        self.server.stop_client(user)
        user.qr_payload = ""
        await self.server.emit(user, {"type": "QRTimeout", "event": "timeout"})
        return web.json_response(user.public())

    async def control_drop(self, request: web.Request) -> web.Response:
        """The socket to WhatsApp drops."""
        user = self.server.control_user(request)
        user.connected = False
        await self.server.emit(user, {"type": "Disconnected", "event": {}})
        return web.json_response(user.public())

    async def control_reconnect(self, request: web.Request) -> web.Response:
        """The socket comes back."""
        user = self.server.control_user(request)
        user.client = user.connected = True
        await self.server.emit(user, {"type": "Connected", "event": {}})
        return web.json_response(user.public())

    async def control_logout(self, request: web.Request) -> web.Response:
        """The device is removed under Linked devices on the phone."""
        user = self.server.control_user(request)
        await self.unlink(user)
        return web.json_response(user.public())

    async def control_qr_pending(self, request: web.Request) -> web.Response:
        """The client runs but WhatsApp has not handed out its first code yet."""
        user = self.server.control_user(request)
        user.qr_payload = ""
        return web.json_response(user.control_view())

    async def control_settings(self, request: web.Request) -> web.Response:
        """Settings as they stand in the server's database, changed by hand.

        Any of {"webhook": …, "events": […], "hmac_key": … or null, "media_delivery": …}:
        a user created or edited outside Home Assistant, or a database restored from before.
        """
        user = self.server.control_user(request)
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
        user = self.server.control_user(request)
        user.hmac_unreadable = True
        return web.json_response(user.public())

    async def control_restart(self, request: web.Request) -> web.Response:
        """The server restarts: no client runs until connect.

        With "forget", its database was reset too: every user lost webhook, events and key.
        """
        forget = bool((await read_json(request)).get("forget", False))
        for user in self.server.users.values():
            self.server.stop_client(user)
            user.polls.clear()
            if forget:
                user.webhook, user.events, user.hmac_key = "", [], None
        return web.json_response([user.public() for user in self.server.users.values()])

    async def control_noise(self, request: web.Request) -> web.Response:
        """A protocol message without user content, as sent right after pairing."""
        user = self.server.control_user(request)
        info = message_info(user.jid or "491700000001", user.jid or "491700000001", message_id())
        info["IsFromMe"] = True
        message = {"protocolMessage": {"type": 5, "historySyncNotification": {"syncType": 3}}}
        await self.server.emit(user, {"type": "Message", "event": message_event(info, message)})
        return web.json_response({"id": info["ID"]})

    async def control_receipt(self, request: web.Request) -> web.Response:
        """The recipient's phone reports delivery or reading."""
        user = self.server.control_user(request)
        body = await read_json(request)
        ids = body.get("ids") or []
        chat = jid(str(body.get("chat", "491700000002")))
        state = str(body.get("state", "Read"))
        if state in RECEIPTS_POSTED:  # the server drops every other receipt
            await self.server.emit(user, receipt_event(chat, ids, state))
        return web.json_response({"ids": ids})

    async def control_call(self, request: web.Request) -> web.Response:
        """A contact calls ({"from", "id"}), or the call ends ({"ended": true})."""
        user = self.server.control_user(request)
        body = await read_json(request)
        caller = jid(str(body.get("from", "491700000002")))
        call = {
            "From": caller,
            "Timestamp": now().isoformat(),
            "CallCreator": caller,
            "CallID": str(body.get("id") or secrets.token_hex(16).upper()),
            "RemotePlatform": "android",
            "RemoteVersion": "2.25.1.74",
            "Data": {"Tag": "offer"},
        }
        if body.get("ended"):
            call |= {"Reason": "timeout", "Data": {"Tag": "terminate"}}
        event = {"type": "CallTerminate" if body.get("ended") else "CallOffer", "event": call}
        await self.server.emit(user, event)
        return web.json_response(event)

    async def control_sent(self, request: web.Request) -> web.Response:
        """What Home Assistant sent through this user."""
        return web.json_response(self.server.control_user(request).sent)

    async def control_chat(self, request: web.Request) -> web.Response:
        """What the phone page shows: the session, the QR and the conversation."""
        user = self.server.control_user(request)
        return web.json_response(
            {
                **user.public(),
                "qr": user.qr_payload,
                "qr_image": user.qr_data_url,
                "linking_code": user.linking_code,
                "chat": user.chat,
            }
        )

    async def control_group(self, request: web.Request) -> web.Response:
        """A group with its subject: {"jid": "…@g.us", "name": "…"}."""
        body = await read_json(request)
        self.server.groups[str(body.get("jid", ""))] = str(body.get("name", ""))
        return web.json_response(self.server.groups)

    async def control_on_whatsapp(self, request: web.Request) -> web.Response:
        """Which numbers /user/check reports as having WhatsApp (null: all)."""
        numbers = (await read_json(request)).get("numbers")
        self.server.on_whatsapp = set(map(str, numbers)) if isinstance(numbers, list) else None
        return web.json_response({"numbers": numbers})

    async def control_inbound(self, request: web.Request) -> web.Response:
        """A contact sends a message: text, media, location, contact, reaction, poll, reply."""
        user = self.server.control_user(request)
        event = await self.inbound(user, await read_json(request))
        return web.json_response({"id": event["event"]["Info"]["ID"], "event": event})

    async def inbound(self, user: WuzapiUser, body: dict[str, Any]) -> dict[str, Any]:
        """Post the message a contact sends (see control_inbound); the event posted."""
        sender = "".join(ch for ch in str(body.get("from", "491700000002")) if ch.isdigit())
        group = body.get("group")
        chat = str(group) if group else sender
        info = message_info(jid(chat), jid(sender), str(body.get("id") or message_id()))
        info["PushName"] = str(body.get("name", ""))
        info["IsFromMe"] = bool(body.get("from_me", False))
        if body.get("lid"):
            # Newer WhatsApp addresses some senders by LID and puts the phone in SenderAlt
            # ("only": not even there, as for someone who hides the number).
            info["Sender"], info["SenderAlt"] = lid_of(user, sender), jid(sender)
            info["AddressingMode"] = "lid"
            if body["lid"] == "only":
                del info["SenderAlt"]
        kind = str(body.get("kind", "text"))
        context = None
        if body.get("reply_to"):
            context = {
                "stanzaID": str(body["reply_to"]),
                "participant": jid(str(body.get("reply_to_sender") or user.jid or sender)),
                "quotedMessage": {"conversation": str(body.get("quoted_text", ""))},
            }
        extra: dict[str, Any] = {}
        try:
            message = self._inbound_message(user, kind, body, info, context, extra)
        except ValueError as err:
            raise web.HTTPBadRequest(text=str(err)) from None
        edited = extra.pop("edit", False)
        event = {"type": "Message", "event": message_event(info, message), **extra}
        if edited:
            event["event"] |= {
                "IsEdit": True,
                "RawMessage": {"editedMessage": {"message": message}},
            }
        user.chat.append(inbound_line(body, info["ID"], info["Chat"], jid(sender)))
        await self.server.emit(user, event)
        return event

    def _vote(
        self, user: WuzapiUser, body: dict[str, Any], info: dict[str, Any], extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A vote on a poll, encrypted in the message.

        Newer builds decrypt it into `pollVote`, naming the options where the poll is one they
        sent since they started.
        """
        info["Type"] = "poll"
        poll_id = str(body.get("poll_id", ""))
        chosen = [str(option) for option in body.get("options") or ()]
        if not self.config.old:
            known = user.polls.get(poll_id, [])
            extra["pollVote"] = {
                "pollCreationMsgID": poll_id,
                "selectedOptions": [option for option in chosen if option in known],
                "selectedHashesB64": [
                    base64.b64encode(hashlib.sha256(option.encode()).digest()).decode()
                    for option in chosen
                ],
            }
        key = {"remoteJID": info["Chat"], "fromMe": True, "ID": poll_id}
        vote = {"encPayload": base64.b64encode(secrets.token_bytes(32)).decode(), "encIV": ""}
        return {"pollUpdateMessage": {"pollCreationMessageKey": key, "vote": vote}}

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
        if mentioned := [str(number) for number in body.get("mentions") or ()]:
            # In a group addressed by LID, WhatsApp mentions people by their LIDs.
            by_lid = info.get("AddressingMode") == "lid"
            context = (context or {}) | {
                "mentionedJID": [lid_of(user, n) if by_lid else jid(n) for n in mentioned]
            }
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
        if kind in ("edit", "delete"):
            # What whatsmeow's UnwrapRaw leaves of an edit (the raw message wraps it in
            # editedMessage) or of a deletion for everyone.
            protocol: dict[str, Any] = {
                "key": {
                    "remoteJID": info["Chat"],
                    "fromMe": bool(body.get("target_from_me", False)),
                    "ID": str(body.get("target_id", "")),
                },
                "type": 14 if kind == "edit" else 0,
            }
            if kind == "edit":
                protocol["editedMessage"] = {"conversation": text}
                extra["edit"] = True
            return {"protocolMessage": protocol}
        if kind == "vote":
            return self._vote(user, body, info, extra)
        if kind == "poll":
            info["Type"] = "poll"
            options = [{"optionName": str(option)} for option in body.get("options", [])]
            return {"pollCreationMessageV3": {"name": text, "options": options}}
        media_kind = "audio" if kind == "voice" else kind
        if media_kind not in MEDIA_FIELDS:
            raise ValueError(f"unknown message kind {kind}")
        data = decode_data_url(str(body.get("data", ""))) or b"simulated media"
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


def lid_of(user: WuzapiUser, number: str) -> str:
    """The LID of a number: the account's own, or a contact's."""
    return user.lid if number == user.jid else contact_lid(number)

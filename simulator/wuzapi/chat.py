"""wuzapi's chat API."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..common import message_id, now
from ..phones import chat_line
from .events import receipt_event
from .server import (
    MEDIA_FIELDS,
    OLD_BUILD_PANICS_ON_REPLY,
    PLAIN_SENDS,
    Part,
    WuzapiUser,
    decode_data_url,
    envelope,
    failure,
    jid,
    not_found,
    send_route,
    user_route,
)


class ChatApi(Part):
    """The chat API: sends, read marks, media downloads and number checks."""

    def routes(self) -> list[web.RouteDef]:
        """The group's routes."""
        r = web
        return [
            *(r.post(path, self.send_plain) for path in PLAIN_SENDS),
            *(r.post(f"/chat/send/{kind}", self.send_media) for kind in MEDIA_FIELDS),
            r.post("/chat/send/location", self.send_location),
            r.post("/chat/markread", self.markread),
            *(r.post(f"/chat/download{kind}", self.download) for kind in MEDIA_FIELDS),
            r.post("/user/check", self.check),
            r.get("/group/info", self.group_info),
            # Routes of builds newer than May 2025 (the old one answers 404 for them).
            *(
                ()
                if self.config.old
                else (
                    r.post("/chat/send/edit", self.edit),
                    r.post("/chat/delete", self.delete),
                    r.post("/chat/presence", self.presence),
                    r.post("/chat/send/poll", self.poll),
                )
            ),
        ]

    @send_route(need_phone=True)
    async def edit(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/send/edit: a new text for one of the account's own messages."""
        for name in ("Body", "Id"):
            if not body.get(name):
                return failure(400, f"missing {name} in Payload")
        user.sent.append({"endpoint": request.path, "id": None, "body": body})
        for line in user.chat:
            if line["id"] == body["Id"] and line["direction"] == "out":
                line.update(text=str(body["Body"]), edited=True)
        answer = {"Details": "Sent", "Timestamp": self._timestamp(), "Id": message_id()}
        return envelope(answer)

    @send_route(need_phone=True)
    async def delete(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/delete: the message is revoked for everyone."""
        if not body.get("Id"):
            return failure(400, "missing Id in Payload")
        user.sent.append({"endpoint": request.path, "id": None, "body": body})
        for line in user.chat:
            if line["id"] == body["Id"]:
                line.update(text="", deleted=True)
        answer = {"Details": "Deleted", "Timestamp": self._timestamp(), "Id": str(body["Id"])}
        return envelope(answer)

    @send_route(need_phone=True)
    async def presence(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/presence: typing (composing, with Media "audio": recording) or paused."""
        if body.get("State") not in ("composing", "paused"):
            return failure(400, "missing or invalid State in Payload")
        if body.get("Media", "") not in ("", "audio"):
            return failure(400, "invalid Media in Payload")
        user.sent.append({"endpoint": request.path, "id": None, "body": body})
        return envelope({"Details": "Chat presence set successfully"})

    @send_route(need_phone=False)
    async def poll(
        self, request: web.Request, user: WuzapiUser, body: dict[str, Any]
    ) -> web.Response:
        """POST /chat/send/poll: `group` (any chat), `header` and at least two `options`."""
        if not body.get("group"):
            return failure(400, "missing group in Payload")
        if not body.get("header"):
            return failure(400, "missing header in Payload")
        options = body.get("options")
        if not isinstance(options, list) or len(options) < 2:
            return failure(400, "at least 2 options are required")
        sent_id = message_id()
        user.sent.append({"endpoint": request.path, "id": sent_id, "body": body})
        user.polls[sent_id] = [str(option) for option in options]
        text = "\n".join([str(body["header"]), *(f"○ {option}" for option in options)])
        user.chat.append(chat_line("out", sent_id, jid(str(body["group"])), text, kind="poll"))
        return envelope({"Details": "Poll sent successfully", "Id": sent_id})

    @user_route
    async def group_info(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /group/info?groupJID=…: the group's details, its subject as `Name`."""
        if not user.client:
            return failure(500, self.server.no_session)
        group = request.query.get("groupJID", "")
        if not group:
            return failure(400, "missing groupJID parameter")
        if "@" not in group:
            return failure(400, "could not parse Group JID")
        subject = self.server.groups.get(group)
        if subject is None:
            return failure(500, "Failed to get group info: group not found")
        return envelope({"JID": group, "Name": subject, "Topic": "", "Participants": []})

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
        chat = jid(phone)
        answer = {"Details": "Sent", "Timestamp": self._timestamp(), "Id": sent_id}
        if any(record["id"] == sent_id for record in user.sent):
            # WhatsApp keeps one message per id: sending it again changes nothing.
            return envelope(answer)
        user.sent.append({"endpoint": endpoint, "id": sent_id, "body": body})
        user.chat.append(chat_line_sent(sent_id, chat, body))
        if receipts and self.config.auto_receipts:
            self.server.sender.later(self._auto_receipts(user, chat, sent_id))
        return envelope(answer)

    async def _auto_receipts(self, user: WuzapiUser, chat: str, sent_id: str) -> None:
        for state in ("Delivered", "Read"):
            await self.server.emit(user, receipt_event(chat, [sent_id], state))

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
        elif decode_data_url(data) is None:
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
            known = self.server.on_whatsapp is None or digits in self.server.on_whatsapp
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


def chat_line_sent(sent_id: str, chat: str, body: dict[str, Any]) -> dict[str, Any]:
    """A message Home Assistant sent, as the phone page shows it."""
    line = chat_line("out", sent_id, chat, str(body.get("Body") or body.get("Caption") or ""))
    for kind, (field_name, _) in MEDIA_FIELDS.items():
        if isinstance(data := body.get(field_name), str):
            line |= {"kind": kind, "media": data, "filename": str(body.get("FileName") or "")}
    if "Latitude" in body:
        text = f"{body['Latitude']}, {body['Longitude']}"
        line |= {"kind": "location", "text": text, "place": body.get("Name", "")}
    context = body.get("ContextInfo")
    if isinstance(context, dict) and context.get("StanzaID"):
        line["reply_to"] = str(context["StanzaID"])
    return line

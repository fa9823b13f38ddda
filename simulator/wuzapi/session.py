"""wuzapi's session API (one user's client, pairing, webhook, key and media settings)."""

from __future__ import annotations

import secrets

from aiohttp import web

from ..common import read_json
from .server import (
    OLD_BUILD_EVENTS,
    Part,
    WuzapiUser,
    envelope,
    failure,
    not_found,
    parse_events,
    user_route,
)


class SessionApi(Part):
    """The session API: a user's WhatsApp client, its pairing and its settings."""

    def routes(self) -> list[web.RouteDef]:
        """The group's routes."""
        r = web
        return [
            r.post("/session/connect", self.connect),
            r.get("/session/status", self.status),
            r.get("/session/qr", self.qr),
            r.post("/session/pairphone", self.pairphone),
            r.post("/session/disconnect", self.disconnect),
            r.post("/session/logout", self.logout),
            r.post("/session/hmac/config", self.set_hmac),
            r.get("/session/hmac/config", self.get_hmac),
            r.post("/session/s3/config", self.set_s3),
            r.get("/session/s3/config", self.get_s3),
            r.post("/webhook", self.set_webhook),
            r.get("/webhook", self.get_webhook),
        ]

    @user_route
    async def connect(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/connect.

        Newer builds start another whatsmeow client unless one exists and is connected (so a
        connect during whatsmeow's own reconnect leaks one); old builds refuse while a client
        exists, even one still stopping.
        """
        if user.client and (user.connected or self.config.old):
            return failure(500, "Already Connected" if self.config.old else "already connected")
        body = await read_json(request)
        subscribe = body.get("Subscribe")
        if isinstance(subscribe, list):
            if self.config.old:
                # Unknown names are dropped without a word; an empty list means All.
                known = OLD_BUILD_EVENTS | {"All"}
                user.events = [str(name) for name in subscribe if name in known] or (
                    [] if subscribe else ["All"]
                )
            else:
                events, error = parse_events(subscribe)
                if error:
                    return failure(400, "invalid event type", error)
                # Newer builds store what they are given, even an empty list.
                user.events = events
        user.clients += 1
        user.client = True
        user.connected = True
        if user.paired:
            await self.server.emit(user, {"type": "Connected", "event": {}})
        else:
            await self.server.new_qr(user)
        return envelope(
            {
                "details": "Connected!",
                "events": ",".join(user.events),
                "jid": user.jid,
                "webhook": user.webhook,
            }
        )

    @user_route
    async def status(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /session/status in the old or the new shape."""
        if self.config.old:
            if user.stopping:
                # The asynchronous kill is done by the time the next request comes.
                self.server.stop_client(user)
                return envelope({"Connected": True, "LoggedIn": user.paired})
            if not user.client:
                return failure(500, self.server.no_session)
            return envelope({"Connected": user.connected, "LoggedIn": user.logged_in})
        return envelope(
            {
                "id": user.id,
                "name": user.name,
                "connected": user.connected,
                "loggedIn": user.logged_in,
                "token": user.token,
                "jid": f"{user.jid}:12@s.whatsapp.net" if user.jid else "",
                "webhook": user.webhook,
                "events": ",".join(user.events),
                "qrcode": user.qr_data_url if user.connected and not user.paired else "",
                "hmac_configured": bool(user.hmac_key),
            }
        )

    @user_route
    async def qr(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /session/qr."""
        if not user.client:
            return failure(500, self.server.no_session)
        if not user.connected:
            return failure(500, "not connected")
        if user.paired:
            return failure(500, "Already Loggedin" if self.config.old else "already logged in")
        return envelope({"QRCode": user.qr_data_url})

    @user_route
    async def pairphone(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/pairphone."""
        body = await read_json(request)
        phone = body.get("Phone")
        if not isinstance(phone, str) or not phone:
            return failure(400, "missing Phone in Payload")
        if user.paired:
            return failure(400, "already paired")
        if not user.connected:
            return failure(500, "not connected")
        alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"
        code = "".join(secrets.choice(alphabet) for _ in range(8))
        user.linking_code = f"{code[:4]}-{code[4:]}"
        user.linking_phone = phone
        return envelope({"LinkingCode": user.linking_code})

    @user_route
    async def disconnect(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/disconnect keeps the pairing and always clears the subscription."""
        if not user.client:
            return failure(500, self.server.no_session)
        if not user.logged_in:
            # Nothing is stopped: the client goes on (whatsmeow reconnecting, or the QR shown).
            text = "cannot disconnect because it is not logged in"
            return failure(500, text.capitalize() if self.config.old else text)
        user.events = []
        if self.config.old:
            user.stopping = True
        else:
            self.server.stop_client(user)
        return envelope({"Details": "Disconnected"})

    @user_route
    async def logout(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/logout unlinks the device."""
        if not user.client:
            return failure(500, self.server.no_session)
        if not user.paired:
            return failure(500, "not logged in")
        self.server.unlink(user)
        return envelope({"Details": "Logged out"})

    @user_route
    async def set_hmac(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/hmac/config (newer builds only); a stored key is readable again."""
        if self.config.old:
            return not_found()
        key = (await read_json(request)).get("hmac_key")
        if not isinstance(key, str) or len(key) < 32:
            return failure(400, "HMAC key must be at least 32 characters long")
        user.hmac_key = key
        user.hmac_unreadable = False
        return envelope({"Details": "HMAC configuration saved successfully"})

    @user_route
    async def get_hmac(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /session/hmac/config answers without the envelope, as API.md shows."""
        if self.config.old:
            return not_found()
        return web.json_response({"hmac_key": "***" if user.hmac_key else ""})

    @user_route
    async def set_s3(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /session/s3/config: only media_delivery matters to the simulator."""
        if self.config.old:
            return not_found()
        delivery = (await read_json(request)).get("media_delivery", "base64")
        if delivery not in ("base64", "s3", "both"):
            return failure(400, "invalid media_delivery")
        user.media_delivery = str(delivery)
        return envelope({"Details": "S3 configuration saved successfully"})

    @user_route
    async def get_s3(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /session/s3/config."""
        if self.config.old:
            return not_found()
        return envelope({"enabled": False, "media_delivery": user.media_delivery})

    @user_route
    async def set_webhook(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """POST /webhook (Go decodes field names case-insensitively)."""
        body = {key.lower(): value for key, value in (await read_json(request)).items()}
        url = body.get("webhookurl")
        if not isinstance(url, str) or not url:
            return failure(400, "missing webhookURL in Payload")
        if "events" in body:
            events, error = parse_events(body["events"])
            if error:
                return failure(400, "invalid event type", error)
            user.events = events
        user.webhook = url
        return envelope({"webhook": url})

    @user_route
    async def get_webhook(self, request: web.Request, user: WuzapiUser) -> web.Response:
        """GET /webhook."""
        return envelope({"webhook": user.webhook, "subscribe": user.events})

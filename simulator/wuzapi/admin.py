"""wuzapi's admin API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..common import read_json
from .server import OLD_BUILD_EVENTS, Part, admin_route, envelope, failure, parse_events


class AdminApi(Part):
    """The admin API: users, by the admin token."""

    def routes(self) -> list[web.RouteDef]:
        """The group's routes."""
        r = web
        return [
            r.get("/admin/users", self.list_users),
            r.post("/admin/users", self.add_user),
        ]

    @admin_route
    async def list_users(self, request: web.Request) -> web.Response:
        """GET /admin/users."""
        return envelope([user.public() for user in self.server.users.values()])

    @admin_route
    async def add_user(self, request: web.Request) -> web.Response:
        """POST /admin/users."""
        body = await read_json(request)
        name, token = body.get("name"), body.get("token")
        if not isinstance(name, str) or not name or not isinstance(token, str) or not token:
            return failure(400, "missing name or token")
        if any(user.token == token for user in self.server.users.values()):
            text = "user with this token already exists"
            return failure(
                409, "User with the same token already exists" if self.config.old else text
            )
        if self.config.old:
            return self._add_old_build_user(name, token, body)
        events, error = parse_events(body.get("events", ""))
        if error:
            return failure(400, "invalid event type", error)
        s3 = body.get("s3Config")
        s3 = s3 if isinstance(s3, dict) else {}
        user = self.server.add_user(
            name,
            token,
            webhook=str(body.get("webhook") or ""),
            events=events,
            hmac_key=body.get("hmacKey") or None,
            media_delivery=str(s3.get("mediaDelivery", "")),
        )
        data = {
            "id": user.id,
            "name": user.name,
            "token": user.token,
            "webhook": user.webhook,
            "events": ",".join(user.events),
            "osname": body.get("osname", ""),
            "hmac_key": bool(user.hmac_key),
        }
        return envelope(data, 201)

    def _add_old_build_user(self, name: str, token: str, body: dict[str, Any]) -> web.Response:
        """May-2025 AddUser: a comma separated string of old names; hmacKey, s3Config ignored."""
        events = body.get("events", "")
        if not isinstance(events, str):
            return failure(
                400, "Incomplete data in Payload. Required name, token, webhook, expiration, events"
            )
        names = [event.strip() for event in events.split(",") if event.strip()]
        for event in names:
            if event not in OLD_BUILD_EVENTS | {"All"}:
                return failure(400, f"Invalid event: {event}")
        user = self.server.add_user(
            name, token, webhook=str(body.get("webhook") or ""), events=names
        )
        # Not enveloped, as text/plain.
        return web.Response(text=f'{{"id":{user.id}}}', content_type="text/plain")

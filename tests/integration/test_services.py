"""The sending actions, checked by what the gateway received."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from homeassistant.components.camera import Camera
from homeassistant.components.camera.const import DATA_COMPONENT as CAMERA_COMPONENT
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.whatsapp_gateway import sending
from custom_components.whatsapp_gateway.const import DOMAIN, EVENT_MESSAGE_RECEIVED, MAX_FILE_BYTES
from tests.conftest import USER_TOKEN, SimulatorHandle

from .conftest import (
    Bus,
    maytapi_entry,
    pair_maytapi_phone,
    pair_wuzapi_user,
    served,
    setup_entry,
    wuzapi_entry,
)

# The smallest JPEG: the start and end markers (the camera is not asked to decode it).
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16 + b"\xff\xd9"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def sent(simulator: SimulatorHandle) -> list[dict[str, Any]]:
    """What the wuzapi user has sent, oldest first."""
    records: list[dict[str, Any]] = await simulator.get(f"wuzapi/users/{USER_TOKEN}/sent")
    return records


async def call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    """Call an action and return its response."""
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


async def test_send_message_to_several_targets(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """One text to a number, a JID and a group; the response lists each message."""
    response = await call(
        hass,
        "send_message",
        config_entry_id=wuzapi_account.entry_id,
        target=["+49 170 0000002", "491700000003@s.whatsapp.net", "120363012345678901@g.us"],
        message="Door opened",
    )
    requests = await sent(simulator)
    assert [(r["endpoint"], r["body"]["Phone"], r["body"]["Body"]) for r in requests] == [
        ("/chat/send/text", "491700000002", "Door opened"),
        ("/chat/send/text", "491700000003", "Door opened"),
        ("/chat/send/text", "120363012345678901@g.us", "Door opened"),
    ]
    assert response == {
        "messages": [
            {"target": target, "chat_id": chat_id, "message_id": request["id"]}
            for target, chat_id, request in zip(
                ["+49 170 0000002", "491700000003@s.whatsapp.net", "120363012345678901@g.us"],
                [
                    "491700000002@s.whatsapp.net",
                    "491700000003@s.whatsapp.net",
                    "120363012345678901@g.us",
                ],
                requests,
                strict=True,
            )
        ]
    }


async def test_reply_and_single_account(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """With one account the entry may be left out; reply_to quotes a message."""
    await call(hass, "send_message", target="491700000002", message="pong", reply_to="ABC123")
    body = (await sent(simulator))[0]["body"]
    assert body["ContextInfo"]["StanzaID"] == "ABC123"
    assert body["Body"] == "pong"


async def test_no_response_unless_asked(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """Called without asking for a response, the action still sends."""
    result = await hass.services.async_call(
        DOMAIN, "send_message", {"target": "491700000002", "message": "hi"}, blocking=True
    )
    assert result is None
    assert len(await sent(simulator)) == 1


async def test_a_national_number_is_refused_with_an_example(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """A number without its country code sends nothing, and the error says how to write it."""
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_message", message="x", target=["491700000002", "0170 1234567"])
    assert str(raised.value) == (
        '"0170 1234567" has no country code. Write it in international format, '
        "for example +49 170 1234567"
    )
    assert await sent(simulator) == []


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"target": "not a number"}, "invalid_target"),
        ({"target": ["491700000002", "12"]}, "invalid_target"),
        ({"target": "0170 1234567"}, "national_number"),
        ({"target": []}, "no_target"),
        ({"target": "491700000002", "config_entry_id": "nope"}, "account_not_found"),
    ],
)
async def test_bad_input(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    data: dict[str, Any],
    key: str,
) -> None:
    """Bad input is refused with a translated error, and nothing is sent."""
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_message", message="x", **data)
    assert raised.value.translation_key == key
    assert str(raised.value)  # the translated text, not the key
    assert key not in str(raised.value)
    assert await sent(simulator) == []


async def test_account_not_loaded(hass: HomeAssistant, wuzapi_account: MockConfigEntry) -> None:
    """An unloaded account cannot send."""
    await hass.config_entries.async_unload(wuzapi_account.entry_id)
    assert wuzapi_account.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError, match="is not loaded") as raised:
        await call(
            hass,
            "send_message",
            config_entry_id=wuzapi_account.entry_id,
            target="491700000002",
            message="x",
        )
    assert raised.value.translation_key == "account_not_loaded"
    # And without naming it, there is no account to pick.
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_message", target="491700000002", message="x")
    assert raised.value.translation_key == "account_required"


async def test_gateway_error_names_the_target(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """A send the gateway refuses raises a translated error naming the failed target."""
    await simulator.fault(status=500, times=1, path="/chat/send/text")
    with pytest.raises(HomeAssistantError) as raised:
        await call(hass, "send_message", target=["491700000009", "491700000002"], message="x")
    assert raised.value.translation_key == "send_partly_failed"
    assert raised.value.translation_placeholders["targets"] == "491700000009"
    assert "491700000009" in str(raised.value)
    # The error names what did go out, so that nobody sends it again.
    [delivered] = await sent(simulator)
    assert delivered["body"]["Phone"] == "491700000002"
    assert f"491700000002 ({delivered['id']})" in str(raised.value)


async def test_outage_is_retried(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gateway that is briefly unavailable gets the message on a later try."""
    monkeypatch.setattr(sending, "SEND_RETRY_DELAYS", (0.0, 0.0))
    await simulator.fault(status=503, times=2, path="/chat/send/text")
    response = await call(hass, "send_message", target="491700000002", message="later")
    assert len(response["messages"]) == 1
    assert [r["body"]["Body"] for r in await sent(simulator)] == ["later"]


async def test_outage_gives_up(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gateway that stays away: after the retries, an error, never a silent success."""
    monkeypatch.setattr(sending, "SEND_RETRY_DELAYS", (0.0,))
    await simulator.fault(status=429, times=5, path="/chat/send/text", retry_after=0)
    with pytest.raises(HomeAssistantError, match="491700000002"):
        await call(hass, "send_message", target="491700000002", message="x")
    assert await sent(simulator) == []


@pytest.fixture
async def file_server(socket_enabled: None) -> Any:
    """A web server with a picture, a protected file, a huge stream and a missing file."""

    async def picture(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def protected(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") not in ("Basic dXNlcjpwdw==", "Bearer tok"):
            return web.Response(status=401)
        return web.Response(body=b"%PDF-1.4 report", content_type="application/octet-stream")

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"\0" * (1024 * 1024)
        for _ in range(MAX_FILE_BYTES // len(chunk) + 1):
            await response.write(chunk)
        return response

    app = web.Application()
    app.router.add_get("/cam/snapshot.png", picture)
    app.router.add_get("/files/report.pdf", protected)
    app.router.add_get("/huge.bin", huge)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def test_send_file_from_url(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    file_server: str,
) -> None:
    """A picture from a URL goes out as an image with its caption."""
    response = await call(
        hass,
        "send_file",
        target="491700000002",
        url=f"{file_server}/cam/snapshot.png",
        caption="Front door",
    )
    request = (await sent(simulator))[0]
    assert request["endpoint"] == "/chat/send/image"
    assert request["body"]["Caption"] == "Front door"
    assert request["body"]["Image"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert response["messages"][0]["message_id"] == request["id"]


@pytest.mark.parametrize("auth", [{"username": "user", "password": "pw"}, {"bearer_token": "tok"}])
async def test_send_file_with_authentication(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    file_server: str,
    auth: dict[str, str],
) -> None:
    """A protected URL is fetched with basic or bearer authentication; kind as asked."""
    await call(
        hass,
        "send_file",
        target="491700000002",
        url=f"{file_server}/files/report.pdf",
        kind="document",
        filename="Report.pdf",
        **auth,
    )
    request = (await sent(simulator))[0]
    assert request["endpoint"] == "/chat/send/document"
    assert request["body"]["FileName"] == "Report.pdf"
    assert base64.b64decode(request["body"]["Document"].split(",", 1)[1]) == b"%PDF-1.4 report"


@pytest.mark.parametrize(
    ("path", "extra", "error", "key"),
    [
        ("/files/report.pdf", {}, HomeAssistantError, "download_failed"),
        ("/missing", {}, HomeAssistantError, "download_failed"),
        ("/huge.bin", {}, ServiceValidationError, "file_too_large"),
        (
            "/files/report.pdf",
            {"username": "u", "bearer_token": "t"},
            ServiceValidationError,
            "one_authentication",
        ),
    ],
)
async def test_send_file_url_errors(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    file_server: str,
    path: str,
    extra: dict[str, str],
    error: type[Exception],
    key: str,
) -> None:
    """Unauthorised, missing or oversized downloads are refused, and nothing is sent."""
    with pytest.raises(error) as raised:
        await call(hass, "send_file", target="491700000002", url=f"{file_server}{path}", **extra)
    assert raised.value.translation_key == key
    assert await sent(simulator) == []


async def test_send_file_unreachable_url(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """A URL nobody answers at is a translated error."""
    with pytest.raises(HomeAssistantError, match=r"Downloading http://127\.0\.0\.1:9/x\.png"):
        await call(hass, "send_file", target="491700000002", url="http://127.0.0.1:9/x.png")


async def test_send_local_file(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    tmp_path: Path,
) -> None:
    """A file in an allowed folder is sent; one outside is refused; a missing one too."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "voice.ogg").write_bytes(b"OggS voice")
    (tmp_path / "secret.txt").write_text("no")
    hass.config.allowlist_external_dirs = {str(allowed)}

    await call(
        hass, "send_file", target="491700000002", file=str(allowed / "voice.ogg"), kind="voice"
    )
    request = (await sent(simulator))[0]
    assert request["endpoint"] == "/chat/send/audio"
    assert request["body"]["ptt"] is True

    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_file", target="491700000002", file=str(tmp_path / "secret.txt"))
    assert raised.value.translation_key == "path_not_allowed"
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_file", target="491700000002", file=str(allowed / "gone.png"))
    assert raised.value.translation_key == "file_unreadable"
    assert len(await sent(simulator)) == 1


async def test_send_media_source(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """A file from the media browser is sent; an unknown one is refused."""
    Path(hass.config.media_dirs["local"], "garden.png").write_bytes(PNG)
    await call(
        hass,
        "send_file",
        target="491700000002",
        media={
            "media_content_id": "media-source://media_source/local/garden.png",
            "media_content_type": "image/png",
        },
    )
    request = (await sent(simulator))[0]
    assert request["endpoint"] == "/chat/send/image"

    with pytest.raises(ServiceValidationError) as raised:
        await call(
            hass,
            "send_file",
            target="491700000002",
            media={"media_content_id": "media-source://nowhere/x"},
        )
    assert raised.value.translation_key == "media_not_found"


async def test_send_image_entity(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """An image entity's picture can be sent: here one account's QR code, by another."""
    await simulator.control("wuzapi/users/user-token/logout_from_phone")
    async with simulator.session.post(
        f"{simulator.url}/session/connect", headers={"Token": "user-token"}, json={}
    ) as response:
        assert response.status == 200
    await hass.async_block_till_done()
    assert hass.states.get("image.home_qr_code").state != "unavailable"
    await pair_maytapi_phone(simulator)
    shop = await setup_entry(hass, maytapi_entry(simulator))
    await call(
        hass,
        "send_file",
        config_entry_id=shop.entry_id,
        target="905301112233",
        media={"media_content_id": "media-source://image/image.home_qr_code"},
    )
    [record] = await simulator.get("maytapi/phones/12/sent")
    assert record["body"]["message"].startswith("data:image/png;base64,iVBORw0KGgo")


class FrontDoor(Camera):
    """A camera whose snapshot is a fixed picture."""

    _attr_name = "Front door"
    _attr_unique_id = "front-door"

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        return JPEG


@pytest.fixture
async def front_door(hass: HomeAssistant) -> None:
    """camera.front_door (set up before Home Assistant's HTTP server starts, as at boot)."""
    assert await async_setup_component(hass, "camera", {})
    await hass.data[CAMERA_COMPONENT].async_add_entities([FrontDoor()])


async def test_send_a_camera_snapshot(
    hass: HomeAssistant,
    front_door: None,
    wuzapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
) -> None:
    """camera: sends the snapshot taken when the action runs, as an image with its caption."""
    await call(
        hass, "send_file", target="+49 170 0000002", camera="camera.front_door", caption="Ding"
    )
    [record] = await sent(simulator)
    assert record["endpoint"] == "/chat/send/image"
    assert record["body"]["Image"] == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    assert record["body"]["Caption"] == "Ding"
    with pytest.raises(probatio.Invalid):  # only a camera
        await call(hass, "send_file", target="+49 170 0000002", camera="light.hall")


@pytest.mark.parametrize("sources", [{}, {"url": "http://127.0.0.1:9/a.png", "file": "/tmp/a.png"}])
async def test_send_file_needs_one_source(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, sources: dict[str, str]
) -> None:
    """Exactly one of url, file and media."""
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_file", target="491700000002", **sources)
    assert raised.value.translation_key == "one_file_source"


async def test_maytapi_send_file(
    hass: HomeAssistant,
    maytapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    file_server: str,
) -> None:
    """The same action works for Maytapi."""
    await call(
        hass, "send_file", target="905301112233", url=f"{file_server}/cam/snapshot.png", caption="c"
    )
    [record] = await simulator.get("maytapi/phones/12/sent")
    assert record["chat_id"] == "905301112233@c.us"
    assert record["body"]["type"] == "media"
    assert record["body"]["text"] == "c"
    assert record["body"]["message"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


async def test_with_two_accounts_the_call_tells_which_one_sends(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    maytapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
    bus: Bus,
) -> None:
    """With several accounts a reply goes out from the account that got the message, and a
    message to a chat from the account that has it; otherwise the error says what to add."""
    received = bus.listen(EVENT_MESSAGE_RECEIVED)
    await simulator.control("maytapi/phones/12/inbound", {"text": "ping", "from": "905301112233"})
    await hass.async_block_till_done()
    [ping] = received
    assert ping.data["config_entry_id"] == maytapi_account.entry_id
    await call(
        hass,
        "send_message",
        target=ping.data["chat_id"],
        message="pong",
        reply_to=ping.data["message_id"],
    )
    [reply] = await simulator.get("maytapi/phones/12/sent")
    assert reply["body"]["message"] == "pong"
    # So does a reaction to it.
    await hass.services.async_call(
        DOMAIN,
        "send_reaction",
        {"target": ping.data["chat_id"], "message_id": ping.data["message_id"], "emoji": "👍"},
        blocking=True,
    )
    reaction = (await simulator.get("maytapi/phones/12/sent"))[1]["body"]
    assert (reaction["type"], reaction["reply_to"]) == ("reaction", ping.data["message_id"])

    await call(hass, "send_message", target="+49 170 0000002", message="to Anna's chat")
    assert [r["body"]["Body"] for r in await sent(simulator)] == ["to Anna's chat"]

    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_message", target="+49 170 9999999", message="whose?")
    assert raised.value.translation_key == "account_required"
    assert "config_entry_id of the message that triggered it" in str(raised.value)
    assert len(await simulator.get("maytapi/phones/12/sent")) == 2
    assert len(await sent(simulator)) == 1


async def test_a_chats_notify_entity_as_target(
    hass: HomeAssistant,
    wuzapi_account: MockConfigEntry,
    maytapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
) -> None:
    """A chat's notify entity stands for the chat, and tells the account, in every action."""
    await call(hass, "send_message", target=["notify.anna", "+49 170 0000003"], message="hi")
    assert [r["body"]["Phone"] for r in await sent(simulator)] == ["491700000002", "491700000003"]
    await hass.services.async_call(
        DOMAIN, "send_typing", {"target": "notify.anna", "state": "typing"}, blocking=True
    )
    assert (await sent(simulator))[-1]["body"]["Phone"] == "491700000002"
    assert await simulator.get("maytapi/phones/12/sent") == []

    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "send_message", target="notify.persistent_notification", message="x")
    assert str(refused.value) == (
        "notify.persistent_notification is not the notify entity of a WhatsApp chat; give a "
        "phone number, a chat id or a chat's notify entity"
    )


async def test_typing_before_each_message(
    hass: HomeAssistant, wuzapi_account: MockConfigEntry, simulator: SimulatorHandle
) -> None:
    """With the option on, the chat shows "typing…" for a moment before the text comes."""
    hass.config_entries.async_update_entry(
        wuzapi_account, options={**wuzapi_account.options, "show_typing": True}
    )
    await hass.async_block_till_done()
    sending = hass.async_create_task(call(hass, "send_message", target="notify.anna", message="hi"))

    async def typing_shows() -> bool:
        return [r["endpoint"] for r in await sent(simulator)] == ["/chat/presence"]

    await served(typing_shows)
    assert not sending.done()  # the text waits for the moment to pass (Home Assistant's clock)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2))
    await sending
    presence, text = await sent(simulator)
    assert (presence["body"]["State"], text["body"]["Body"]) == ("composing", "hi")


async def test_a_chat_added_by_lid_is_found_by_number(
    hass: HomeAssistant,
    maytapi_account: MockConfigEntry,
    simulator: SimulatorHandle,
) -> None:
    """With two accounts, a chat added by its LID tells the account for a send to the number,
    once a message told that LID and number belong together."""
    lid = f"{491700000002 % 10**15:015d}@lid"
    await pair_wuzapi_user(simulator)
    await setup_entry(hass, wuzapi_entry(simulator, chats=[(lid, "Anna")]))
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "send_message", target="+49 170 0000002", message="hi")
    assert raised.value.translation_key == "account_required"
    await simulator.control(
        f"wuzapi/users/{USER_TOKEN}/inbound", {"from": "491700000002", "text": "x", "lid": True}
    )
    await hass.async_block_till_done()
    await call(hass, "send_message", target="+49 170 0000002", message="hi")
    assert [r["body"]["Phone"] for r in await sent(simulator)] == ["491700000002"]
    assert await simulator.get("maytapi/phones/12/sent") == []

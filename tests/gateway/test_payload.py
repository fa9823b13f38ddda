"""The tolerant payload readers and the media encoding helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import aiohttp
import pytest

from custom_components.whatsapp_gateway.gateway import (
    GatewayResponseError,
    GatewayUnsupported,
    MediaKind,
    OutgoingMedia,
    create_gateway,
    payload as p,
)
from custom_components.whatsapp_gateway.gateway.base import retry_after
from custom_components.whatsapp_gateway.gateway.media import (
    decode_base64,
    from_data_url,
    to_data_url,
)
from custom_components.whatsapp_gateway.gateway.models import media_kind_for


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1768469445, datetime(2026, 1, 15, 9, 30, 45, tzinfo=UTC)),
        ("1768469445", datetime(2026, 1, 15, 9, 30, 45, tzinfo=UTC)),
        (1768469445000, datetime(2026, 1, 15, 9, 30, 45, tzinfo=UTC)),
        (
            "2026-01-15T10:30:45+01:00",
            datetime(2026, 1, 15, 10, 30, 45, tzinfo=timezone(timedelta(hours=1))),
        ),
        ("2026-01-15T09:30:45Z", datetime(2026, 1, 15, 9, 30, 45, tzinfo=UTC)),
        ("2026-01-15T09:30:45", datetime(2026, 1, 15, 9, 30, 45, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),  # Go's zero time means "not set"
        ("yesterday", None),
        ("", None),
        (True, None),
        (None, None),
        (float("inf"), None),
        (10**30, None),
        ([1], None),
    ],
)
def test_parse_timestamp(value: Any, expected: datetime | None) -> None:
    assert p.parse_timestamp(value) == expected


def test_readers_tolerate_case_and_types() -> None:
    data = {"LoggedIn": "true", "Count": 3, "Flag": False, "Nested": {"a": 1}, "Lat": "52.5"}
    assert p.get(data, "loggedin") == "true"
    assert p.get_bool(data, "loggedIn") is True
    assert p.get_bool(data, "flag") is False
    assert p.get_str(data, "count") == "3"
    assert p.get_str(data, "flag") is None
    assert p.get_str(data, "missing") is None
    assert p.get_dict(data, "nested") == {"a": 1}
    assert p.get_dict(data, "count") == {}
    assert p.get_float(data, "lat") == 52.5
    assert p.get_float(data, "flag") is None
    assert p.get_float({"x": "north"}, "x") is None
    assert p.get_float({"x": [1]}, "x") is None
    assert p.get("not a mapping", "x") is None
    with pytest.raises(GatewayResponseError, match="The gateway's answer has no 'id'"):
        p.require_str({}, "id", what="answer")
    with pytest.raises(GatewayResponseError, match="not valid JSON"):
        p.load_json(b"{", "body")


def test_media_helpers() -> None:
    assert to_data_url(b"abc", "audio/ogg; codecs=opus") == "data:audio/ogg;base64,YWJj"
    assert to_data_url(b"abc", "") == "data:application/octet-stream;base64,YWJj"
    assert decode_base64("YW Jj") == b"abc"
    assert decode_base64("_-8") == b"\xff\xef"
    assert decode_base64("@@@") is None
    assert from_data_url("data:image/png;base64,YWJj", "QR") == b"abc"
    assert from_data_url("YWJj", "QR") == b"abc"
    with pytest.raises(GatewayResponseError, match="The gateway's QR is not valid base64"):
        from_data_url("data:image/png;base64,", "QR")


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("image/jpeg", MediaKind.IMAGE),
        ("image/png", MediaKind.IMAGE),
        ("image/webp", MediaKind.STICKER),
        ("image/gif", MediaKind.DOCUMENT),
        ("video/mp4", MediaKind.VIDEO),
        ("video/quicktime", MediaKind.DOCUMENT),
        ("audio/ogg; codecs=opus", MediaKind.AUDIO),
        ("application/pdf", MediaKind.DOCUMENT),
    ],
)
def test_media_kind_for(mime: str, kind: MediaKind) -> None:
    assert media_kind_for(mime) is kind


def test_outgoing_media_guesses() -> None:
    media = OutgoingMedia.from_bytes(b"x", filename="clip.mp4")
    assert (media.mime_type, media.kind) == ("video/mp4", MediaKind.VIDEO)
    unknown = OutgoingMedia.from_bytes(b"x", filename="blob")
    assert (unknown.mime_type, unknown.kind) == ("application/octet-stream", MediaKind.DOCUMENT)
    voice = OutgoingMedia.from_bytes(b"x", filename="v.ogg", kind=MediaKind.VOICE)
    assert voice.kind is MediaKind.VOICE


def test_retry_after() -> None:
    assert retry_after({"Retry-After": "12"}) == 12
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after({}) is None


def test_create_gateway_checks_its_options() -> None:
    session = cast("aiohttp.ClientSession", None)
    with pytest.raises(ValueError, match="The wuzapi gateway needs the option 'url'"):
        create_gateway("wuzapi", session, {"token": "t"})
    with pytest.raises(ValueError, match="needs the option 'api_key'"):
        create_gateway("maytapi", session, {"product_id": "p", "api_key": ""})
    with pytest.raises(ValueError, match="The waha gateway needs the option 'url'"):
        create_gateway("waha", session, {})
    with pytest.raises(ValueError, match="The evolution gateway needs the option 'api_key'"):
        create_gateway("evolution", session, {"url": "http://e"})
    with pytest.raises(ValueError, match="The greenapi gateway needs the option 'id_instance'"):
        create_gateway("greenapi", session, {"api_token": "t"})
    with pytest.raises(ValueError, match="The cloudapi gateway needs the option 'app_secret'"):
        create_gateway("cloudapi", session, {"access_token": "t", "phone_number_id": "1"})
    with pytest.raises(GatewayUnsupported, match="Unknown gateway kind 'telegram'"):
        create_gateway("telegram", session, {})

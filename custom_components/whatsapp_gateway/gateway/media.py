"""Encoding and decoding of media as gateways exchange it (data URLs and base64)."""

from __future__ import annotations

import base64
import binascii

from .errors import GatewayResponseError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def to_data_url(data: bytes, mime_type: str) -> str:
    """`data:<mime>;base64,<payload>` as gateways accept it for uploads."""
    mime = mime_type.split(";")[0].strip() or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode_base64(text: str) -> bytes | None:
    """Bytes from base64 (standard or URL-safe, padding optional); None when it is not base64."""
    cleaned = "".join(text.split())
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None


def from_data_url(text: str, what: str) -> bytes:
    """The bytes of a `data:…;base64,…` URL (a bare base64 string is accepted too)."""
    _, _, payload = text.rpartition(",") if text.startswith("data:") else ("", "", text)
    data = decode_base64(payload)
    if not data:
        raise GatewayResponseError(f"The gateway's {what} is not valid base64 data")
    return data


JPEG_SIGNATURE = b"\xff\xd8\xff"


def sniff_image(data: bytes) -> str | None:
    """The MIME type of a PNG or JPEG image from its first bytes; None for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(JPEG_SIGNATURE):
        return "image/jpeg"
    return None

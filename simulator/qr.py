"""Draw a QR-like PNG for a pairing payload using only the standard library.

The simulator is a test double: the image only has to look like a QR code and change whenever
the payload changes; nobody decodes it.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

MODULES = 29
SCALE = 8
QUIET = 4


def _finder(grid: list[list[bool]], top: int, left: int) -> None:
    for row in range(7):
        for col in range(7):
            ring = max(abs(row - 3), abs(col - 3))
            grid[top + row][left + col] = ring != 2


def qr_matrix(payload: str) -> list[list[bool]]:
    """A 29x29 module pattern: three finder squares and payload-derived data modules."""
    stream = b""
    counter = 0
    while len(stream) * 8 < MODULES * MODULES:
        stream += hashlib.sha256(f"{counter}:{payload}".encode()).digest()
        counter += 1
    grid = [
        [
            bool(stream[(r * MODULES + c) // 8] >> ((r * MODULES + c) % 8) & 1)
            for c in range(MODULES)
        ]
        for r in range(MODULES)
    ]
    for top, left in ((0, 0), (0, MODULES - 7), (MODULES - 7, 0)):
        for row in range(-1, 8):
            for col in range(-1, 8):
                if 0 <= top + row < MODULES and 0 <= left + col < MODULES:
                    grid[top + row][left + col] = False
        _finder(grid, top, left)
    return grid


def qr_png(payload: str) -> bytes:
    """An 8-bit greyscale PNG of the pattern, black on white with a quiet zone."""
    grid = qr_matrix(payload)
    size = (MODULES + 2 * QUIET) * SCALE
    rows = []
    for y in range(size):
        module_row = y // SCALE - QUIET
        line = bytearray([0])  # filter type: none
        for x in range(size):
            module_col = x // SCALE - QUIET
            dark = 0 <= module_row < MODULES and 0 <= module_col < MODULES
            line.append(0 if dark and grid[module_row][module_col] else 255)
        rows.append(bytes(line))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )

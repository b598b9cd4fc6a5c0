#!/usr/bin/env python3
"""Draws the app package's icons (standard library only) and writes them beside this script:
color.png (192x192, full colour, opaque) and outline.png (32x32, white on transparent), as Teams requires.
The PNGs are committed; rerun this only to change the artwork."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0x4F, 0x52, 0xB2, 255)  # manifest accentColor #4F52B2
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def png(width: int, height: int, pixel) -> bytes:
    """An 8-bit RGBA PNG whose pixel (x, y) is pixel(x, y)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def in_round_rect(x: float, y: float, x0: float, y0: float, x1: float, y1: float, r: float) -> bool:
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def in_circle(x: float, y: float, cx: float, cy: float, r: float) -> bool:
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def robot(x: float, y: float, s: float) -> bool | str:
    """The robot head on a unit square scaled by s: True = body, 'eye' = cut-out, False = background."""
    u, v = x / s, y / s
    if in_circle(u, v, 0.37, 0.52, 0.065) or in_circle(u, v, 0.63, 0.52, 0.065):
        return "eye"
    if 0.36 <= u <= 0.64 and 0.66 <= v <= 0.71:
        return "eye"  # mouth
    if in_round_rect(u, v, 0.2, 0.32, 0.8, 0.82, 0.1):
        return True
    if 0.475 <= u <= 0.525 and 0.17 <= v <= 0.32 or in_circle(u, v, 0.5, 0.16, 0.055):
        return True  # antenna
    return False


def color_pixel(x: int, y: int):
    part = robot(x + 0.5, y + 0.5, 192)
    return WHITE if part is True else ACCENT


def outline_pixel(x: int, y: int):
    u, v = x + 0.5, y + 0.5
    part = robot(u, v, 32)
    if part is not True:
        return CLEAR
    # Outline only: keep body pixels that touch a non-body pixel (a 1-2 px white line).
    for dx, dy in ((-1.5, 0), (1.5, 0), (0, -1.5), (0, 1.5)):
        if robot(u + dx, v + dy, 32) is not True:
            return WHITE
    return CLEAR


def main() -> None:
    (HERE / "color.png").write_bytes(png(192, 192, color_pixel))
    (HERE / "outline.png").write_bytes(png(32, 32, outline_pixel))
    print("wrote color.png (192x192) and outline.png (32x32)")


if __name__ == "__main__":
    main()

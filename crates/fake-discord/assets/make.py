#!/usr/bin/env python3
"""Makes the fake CDN's images (besides avatar.png): small real files of every kind Discord serves.

- decoration.png: an APNG (two frames) like Discord's avatar decorations;
- badge.png: a server tag badge; nameplate.png: a nameplate's still;
- banner.webp: a banner, encoded with the system's libwebp (ctypes; `apt-get install libwebp7`);
- icon.gif: a server icon.

Run once (`python3 make.py`) and commit the files; the output is the same on every run.
"""
import ctypes
import ctypes.util
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).parent


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def rows(width, height, pixel):
    """Filter-0 scanlines of RGBA pixels from pixel(x, y)."""
    out = bytearray()
    for y in range(height):
        out.append(0)
        for x in range(width):
            out.extend(pixel(x, y))
    return bytes(out)


def ihdr(width, height):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))


def png(width, height, pixel):
    data = zlib.compress(rows(width, height, pixel), 9)
    return b"\x89PNG\r\n\x1a\n" + ihdr(width, height) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def apng(width, height, frames):
    """An animated PNG: the first frame is also the still image (IDAT)."""
    out = b"\x89PNG\r\n\x1a\n" + ihdr(width, height)
    out += chunk(b"acTL", struct.pack(">II", len(frames), 0))
    sequence = 0
    for index, pixel in enumerate(frames):
        fctl = struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, 1, 2, 0, 0)
        out += chunk(b"fcTL", fctl)
        sequence += 1
        data = zlib.compress(rows(width, height, pixel), 9)
        if index == 0:
            out += chunk(b"IDAT", data)
        else:
            out += chunk(b"fdAT", struct.pack(">I", sequence) + data)
            sequence += 1
    return out + chunk(b"IEND", b"")


def ring(colour):
    """A ring in the outer sixth of a square: the shape of a decoration around an avatar."""
    def pixel(x, y):
        dx, dy = x - 47.5, y - 47.5
        d = (dx * dx + dy * dy) ** 0.5
        return colour + (255,) if 40 <= d <= 47 else (0, 0, 0, 0)
    return pixel


def webp(width, height, pixel):
    lib = ctypes.CDLL(ctypes.util.find_library("webp") or "libwebp.so.7")
    rgba = bytes(b for y in range(height) for x in range(width) for b in pixel(x, y))
    output = ctypes.POINTER(ctypes.c_uint8)()
    size = lib.WebPEncodeLosslessRGBA(rgba, width, height, width * 4, ctypes.byref(output))
    data = ctypes.string_at(output, size)
    lib.WebPFree(output)
    return data


# A 1×1 GIF (one colour, a global colour table of two): the smallest real GIF.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x3b\xa5\x5c\xff\xff\xff"
       b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

(HERE / "decoration.png").write_bytes(apng(96, 96, [ring((250, 166, 26)), ring((235, 69, 158))]))
(HERE / "badge.png").write_bytes(png(16, 16, lambda x, y: (88, 101, 242, 255) if 2 <= x <= 13 and 2 <= y <= 13 else (0, 0, 0, 0)))
(HERE / "nameplate.png").write_bytes(png(240, 48, lambda x, y: (40 + x // 3, 30, 120 + x // 4, 255)))
(HERE / "banner.webp").write_bytes(webp(240, 96, lambda x, y: (30 + x // 2, 90 + y, 200, 255)))
(HERE / "icon.gif").write_bytes(GIF)

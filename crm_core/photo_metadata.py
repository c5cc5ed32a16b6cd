"""Removing metadata from uploaded photos before they are stored and published (media_url is
public): EXIF carries the GPS position where the photo was taken — often the resident's home —
and the camera's serial number. The pixels are not touched; no image library is needed.

JPEG: APP1 (EXIF, XMP) and APP13 (IPTC) segments are dropped up to the start of scan.
PNG: eXIf, tEXt, iTXt, zTXt and tIME chunks are dropped.
WebP: EXIF and XMP chunks are dropped and the VP8X header's flags for them cleared.
A file whose structure does not parse is refused rather than passed through.
"""

from __future__ import annotations

import struct


class BrokenImage(ValueError):
    """The bytes start like an image but their structure is broken."""


def _jpeg(data: bytes) -> bytes:
    out = bytearray(data[:2])
    i = 2
    while True:
        if i + 4 > len(data) or data[i] != 0xFF:
            raise BrokenImage("JPEG segments do not parse")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[i:]
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += data[i:i + 2]
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        end = i + 2 + length
        if length < 2 or end > len(data):
            raise BrokenImage("JPEG segment runs past the end")
        if marker not in (0xE1, 0xED):
            out += data[i:end]
        i = end


_PNG_DROP = {b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME"}


def _png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    i = 8
    while i < len(data):
        if i + 12 > len(data):
            raise BrokenImage("PNG chunks do not parse")
        (length,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        end = i + 12 + length
        if end > len(data):
            raise BrokenImage("PNG chunk runs past the end")
        if kind not in _PNG_DROP:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            return bytes(out)
    raise BrokenImage("PNG has no IEND")


def _webp(data: bytes) -> bytes:
    chunks = bytearray()
    i = 12
    while i < len(data):
        if i + 8 > len(data):
            raise BrokenImage("WebP chunks do not parse")
        kind = data[i:i + 4]
        (length,) = struct.unpack("<I", data[i + 4:i + 8])
        end = i + 8 + length + (length & 1)
        if end > len(data) + 1:
            raise BrokenImage("WebP chunk runs past the end")
        chunk = bytearray(data[i:min(end, len(data))])
        if kind == b"VP8X" and len(chunk) > 8:
            chunk[8] &= ~(0x08 | 0x04) & 0xFF  # EXIF and XMP present flags
        if kind not in (b"EXIF", b"XMP "):
            chunks += chunk
        i = end
    return b"RIFF" + struct.pack("<I", len(chunks) + 4) + b"WEBP" + bytes(chunks)


def strip(data: bytes, ext: str) -> bytes:
    if ext == "jpg":
        return _jpeg(data)
    if ext == "png":
        return _png(data)
    if ext == "webp":
        return _webp(data)
    raise BrokenImage(f"unsupported type {ext}")

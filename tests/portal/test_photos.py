"""Photos: the type comes from the bytes, and what is published carries no EXIF/XMP/text
metadata (a GPS position in a photo's EXIF is often the resident's home)."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.photos import Photo, PhotoRejected

from .conftest import tiny_png

GPS = b"GPSLatitude 52.2297 N Jana Kowalskiego 5"


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_exif() -> bytes:
    return (b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + segment(0xE1, b"Exif\x00\x00" + GPS) + segment(0xED, b"Photoshop 3.0\x00" + GPS)
            + segment(0xDB, b"\x00" + bytes(64)) + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
            + b"\x12\x34" * 40 + b"\xff\xd9")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_jpeg_loses_exif_and_iptc_but_keeps_the_image() -> None:
    original = jpeg_with_exif()
    photo = Photo.parse(original, 1_000_000)
    assert photo.ext == "jpg" and GPS not in photo.data
    assert photo.data.startswith(b"\xff\xd8\xff\xe0") and b"\xff\xdb" in photo.data
    assert photo.data.endswith(b"\x12\x34" * 40 + b"\xff\xd9")


def test_png_loses_text_chunks() -> None:
    png = tiny_png()
    with_text = png[:33] + png_chunk(b"tEXt", b"Location\x00" + GPS) + png_chunk(b"eXIf", GPS) + png[33:]
    photo = Photo.parse(with_text, 1_000_000)
    assert photo.data == png


def test_webp_loses_exif_and_its_flag() -> None:
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x08 | 0x04 | 0x10]) + bytes(9)
    image = b"VP8L" + struct.pack("<I", 6) + b"\x2f" + bytes(5)
    exif = b"EXIF" + struct.pack("<I", len(GPS)) + GPS + (b"\x00" if len(GPS) % 2 else b"")
    body = b"WEBP" + vp8x + image + exif
    photo = Photo.parse(b"RIFF" + struct.pack("<I", len(body)) + body, 1_000_000)
    assert GPS not in photo.data and b"EXIF" not in photo.data
    assert photo.data[20] == 0x10  # alpha flag kept, EXIF/XMP flags cleared
    assert struct.unpack("<I", photo.data[4:8])[0] == len(photo.data) - 8


@pytest.mark.parametrize("data", [
    b"\xff\xd8\xff\xe1\xff\xff" + bytes(100),             # segment longer than the file
    b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 10**6) + b"IHDR" + bytes(80),
    b"GIF89a" + bytes(100),
    b"<svg xmlns='http://www.w3.org/2000/svg'/>" + bytes(60),
    tiny_png()[:40],
])
def test_broken_or_foreign_files_are_refused(data: bytes) -> None:
    with pytest.raises(PhotoRejected):
        Photo.parse(data, 1_000_000)


def test_size_cap() -> None:
    with pytest.raises(PhotoRejected, match="too large"):
        Photo.parse(tiny_png() + bytes(2000), 1000)


@settings(max_examples=400, deadline=None)
@given(magic=st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x10\x00\x00\x00WEBP"]),
       rest=st.binary(min_size=0, max_size=300))
def test_bytes_behind_a_magic_number_are_refused_or_cleaned(magic: bytes, rest: bytes) -> None:
    try:
        photo = Photo.parse(magic + rest, 1_000_000)
    except PhotoRejected:
        return
    assert photo.data[:4] == (magic + rest)[:4]

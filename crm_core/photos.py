"""Photos attached to reports.

The type is decided by the file's first bytes, never by its name or the browser's Content-Type:
only JPEG, PNG and WebP are kept, and their metadata (EXIF GPS position...) is removed
(crm_core.photo_metadata). Files live under `media_dir` (outside the package, so no static
route can reach them) as `<case id>/<32 random hex>.<ext>`; the random part is what makes a
photo's address unguessable, the case id only groups a case's photos for listing.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from crm_core.photo_metadata import BrokenImage, strip

KINDS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")
MIN_BYTES = 64  # below this no real photo exists; a header alone is not an image


class PhotoRejected(ValueError):
    """The upload is not a photo we keep; the message says why."""


def too_large(max_bytes: int) -> str:
    """The message for a photo over the limit (i18n.field_message words it for the page)."""
    return f"too large: at most {max_bytes // (1024 * 1024)} MB"


def sniff(data: bytes) -> str | None:
    """Extension for the image type in `data`'s magic bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True)
class Photo:
    data: bytes
    ext: str

    @classmethod
    def parse(cls, data: bytes, max_bytes: int) -> Photo:
        if len(data) > max_bytes:
            raise PhotoRejected(too_large(max_bytes))
        ext = sniff(data)
        if ext is None or len(data) < MIN_BYTES:
            raise PhotoRejected("only JPEG, PNG or WebP photos are accepted")
        try:
            return cls(strip(data, ext), ext)
        except BrokenImage:
            raise PhotoRejected("only JPEG, PNG or WebP photos are accepted") from None


class MediaStore:
    def __init__(self, root: Path, url_prefix: str = "/portal/media") -> None:
        self.root = root
        self.url_prefix = url_prefix.rstrip("/")
        # Ids of cases that have a photo folder: listing 50 requests then touches the disk only
        # for those, not 50 times. Only this process writes here (`ckm run` is one process).
        self._with_photos: set[int] | None = None

    def _cases(self) -> set[int]:
        if self._with_photos is None:
            try:
                self._with_photos = {int(e.name) for e in os.scandir(self.root) if e.name.isdigit()}
            except FileNotFoundError:
                self._with_photos = set()
        return self._with_photos

    def save(self, case_id: int, photo: Photo) -> str:
        folder = self.root / str(case_id)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(16)}.{photo.ext}"
        tmp = folder / f".{name}.part"
        tmp.write_bytes(photo.data)
        os.replace(tmp, folder / name)  # never a half-written file under a served name
        self._cases().add(case_id)
        return name

    def names(self, case_id: int) -> list[str]:
        if case_id not in self._cases():
            return []
        try:
            return sorted(e.name for e in os.scandir(self.root / str(case_id)) if _NAME.match(e.name))
        except FileNotFoundError:
            return []

    def url(self, case_id: int, name: str) -> str:
        return f"{self.url_prefix}/{case_id}/{name}"

    def first_url(self, case_id: int) -> str | None:
        names = self.names(case_id)
        return self.url(case_id, names[0]) if names else None

    def path(self, case_id: str, name: str) -> tuple[Path, str] | None:
        """The file and its content type for a requested address, if it names a stored photo."""
        if not (case_id.isascii() and case_id.isdigit() and len(case_id) < 12) or not _NAME.match(name):
            return None
        path = self.root / case_id / name
        if not path.is_file():
            return None
        return path, KINDS[name.rsplit(".", 1)[1]]

"""Parsing untrusted text (form fields, query parameters) into typed values.

Each parser either returns a value or records one message for the field and returns None, so a
form shows every problem at once. Messages are Polish-first keys for i18n (see i18n.py) with the
offending detail appended where it helps.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from crm_core.errors import ValidationError
from crm_core.phone import normalize_phone
from crm_core.warsaw import DISTRICTS, LAT_RANGE, LON_RANGE

WARSAW = ZoneInfo("Europe/Warsaw")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidInput(Exception):
    """Some fields did not parse; `fields` maps each to its message. Nothing was written."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = dict(fields)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.fields.items()))


@dataclass
class FieldErrors:
    fields: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise InvalidInput(self.fields)

    def text(
        self, name: str, raw: str | None, *, max_len: int, required: bool = False, multiline: bool = False
    ) -> str | None:
        value = (raw or "").strip()
        # Browsers send a textarea's line breaks as CRLF but count them as one character for
        # maxlength: count (and keep) them as one, or a text that fitted is refused.
        value = value.replace("\r\n", "\n") if multiline else " ".join(value.split())
        if not value:
            if required:
                self.add(name, "required")
            return None
        if _CONTROL.search(value):
            self.add(name, "control characters are not allowed")
            return None
        if len(value) > max_len:
            self.add(name, f"at most {max_len} characters (got {len(value)})")
            return None
        return value

    def number(self, name: str, raw: str | None, lo: float, hi: float) -> float | None:
        value = (raw or "").strip().replace(",", ".")
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            self.add(name, f"expected a number, got {value[:20]!r}")
            return None
        if not math.isfinite(number) or not lo <= number <= hi:
            self.add(name, f"expected {lo} to {hi} (Warsaw), got {value[:20]}")
            return None
        return number

    def point(self, lat_name: str, lat_raw: str | None, lon_name: str, lon_raw: str | None
              ) -> tuple[float | None, float | None]:
        lat = self.number(lat_name, lat_raw, *LAT_RANGE)
        lon = self.number(lon_name, lon_raw, *LON_RANGE)
        if (lat is None) != (lon is None) and lat_name not in self.fields and lon_name not in self.fields:
            self.add(lat_name if lat is None else lon_name, "give both latitude and longitude, or neither")
            return None, None
        return lat, lon

    def district(self, name: str, raw: str | None, *, required: bool) -> str | None:
        value = (raw or "").strip()
        if not value:
            if required:
                self.add(name, "required")
            return None
        if value not in DISTRICTS:
            self.add(name, f"unknown Warsaw district {value[:40]!r}")
            return None
        return value

    def email(self, name: str, raw: str | None) -> str | None:
        value = (raw or "").strip()
        if not value:
            return None
        if len(value) > 254 or not _EMAIL.match(value):
            self.add(name, "not an e-mail address")
            return None
        return value

    def phone(self, name: str, raw: str | None) -> str | None:
        value = (raw or "").strip()
        if not value:
            return None
        if len(value) > 32:
            self.add(name, "not a phone number")
            return None
        try:
            return normalize_phone(value, field=name)
        except ValidationError:
            self.add(name, "not a phone number")
            return None

    def integer(self, name: str, raw: str | None, lo: int, hi: int, default: int) -> int:
        value = (raw or "").strip()
        if not value:
            return default
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            self.add(name, f"expected a whole number {lo} to {hi}")
            return default
        number = int(value)
        if not lo <= number <= hi:
            self.add(name, f"expected a whole number {lo} to {hi}, got {number}")
            return default
        return number

    def moment(self, name: str, raw: str | None) -> datetime | None:
        """W3C / ISO 8601 date-time as GeoReport v2 uses; a time without zone is Warsaw's."""
        value = (raw or "").strip()
        if not value:
            return None
        if len(value) > 40:
            self.add(name, "expected an ISO 8601 date-time such as 2026-05-01T12:00:00+02:00")
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.add(name, "expected an ISO 8601 date-time such as 2026-05-01T12:00:00+02:00")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=WARSAW)
        if not 1970 <= moment.year <= 2200:
            self.add(name, "year out of range")
            return None
        return moment

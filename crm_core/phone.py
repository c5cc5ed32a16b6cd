"""Phone numbers in E.164, the way Warsaw callers and Polish carriers present them.

Asterisk hands us whatever the trunk sends: national 9-digit numbers ("600100200"), the
international prefix written as 00 ("0048600100200"), the country code without "+"
("48600100200"), or the proper "+48600100200". A resident is found by number, so every number
is normalised once, here, before it reaches the database.
"""

from __future__ import annotations

import re

from crm_core.errors import ValidationError

POLAND = "48"
_SEPARATORS = re.compile(r"[\s\-./()]")
# Withheld or unknown caller id as trunks and Asterisk present it.
_ANONYMOUS = {"", "anonymous", "unknown", "restricted", "private", "unavailable", "withheld"}


class InvalidPhoneNumber(ValidationError):
    def __init__(self, raw: str, reason: str, field: str = "phone") -> None:
        self.raw = raw
        super().__init__({field: f"{raw!r} is not a phone number: {reason}"})


def is_anonymous(raw: str | None) -> bool:
    return raw is None or raw.strip().lower() in _ANONYMOUS


def normalize_phone(raw: str, *, field: str = "phone") -> str:
    """Return `raw` as E.164 ("+48600100200"), or raise InvalidPhoneNumber saying why."""
    text = _SEPARATORS.sub("", raw.strip())
    if not text:
        raise InvalidPhoneNumber(raw, "empty", field)
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif len(text) == 9 and text[0] != "0":
        # A Polish national number: 9 digits, no trunk prefix (Poland dropped the leading 0).
        digits = POLAND + text
    elif len(text) == 11 and text.startswith(POLAND):
        digits = text
    else:
        raise InvalidPhoneNumber(
            raw, "expected 9 Polish digits or an international number with + or 00", field
        )
    if not digits.isdigit():
        raise InvalidPhoneNumber(raw, "only digits, spaces, dashes and a leading + allowed", field)
    if digits.startswith("0"):
        raise InvalidPhoneNumber(raw, "a country code cannot start with 0", field)
    if digits.startswith(POLAND) and len(digits) != 11:
        raise InvalidPhoneNumber(raw, "a Polish number has 9 digits after +48", field)
    if not 8 <= len(digits) <= 15:
        raise InvalidPhoneNumber(raw, "E.164 numbers have 8 to 15 digits", field)
    return "+" + digits

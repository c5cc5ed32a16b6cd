"""Caller numbers as trunks deliver them must all find the same resident."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_core.errors import ValidationError
from crm_core.phone import InvalidPhoneNumber, is_anonymous, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["600 100 200", "600-100-200", "+48600100200", "0048600100200", "48600100200",
     "+48 600 100 200", " (+48) 600.100.200 "],
)  # fmt: skip
def test_polish_notations_give_one_e164_number(raw: str) -> None:
    assert normalize_phone(raw) == "+48600100200"


def test_foreign_numbers_keep_their_country_code() -> None:
    assert normalize_phone("+380 44 123 4567") == "+380441234567"
    assert normalize_phone("0049301234567") == "+49301234567"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("12345", "expected 9 Polish digits"),
        ("60010020a", "only digits"),
        ("+48 600 100 20", "9 digits after +48"),
        ("+0123456789", "cannot start with 0"),
        ("+1234567890123456", "8 to 15 digits"),
        ("0600100200", "expected 9 Polish digits"),
    ],
)
def test_invalid_numbers_are_rejected_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as err:
        normalize_phone(raw, field="phones[0]")
    assert isinstance(err.value, ValidationError)
    assert reason in err.value.fields["phones[0]"]


def test_withheld_caller_ids_are_anonymous() -> None:
    for raw in (None, "", "anonymous", "Restricted", "unknown"):
        assert is_anonymous(raw)
    assert not is_anonymous("600100200")


@given(st.integers(min_value=100_000_000, max_value=999_999_999))
def test_every_national_number_round_trips(n: int) -> None:
    e164 = normalize_phone(str(n))
    assert e164 == f"+48{n}"
    assert normalize_phone(e164) == e164
    assert normalize_phone("00" + e164[1:]) == e164

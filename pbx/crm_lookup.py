"""The IVR's questions to the CRM (`ivr.lookup.LookupPort`), answered with crm_core services.

Blocking calls: the controller runs them in a worker thread with a 2 s bound, so a slow or
dead database makes the IVR take its `on_error` path instead of leaving the caller in silence.
"""

from __future__ import annotations

from datetime import UTC, datetime

from crm_core.db import Database
from crm_core.errors import NotFound
from crm_core.services import cases, residents
from ivr.lookup import CallerAnswer, CaseStatusAnswer


def case_number_from_digits(digits: str, year: int) -> str | None:
    """What a caller typed → the case number they mean.

    Callers type either the running number ("123") or the year and number ("2026000123");
    the number printed on letters is 19115/2026/000123.
    """
    digits = "".join(ch for ch in digits if ch.isdigit())
    if not digits:
        return None
    if len(digits) == 10 and digits[:2] == "20":
        return f"19115/{digits[:4]}/{digits[4:]}"
    if len(digits) <= 6:
        return f"19115/{year}/{int(digits):06d}"
    return None


class CrmLookup:
    def __init__(self, db: Database) -> None:
        self.db = db

    def case_status(self, digits: str) -> CaseStatusAnswer | None:
        number = case_number_from_digits(digits, datetime.now(UTC).year)
        if number is None:
            return None
        try:
            case = cases.get_case_by_number(self.db, number)
        except NotFound:
            return None
        return CaseStatusAnswer(number=case.number, status=case.status,
                                category=case.category_name)

    def open_cases(self, caller_number: str) -> CallerAnswer | None:
        history = residents.caller_history(self.db, caller_number, limit=1)
        if not history.known or history.resident is None:
            return None
        return CallerAnswer(open_cases=len(history.open_cases), name=history.resident.name or "")

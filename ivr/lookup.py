"""The CRM questions the IVR asks (`Lookup` commands), as a port the pbx side implements with
crm_core services. The interpreter never calls it: the executor does, and feeds the answer back
as a `LookupResult` event.

`case_status(digits)` receives the digits the caller typed (e.g. "123" or "2026000123"); the
implementation resolves them to a case number (19115/2026/000123). `status` must be one of the
CRM's CaseStatus values (new, forwarded, in_progress, resolved, rejected, closed): the 19115
script branches on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ivr.commands import Lookup
from ivr.events import LookupResult


@dataclass(frozen=True)
class CaseStatusAnswer:
    number: str
    status: str
    category: str = ""


@dataclass(frozen=True)
class CallerAnswer:
    open_cases: int
    name: str = ""


class LookupPort(Protocol):
    def case_status(self, digits: str) -> CaseStatusAnswer | None:
        """The case the caller named, or None when there is no such case."""
        ...

    def open_cases(self, caller_number: str) -> CallerAnswer | None:
        """What the CRM knows of this caller, or None for an unknown number."""
        ...


def answer(port: LookupPort, command: Lookup) -> LookupResult:
    """Run one lookup (blocking) and phrase the answer as the interpreter's event."""
    try:
        if command.kind == "case_status":
            case = port.case_status(command.key)
            values = {} if case is None else {"number": case.number, "status": case.status,
                                              "category": case.category}
            return LookupResult(command.kind, True, case is not None, values, command.turn)
        caller = port.open_cases(command.key)
        values = {} if caller is None else {"open_cases": str(caller.open_cases),
                                            "name": caller.name}
        return LookupResult(command.kind, True, caller is not None, values, command.turn)
    except Exception:  # the caller must not hang on a CRM fault: the script's on_error path
        return LookupResult(command.kind, False, False, {}, command.turn)


async def answer_async(port: LookupPort, command: Lookup, timeout_s: float = 2.0) -> LookupResult:
    """`answer` in a worker thread, bounded: after `timeout_s` the result is ok=False."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(answer, port, command), timeout_s)
    except TimeoutError:
        return LookupResult(command.kind, False, False, {}, command.turn)


@dataclass
class StaticLookup:
    """A LookupPort over fixed data: for `ckm ivr simulate`, tests and benchmarks."""

    callers: Mapping[str, int] = field(default_factory=dict)  # number → open cases
    cases: Mapping[str, str] = field(default_factory=dict)  # digits → status
    failing: bool = False

    def case_status(self, digits: str) -> CaseStatusAnswer | None:
        if self.failing:
            raise ConnectionError("CRM unavailable")
        status = self.cases.get(digits)
        return None if status is None else CaseStatusAnswer(digits, status)

    def open_cases(self, caller_number: str) -> CallerAnswer | None:
        if self.failing:
            raise ConnectionError("CRM unavailable")
        count = self.callers.get(caller_number)
        return None if count is None else CallerAnswer(count)

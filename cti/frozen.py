"""`evolve`: a fast `dataclasses.replace` for the core's frozen state records.

Why: the dispatcher updates queue entries and agents on every event; `dataclasses.replace`
re-runs `__init__` with ~20 fields and dominated the routing benchmark (announcements to 500
waiting callers). Only for plain frozen dataclasses without `__post_init__` checks or slots.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def evolve(record: T, **changes: Any) -> T:
    fields = record.__dataclass_fields__  # type: ignore[attr-defined]
    for name in changes:
        if name not in fields:
            raise TypeError(f"{type(record).__name__} has no field {name!r}")
    new = object.__new__(type(record))
    new.__dict__.update(record.__dict__)
    new.__dict__.update(changes)
    return new

"""Errors the CRM services raise. Each carries what a caller (desktop form, portal, Open311 API)
needs to show the user: a machine-readable code and, for bad input, one message per field."""

from __future__ import annotations


class CrmError(Exception):
    """Base of every error the CRM raises on purpose."""

    code = "crm_error"


class ValidationError(CrmError):
    """Input did not fit; `fields` maps each offending field to a message. Nothing was written."""

    code = "invalid_input"

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = dict(fields)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.fields.items()))


class NotFound(CrmError):
    code = "not_found"

    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what} {key!r} not found")


class TransitionError(ValidationError):
    """A case status change that the lifecycle does not allow."""

    code = "illegal_transition"

    def __init__(self, current: str, wanted: str, allowed: tuple[str, ...]) -> None:
        self.current = current
        self.wanted = wanted
        listed = ", ".join(allowed) if allowed else "none (final status)"
        super().__init__({"status": f"cannot go from {current!r} to {wanted!r}; allowed: {listed}"})

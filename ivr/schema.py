"""The JSON Schema of scripts (`ivr/schema.json`) and its errors, placed in the YAML source."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from ivr.problems import Problem
from ivr.source_map import JsonPath, SourceMap


@cache
def schema() -> dict[str, Any]:
    text = resources.files("ivr").joinpath("schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


def _where(path: JsonPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "script"


def _leaf_errors(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    # if/then and allOf wrap the useful errors; report the innermost ones.
    if error.context:
        out: list[jsonschema.ValidationError] = []
        for sub in error.context:
            out.extend(_leaf_errors(sub))
        return out
    return [error]


def _schema_of(error: jsonschema.ValidationError) -> dict[str, Any]:
    return error.schema if isinstance(error.schema, dict) else {}


def _extra_keys(error: jsonschema.ValidationError) -> list[str]:
    known = _schema_of(error).get("properties", {})
    patterns = list(_schema_of(error).get("patternProperties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    return sorted(str(k) for k in instance
                  if k not in known and not any(re.search(p, str(k)) for p in patterns))


def _describe(error: jsonschema.ValidationError) -> tuple[str, str, bool]:
    """(message, hint, point at the key rather than the value)."""
    kind = error.validator
    value: Any = error.validator_value
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return f"missing `{missing}`", f"add `{missing}:`", True
    if kind == "additionalProperties":
        extra = _extra_keys(error)
        allowed = sorted(_schema_of(error).get("properties", {}))
        allowed = [a for a in allowed if a != "type"]
        return (f"unexpected field {', '.join(repr(e) for e in extra)}",
                f"allowed here: {', '.join(allowed) or 'language codes and file'}", True)
    if kind == "enum":
        return (f"{error.instance!r} is not allowed",
                f"use one of: {', '.join(str(v) for v in value)}", False)
    if kind == "type":
        expected = value if isinstance(value, str) else " or ".join(value)
        return f"expected {expected}, got {type(error.instance).__name__}", "", False
    if kind == "pattern":
        return f"{error.instance!r} does not have the expected form", f"it must match {value}", False
    if kind == "propertyNames":
        return f"{error.message}", "names use letters, digits and _", True
    return error.message, "", False


def check(data: Any, source: SourceMap) -> list[Problem]:
    problems: set[Problem] = set()
    for top in _validator().iter_errors(data):
        for error in _leaf_errors(top):
            path: JsonPath = tuple(error.absolute_path)
            message, hint, at_key = _describe(error)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                extra = _extra_keys(error)
                if extra:
                    path = (*path, extra[0])
                    at_key = True
            mark = source.at(path, key=at_key)
            problems.add(Problem(mark.line, mark.column, f"{_where(path)}: {message}", hint))
    return sorted(problems)

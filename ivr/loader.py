"""YAML → `Script`, keeping the line and column of every part for error messages.

The text is composed once with PyYAML (so each value keeps its `start_mark`), checked against
`ivr/schema.json`, then turned into the frozen model. Anything wrong comes out as
`ScriptInvalid` with located `Problem`s; no other exception escapes `parse`.
Dates stay text (the timestamp resolver is removed) so that the schema sees what was written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, cast

import yaml

from ivr import schema as schema_mod
from ivr.model import (
    Choice,
    Condition,
    LookupKind,
    Mark,
    Node,
    NodeType,
    Prompt,
    Rule,
    Script,
    TimeWindow,
)
from ivr.problems import Problem, ScriptInvalid
from ivr.source_map import JsonPath, SourceMap

MAX_YAML_NODES = 50_000
MAX_DEPTH = 40
_TIME_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mark(node: yaml.Node, *, end: bool = False) -> Mark:
    m = node.end_mark if end else node.start_mark
    return Mark(m.line + 1, m.column + 1)


class _Composer:
    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.source = SourceMap()
        self.problems: list[Problem] = []
        self.count = 0

    def plain(self, node: yaml.Node, path: JsonPath, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES or depth > MAX_DEPTH:
            raise _TooBig(_mark(node))
        self.source.values[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(Problem(*_pos(key_node), "a key must be plain text",
                                                 "write the key as a word"))
                    continue
                key = self.loader.construct_object(key_node)
                key = key if isinstance(key, str) else str(key)
                if key in out:
                    self.problems.append(Problem(
                        *_pos(key_node), f"{_where((*path, key))} is written twice",
                        "keep one; YAML would silently use the last"))
                self.source.keys[(*path, key)] = _mark(key_node)
                out[key] = self.plain(value_node, (*path, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


class _TooBig(Exception):
    def __init__(self, mark: Mark) -> None:
        self.mark = mark


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _where(path: JsonPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "script"


def compose(text: str, file: str) -> tuple[Any, SourceMap]:
    """YAML text → plain data and its source map; raises ScriptInvalid on bad YAML."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ScriptInvalid(file, [Problem(1, 1, "the script is empty",
                                               "start from ivr/scripts/19115.yaml")])
        composer = _Composer(loader)
        data = composer.plain(root, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise ScriptInvalid(file, [Problem(line, col, f"not valid YAML: {reason}",
                                           "check indentation and quoting")]) from None
    except yaml.YAMLError as exc:
        raise ScriptInvalid(file, [Problem(1, 1, f"not valid YAML: {exc}", "")]) from None
    except _TooBig as exc:
        raise ScriptInvalid(file, [Problem(exc.mark.line, exc.mark.column,
                                           "the script is nested too deeply or is too large",
                                           "scripts are flat maps of nodes")]) from None
    except (ValueError, TypeError, OverflowError) as exc:  # odd scalars, e.g. !!int 'x'
        raise ScriptInvalid(file, [Problem(1, 1, f"not valid YAML: {exc}", "")]) from None
    finally:
        loader.dispose()
    if composer.problems:
        raise ScriptInvalid(file, composer.problems)
    return data, composer.source


def parse_collecting(text: str, file: str = "<script>") -> tuple[Script, list[Problem]]:
    """Parse and schema-check; raises ScriptInvalid when no model can be built, else returns
    the model with the problems found while building it (the validator adds its own)."""
    data, source = compose(text, file)
    problems = schema_mod.check(data, source)
    if problems:
        raise ScriptInvalid(file, problems)
    problems = []
    script = _build(data, source, file, problems)
    return script, problems


def parse(text: str, file: str = "<script>") -> Script:
    """Parse and schema-check a script; the validator checks its meaning afterwards."""
    script, problems = parse_collecting(text, file)
    if problems:
        raise ScriptInvalid(file, problems)
    return script


def read_text(path: Path | str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptInvalid(str(path), [Problem(1, 1, f"cannot read the script: {exc}", "")]) from None


def load(path: Path | str) -> Script:
    return parse(read_text(path), str(path))


# --- plain data (schema-valid) → model


def parse_time_window(text: str) -> TimeWindow | None:
    m = _TIME_WINDOW.match(text.strip())
    if not m:
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if not (0 <= h1 <= 23 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60) or (h2 == 24 and m2):
        return None
    end = time(0, 0) if h2 == 24 else time(h2, m2)
    start = time(h1, m1)
    if start == end:
        return None
    return TimeWindow(start, end)


def _prompt(raw: Any, path: JsonPath, source: SourceMap) -> Prompt | None:
    if raw is None:
        return None
    texts = {k: str(v) for k, v in raw.items() if k != "file"}
    return Prompt(texts=texts, file=raw.get("file"), mark=source.at(path, key=True))


def _phrases(raw: Any) -> dict[str, tuple[str, ...]]:
    return {lang: tuple(str(p) for p in items) for lang, items in (raw or {}).items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _key(value: Any) -> str | None:
    return None if value is None else str(value)


def _build(data: Mapping[str, Any], source: SourceMap, file: str,
           problems: list[Problem]) -> Script:
    nodes: dict[str, Node] = {}
    for node_id, raw in data["nodes"].items():
        path: JsonPath = ("nodes", node_id)
        nodes[node_id] = _build_node(node_id, raw, path, source, problems)
    holidays = data.get("holidays", {})
    extra: set[date] = set()
    for i, text in enumerate(holidays.get("dates", [])):
        try:
            extra.add(date.fromisoformat(text))
        except ValueError:
            m = source.at(("holidays", "dates", i))
            problems.append(Problem(m.line, m.column, f"holiday {text!r} is not a date",
                                    "write YYYY-MM-DD"))
    languages = tuple(data["languages"])
    marks = {k: source.at((k,), key=True) for k in data}
    return Script(
        name=str(data["script"]),
        version=str(data["version"]),
        languages=languages,
        default_language=str(data.get("default_language", languages[0])),
        voices=dict(data.get("voices", {})),
        start=data["start"],
        operator=data["operator"],
        nodes=nodes,
        confidence_threshold=float(data.get("confidence_threshold", 0.55)),
        timeout_s=float(data.get("timeout_s", 5.0)),
        max_retries=int(data.get("max_retries", 2)),
        timezone=str(data.get("timezone", "Europe/Warsaw")),
        holiday_calendar=str(holidays.get("calendar", "pl")),
        extra_holidays=frozenset(extra),
        variables={k: tuple(_text(v) for v in vs) for k, vs in data.get("variables", {}).items()},
        source=file,
        marks=marks,
    )


def _build_node(node_id: str, raw: Mapping[str, Any], path: JsonPath, source: SourceMap,
                problems: list[Problem]) -> Node:
    kind = cast(NodeType, raw["type"])
    marks = {name: source.at((*path, name)) for name in raw}
    if "target" in raw:
        marks["next"] = marks["target"]
    if "else" in raw:
        marks["else"] = source.at((*path, "else"))
    fields: dict[str, Any] = {}
    choices: list[Choice] = []
    for i, ch in enumerate(raw.get("choices", [])):
        cpath = (*path, "choices", i)
        choices.append(Choice(
            key=_key(ch.get("key")),
            phrases=_phrases(ch.get("phrases")),
            next=ch["next"],
            set_vars={k: _text(v) for k, v in ch.get("set", {}).items()},
            mark=source.at(cpath),
            key_mark=source.at((*cpath, "key")),
            next_mark=source.at((*cpath, "next")),
        ))
    if kind == "callback_offer":
        accept = raw.get("accept", {})
        choices.append(Choice(
            key=_key(accept.get("key", "1")), phrases=_phrases(accept.get("phrases")),
            next=raw["accepted"], set_vars={}, mark=source.at((*path, "accept")),
            key_mark=source.at((*path, "accept", "key")), next_mark=marks["accepted"]))
        fields.update(accepted=raw["accepted"], declined=raw["declined"])
    rules: list[Rule] = []
    for i, rr in enumerate(raw.get("rules", [])):
        rpath = (*path, "rules", i)
        rules.append(Rule(when=_condition(rr["if"], (*rpath, "if"), source, problems),
                          goto=rr["goto"], mark=source.at(rpath),
                          goto_mark=source.at((*rpath, "goto"))))
    for name in ("max_retries", "timeout_s", "on_failure", "var", "min_digits", "max_digits",
                 "terminator", "on_error", "result", "language", "queue", "priority",
                 "category", "speech", "barge_in"):
        if name in raw:
            fields[name] = raw[name]
    if kind == "emergency":
        fields["barge_in"] = False  # the 112 notice is always heard to the end
    if "timeout_s" in fields:
        fields["timeout_s"] = float(fields["timeout_s"])
    return Node(
        id=node_id,
        type=kind,
        mark=source.at(path, key=True),
        prompt=_prompt(raw.get("prompt"), (*path, "prompt"), source),
        next=raw.get("next", raw.get("target")),
        choices=tuple(choices),
        noinput=_prompt(raw.get("noinput"), (*path, "noinput"), source),
        nomatch=_prompt(raw.get("nomatch"), (*path, "nomatch"), source),
        lookup=cast(LookupKind | None, raw.get("lookup")),
        input_var=raw.get("input"),
        rules=tuple(rules),
        else_=raw.get("else"),
        vars={k: _text(v) for k, v in raw.get("vars", {}).items()},
        skills=tuple(raw.get("skills", ())),
        marks=marks,
        **fields,
    )


def _condition(raw: Mapping[str, Any], path: JsonPath, source: SourceMap,
               problems: list[Problem]) -> Condition:
    window = None
    if "time" in raw:
        window = parse_time_window(str(raw["time"]))
        if window is None:
            m = source.at((*path, "time"))
            problems.append(Problem(
                m.line, m.column, f"bad time window {raw['time']!r}",
                "write HH:MM-HH:MM with hours 00-24 and minutes 00-59, start and end different "
                "(22:00-06:00 crosses midnight)"))
    if ("equals" in raw or "not_equals" in raw or "greater_than" in raw
            or "less_than" in raw) and "var" not in raw:
        m = source.at(path)
        problems.append(Problem(m.line, m.column, "a comparison without `var`",
                                "name the variable to compare, e.g. var: category"))
    return Condition(
        var=raw.get("var"),
        equals=None if "equals" not in raw else _text(raw["equals"]),
        not_equals=None if "not_equals" not in raw else _text(raw["not_equals"]),
        greater_than=raw.get("greater_than"),
        less_than=raw.get("less_than"),
        caller_known=raw.get("caller_known"),
        time=window,
        weekdays=tuple(raw["weekday"]) if "weekday" in raw else None,
        holiday=raw.get("holiday"),
    )

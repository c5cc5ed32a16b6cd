"""Semantic checks of a script: what the schema cannot see.

`check_text` never raises for a bad script: it returns every `Problem` (YAML, schema, meaning),
each placed at its line and column, with a hint. The set of known queues is a parameter: the
CRM owns it (the CLI defaults to the queues the CRM seeds).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from difflib import get_close_matches
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr import loader
from ivr.asr.keywords import collisions as keyword_collisions
from ivr.model import Mark, Node, Prompt, Script
from ivr.phrases import normalize, shared_phrases
from ivr.problems import Problem, ScriptInvalid, ordered

DEFAULT_QUEUES: tuple[str, ...] = (
    "ogolna", "transport", "drogi", "czystosc", "zwierzeta", "zielen", "halas", "informacja",
)
TERMINAL_TYPES = frozenset({"queue", "hangup"})
INPUT_TYPES = frozenset({"menu", "collect", "callback_offer"})
TEMPLATE = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
BUILTIN_FINITE_VARS = frozenset({"language"})


@dataclass(frozen=True)
class Report:
    file: str
    script: Script | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [p.render(self.file) for p in self.problems]

    def summary(self) -> str:
        s = self.script
        if s is None:
            return f"{self.file}: invalid"
        counts: dict[str, int] = {}
        for node in s.nodes.values():
            counts[node.type] = counts.get(node.type, 0) + 1
        queues = sorted({n.queue for n in s.nodes.values() if n.queue})
        return (f"{self.file}: ok — script {s.name} version {s.version}, {len(s.nodes)} nodes "
                f"({counts.get('menu', 0)} menus), languages {'/'.join(s.languages)}, "
                f"queues {', '.join(queues)}; every node reachable, every path ends")


def check_text(text: str, file: str, known_queues: Iterable[str] = DEFAULT_QUEUES) -> Report:
    try:
        script, problems = loader.parse_collecting(text, file)
    except ScriptInvalid as exc:
        return Report(file, None, tuple(exc.problems))
    problems = problems + check_script(script, frozenset(known_queues))
    return Report(file, script, tuple(ordered(problems)))


def check_file(path: str, known_queues: Iterable[str] = DEFAULT_QUEUES) -> Report:
    try:
        text = loader.read_text(path)
    except ScriptInvalid as exc:
        return Report(path, None, tuple(exc.problems))
    return check_text(text, path, known_queues)


def load_valid(path: str, known_queues: Iterable[str] = DEFAULT_QUEUES) -> Script:
    """A script that passed every check, or ScriptInvalid listing why not."""
    report = check_file(path, known_queues)
    if report.script is None or report.problems:
        raise ScriptInvalid(path, list(report.problems))
    return report.script


def _p(mark: Mark, message: str, hint: str = "") -> Problem:
    return Problem(mark.line, mark.column, message, hint)


def edges(script: Script, node: Node) -> list[str]:
    """Where the call can go from `node`, including the implicit ways to the operator."""
    out = [target for _, target, _ in node.targets()]
    if node.type in INPUT_TYPES:
        out.append(node.on_failure or script.operator)
        if node.type == "menu":
            out.append(script.operator)  # 0 reaches a consultant from every menu
    return [t for t in out if t in script.nodes]


@dataclass(frozen=True)
class BrokenLink:
    """A link to a node that does not exist: from a node's field, or the script's `start` or
    `operator` (`source` is then "")."""

    source: str
    target: str
    problem: Problem

    @property
    def shown(self) -> str:
        return f"'{self.source}' → '{self.target}'" if self.source else f"start '{self.target}'"


def check_script(script: Script, known_queues: frozenset[str]) -> list[Problem]:
    problems: list[Problem] = []
    broken: list[BrokenLink] = []
    names = sorted(script.nodes)

    def unknown(target: str, mark: Mark, what: str, source: str = "") -> None:
        close = get_close_matches(target, names, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"define node '{target}' under nodes:"
        problem = _p(mark, f"{what} '{target}' is not a node", hint)
        problems.append(problem)
        broken.append(BrokenLink(source, target, problem))

    if script.start not in script.nodes:
        unknown(script.start, script.mark_of("start"), "start")
    if script.operator not in script.nodes:
        unknown(script.operator, script.mark_of("operator"), "operator", source="(operator)")
    elif script.nodes[script.operator].type != "queue":
        problems.append(_p(script.mark_of("operator"),
                           f"operator '{script.operator}' is a {script.nodes[script.operator].type}"
                           " node, not a queue", "point operator at the consultants' queue node"))
    if script.default_language not in script.languages:
        problems.append(_p(script.mark_of("default_language"),
                           f"default language '{script.default_language}' is not in languages",
                           f"use one of {', '.join(script.languages)}"))
    try:
        ZoneInfo(script.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(_p(script.mark_of("timezone"), f"unknown time zone {script.timezone!r}",
                           "use an IANA name such as Europe/Warsaw"))

    for node in script.nodes.values():
        for field, target, mark in node.targets():
            if target not in script.nodes:
                unknown(target, mark, f"{node.id}: {field}", source=node.id)
        problems.extend(_check_node(script, node, known_queues))

    graph_problems, causes = _check_graph(script, broken)
    # A broken link other problems follow from is the root cause: listed first, marked.
    problems = [replace(p, root=True, hint=causes[p]) if p in causes else p for p in problems]
    return problems + graph_problems


def _check_prompt(script: Script, node: Node, prompt: Prompt | None, slot: str) -> list[Problem]:
    if prompt is None:
        return []
    out: list[Problem] = []
    if prompt.file is None:
        missing = [lang for lang in script.languages if lang not in prompt.texts]
        if missing:
            out.append(_p(prompt.mark, f"{node.id}: {slot} has no text for "
                                       f"{', '.join(missing)}",
                          f"add {missing[0]}: \"...\" (every language of the script needs it)"))
    for lang, text in prompt.texts.items():
        if lang not in script.languages:
            out.append(_p(prompt.mark, f"{node.id}: {slot} has text for '{lang}', which is "
                                       "not one of the script's languages",
                          f"add {lang} to languages: or remove the text"))
        for var in TEMPLATE.findall(text):
            if var not in script.variables and var not in BUILTIN_FINITE_VARS:
                out.append(_p(prompt.mark, f"{node.id}: {slot} ({lang}) uses {{{var}}}, which "
                                           "has no declared values",
                              f"list its values under variables: {var}: [...] so that the "
                              "prompt is rendered ahead of time, not during the call"))
    return out


def _check_node(script: Script, node: Node, known_queues: frozenset[str]) -> list[Problem]:
    out: list[Problem] = []
    for slot in ("prompt", "noinput", "nomatch"):
        out.extend(_check_prompt(script, node, getattr(node, slot), slot))
    if node.queue is not None and node.queue not in known_queues:
        close = get_close_matches(node.queue, sorted(known_queues), n=1)
        hint = (f"did you mean '{close[0]}'?" if close
                else f"known queues: {', '.join(sorted(known_queues))}")
        out.append(_p(node.mark_of("queue"), f"{node.id}: queue '{node.queue}' does not exist",
                      hint))
    if node.type == "language" and node.language not in script.languages:
        out.append(_p(node.mark_of("language"),
                      f"{node.id}: language '{node.language}' is not one of the script's "
                      f"languages ({', '.join(script.languages)})", "add it to languages:"))
    if node.type == "collect" and node.min_digits > node.max_digits:
        out.append(_p(node.mark_of("min_digits"), f"{node.id}: min_digits {node.min_digits} is "
                      f"more than max_digits {node.max_digits}", "make min_digits ≤ max_digits"))
    if node.type == "lookup" and node.lookup == "case_status" and not node.input_var:
        out.append(_p(node.mark, f"{node.id}: a case_status lookup needs `input`",
                      "name the variable holding the report number, e.g. input: case_number"))
    if node.type in ("menu", "callback_offer"):
        out.extend(_check_choices(script, node))
    return out


def _check_choices(script: Script, node: Node) -> list[Problem]:
    out: list[Problem] = []
    keys: dict[str, Mark] = {}
    for choice in node.choices:
        if choice.key is None and not any(choice.phrases.values()):
            out.append(_p(choice.mark, f"{node.id}: a choice with neither key nor phrases",
                          "give it a key: or phrases:"))
        if choice.key is None:
            continue
        if choice.key in keys:
            earlier = keys[choice.key]
            out.append(_p(choice.key_mark, f"{node.id}: key '{choice.key}' is used by two "
                                           f"choices (first at line {earlier.line})",
                          "give each choice its own key"))
        else:
            keys[choice.key] = choice.key_mark
        if choice.key == "0" and choice.next != script.operator:
            out.append(_p(choice.key_mark, f"{node.id}: key '0' leads to '{choice.next}'",
                          f"0 reaches a consultant ('{script.operator}') from every menu; "
                          "use another key"))
        if node.speech and choice.phrases:
            missing = [lang for lang in script.languages if not choice.phrases.get(lang)]
            if missing:
                out.append(_p(choice.mark, f"{node.id}: choice '{choice.next}' has no phrases "
                                           f"for {', '.join(missing)}",
                              "callers speaking that language could not say it"))
    for lang in script.languages:
        per_choice = {i: c.phrases.get(lang, ()) for i, c in enumerate(node.choices)}
        for phrase, first, second in shared_phrases(per_choice):
            c1, c2 = node.choices[first], node.choices[second]
            out.append(_p(c2.mark, f"{node.id}: phrase '{phrase}' ({lang}) belongs to two "
                                   f"choices ('{c1.next}' and '{c2.next}')",
                          "a spoken answer must lead to one place; keep it in one choice"))
        # the recogniser hears any inflected form: "hałas" and "hałasu" are the same answer
        ordered = [c.phrases.get(lang, ()) for c in node.choices]
        for phrase, index, other, other_index in keyword_collisions(ordered, lang):
            if normalize(phrase) == normalize(other):
                continue  # reported above as the same phrase
            c1, c2 = node.choices[other_index], node.choices[index]
            out.append(_p(c2.mark, f"{node.id}: phrase '{phrase}' ({lang}) of '{c2.next}' has "
                                   f"the same key words as '{other}' of '{c1.next}'",
                          "callers say either in any form; keep such phrases in one choice"))
    return out


def _reach(seeds: Iterable[str], graph: dict[str, list[str]]) -> set[str]:
    reached: set[str] = set()
    todo = list(seeds)
    while todo:
        current = todo.pop()
        if current not in reached:
            reached.add(current)
            todo.extend(graph[current])
    return reached


def _check_graph(script: Script,
                 broken: list[BrokenLink]) -> tuple[list[Problem], dict[Problem, str]]:
    """Reachability and ends. What only follows from a broken link (a typo in a `next`) is not
    reported node by node: the nodes behind it fold into one line after the link, and a node
    whose only way out is the broken link is not said to "never end". Returns the problems and
    the broken links' problems that caused some of them, each with its (better) hint."""
    out: list[Problem] = []
    graph = {node_id: edges(script, node) for node_id, node in script.nodes.items()}
    reached = _reach([n for n in (script.start, script.operator) if n in script.nodes], graph)
    unreached = set(script.nodes) - reached
    # Links the call can actually take and that lead nowhere: each may be the way it was meant
    # to go on. Only those explain unreached nodes.
    live = [link for link in broken
            if link.source == "" or link.source in reached]
    causes: dict[Problem, str] = {}  # root cause → its hint
    attributed = _attribute(unreached, graph, [x for x in live if x.source != "(operator)"],
                            lambda n: (script.nodes[n].mark.line, n), sorted(script.nodes))
    for link, head, group in attributed:
        causes[link.problem] = link.problem.hint
        if link.problem.hint.startswith("define node"):
            # Nothing leads to the head of what is cut off: most likely the link's real target.
            causes[link.problem] = (f"did you mean '{head}'? (no other node leads to it) "
                                    f"— or define node '{link.target}' under nodes:")
        count = f"{len(group)} nodes are" if len(group) > 1 else f"node '{group[0]}' is"
        shown = ", ".join(group[:8]) + (f", … ({len(group) - 8} more)" if len(group) > 8 else "")
        out.append(replace(
            _p(Mark(link.problem.line, link.problem.column),
               f"{count} unreachable because {link.shown} is not a node",
               f"fix that link first; behind it: {shown}" if len(group) > 1
               else "fix that link first"),
            covers=tuple(group)))
    folded = {n for p in out for n in p.covers}
    for node_id in sorted(unreached - folded):
        out.append(_p(script.nodes[node_id].mark, f"node '{node_id}' is never reached",
                      "lead a menu choice, next or goto to it, or remove it"))

    reverse: dict[str, set[str]] = {n: set() for n in script.nodes}
    for src, dsts in graph.items():
        for dst in dsts:
            reverse[dst].add(src)
    # A broken link counts as a way out: the author meant it to go somewhere, and the link is
    # already reported. A node is stuck only if fixing every link would not help.
    with_broken_exit = {link.source for link in broken if link.source in script.nodes}
    backwards = {n: sorted(reverse[n]) for n in script.nodes}
    ends = _reach([n for n, node in script.nodes.items()
                   if node.type in TERMINAL_TYPES or n in with_broken_exit], backwards)
    real_ends = _reach([n for n, node in script.nodes.items() if node.type in TERMINAL_TYPES],
                       backwards)
    excused = ends - real_ends  # would "never end" but for a broken link: that link says why
    for link in broken:
        if link.source in excused:
            causes.setdefault(link.problem, link.problem.hint)
    stuck = set(script.nodes) - ends
    in_loops: set[str] = set()
    for component in _cycles(stuck, graph):
        ordered = sorted(component, key=lambda n: (script.nodes[n].mark.line, n))
        in_loops.update(component)
        path = " → ".join([*ordered, ordered[0]])
        out.append(_p(script.nodes[ordered[0]].mark, f"loop with no exit: {path}",
                      "give one of these nodes a way out to a queue or hangup node"))
    for node_id in sorted(stuck - in_loops):
        out.append(_p(script.nodes[node_id].mark,
                      f"the call can never end from node '{node_id}'",
                      "every path must reach a queue or hangup node"))
    return out, causes


def _attribute(unreached: set[str], graph: dict[str, list[str]], links: list[BrokenLink],
               order: Callable[[str], tuple[int, str]], names: list[str],
               ) -> list[tuple[BrokenLink, str, list[str]]]:
    """Which unreached nodes each broken link explains. The unreached part of the script hangs
    from heads (unreached nodes no other node leads to). A mistyped link cut off at most one:
    the node its missing target's name is a typo of, when that is a head; when the name is like
    no node's, the head with most behind it (then the first in the script). Other heads are
    left alone: a node no one leads to and no link explains is reported on its own.
    Returns (link, its head, the nodes it explains) in the links' order, nodes in script order."""
    if not links or not unreached:
        return []
    inside = {n: [d for d in graph[n] if d in unreached] for n in unreached}
    led_to = {dst for src, dsts in inside.items() for dst in dsts if dst != src}
    heads = sorted((n for n in unreached if n not in led_to), key=order)
    if not heads:  # everything cut off sits in loops: the first node in the script heads them
        heads = sorted(unreached, key=order)[:1]
    behind = {h: _reach([h], inside) for h in heads}
    out: list[tuple[BrokenLink, str, list[str]]] = []
    claimed: set[str] = set()
    for link in links:
        free = [h for h in heads if h not in claimed]
        if not free:
            break
        close = get_close_matches(link.target, names, n=1)
        if close:  # a typo of a node that exists: it cut off that node, if anything
            if close[0] not in free:
                continue
            head = close[0]
        else:
            head = max(free, key=lambda h: (len(behind[h]), -heads.index(h)))
        group = behind[head] - claimed
        claimed |= group
        out.append((link, head, sorted(group, key=order)))
    return out


def _cycles(nodes: set[str], graph: dict[str, list[str]]) -> list[set[str]]:
    """Strongly connected components of `nodes` that contain a cycle (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = [s for s in graph[node] if s in nodes]
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found

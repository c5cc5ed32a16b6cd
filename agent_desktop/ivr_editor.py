"""The IVR editor's server side: scripts and versions, validation, graph, simulation, publish.

Where versions live: the files in ivr/scripts are the seed (shown as "file"); every publish
from the editor is a new immutable row in crm_core's ivr_script_versions, and the active row is
what new calls get. Publishing also hands the text to the running ScriptLibrary
(`center.services["ivr.library"]`), which validates again and pins calls already in progress to
the Script object they started with.

The `version:` field of a published text is stamped "v<N>" (N = the CRM row): the library keys
loaded versions by (name, version), and a call re-adopted after a restart resumes by that key,
so two different texts must never share one version string.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from agent_desktop.crm import off_loop
from crm_core.db import Database
from crm_core.services import contact_center
from ivr import lookup, simulate, validator
from ivr.model import Script
from ivr.problems import Problem, ScriptInvalid

log = logging.getLogger(__name__)

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "ivr" / "scripts"
VERSION_LINE = re.compile(r"^version:.*$", re.MULTILINE)
MAX_INPUTS = 60


@dataclass(frozen=True)
class Validation:
    ok: bool
    problems: list[dict[str, Any]]
    graph: dict[str, Any] | None
    summary: str


def graph_of(script: Script) -> dict[str, Any]:
    """Nodes in columns by distance from the start (a simple layered layout the page draws)."""
    depth: dict[str, int] = {script.start: 0} if script.start in script.nodes else {}
    frontier = list(depth)
    while frontier:
        nxt: list[str] = []
        for node_id in frontier:
            for target in validator.edges(script, script.nodes[node_id]):
                if target not in depth:
                    depth[target] = depth[node_id] + 1
                    nxt.append(target)
        frontier = nxt
    for node_id in script.nodes:  # unreachable nodes still appear (the validator flags them)
        depth.setdefault(node_id, max(depth.values(), default=0) + 1)
    nodes = []
    for node_id, node in script.nodes.items():
        nodes.append({"id": node_id, "type": node.type, "depth": depth[node_id],
                      "line": node.mark.line, "queue": node.queue})
    edges = []
    for node_id, node in script.nodes.items():
        for field, target, _ in node.targets():
            label = field
            if field == "choice":
                keys = [c.key for c in node.choices if c.next == target and c.key]
                label = ",".join(k for k in keys if k) or "mowa"
            if target in script.nodes:
                edges.append({"from": node_id, "to": target, "label": label})
    return {"start": script.start, "nodes": nodes, "edges": edges}


def check(text: str, name: str, known_queues: Iterable[str]) -> Validation:
    report = validator.check_text(text, f"{name}.yaml", known_queues)
    problems = [{"line": p.line, "column": p.column, "message": p.message, "hint": p.hint,
                 "root": p.root, "covers": list(p.covers)} for p in report.problems]
    graph = graph_of(report.script) if report.script is not None else None
    return Validation(report.ok, problems, graph, report.summary() if report.ok else "")


def simulate_text(text: str, name: str, inputs: list[str], caller: str,
                  known_queues: Iterable[str]) -> dict[str, Any]:
    report = validator.check_text(text, f"{name}.yaml", known_queues)
    if report.script is None or report.problems:
        return {"ok": False, "lines": [], "error": "fix the script's problems first"}
    cleaned = [i.strip() for i in inputs if i.strip()][:MAX_INPUTS]
    try:
        outcome = simulate.run(report.script, cleaned, caller or "+48600100200",
                               datetime.now(UTC), lookup.StaticLookup())
    except ValueError as exc:
        return {"ok": False, "lines": [], "error": str(exc)}
    final = outcome.final
    return {"ok": True, "lines": list(outcome.lines),
            "final": None if final is None else type(final).__name__,
            "node": outcome.state.node}


def diff(old: str, new: str, old_label: str, new_label: str) -> list[str]:
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label,
                                     lineterm="", n=2))


def stamp_version(text: str, version: int) -> str:
    stamped = f'version: "v{version}"'
    if VERSION_LINE.search(text):
        return VERSION_LINE.sub(stamped, text, count=1)
    return f"{stamped}\n{text}"


class ScriptBook:
    """Scripts and their versions: the seed files plus the CRM's immutable rows."""

    def __init__(self, db: Database, library: Any | None, known_queues: Iterable[str],
                 folder: Path = SCRIPTS_DIR) -> None:
        self.db = db
        self.library = library  # pbx.script_library.ScriptLibrary when the center runs calls
        self.known_queues = tuple(known_queues)
        self.folder = folder

    def file_text(self, name: str) -> str | None:
        path = self.folder / f"{name}.yaml"
        if not path.is_file() or path.parent != self.folder:
            return None
        return path.read_text(encoding="utf-8")

    def names(self) -> list[str]:
        found = {p.stem for p in self.folder.glob("*.yaml")}
        # crm_core has no "list script names" service; one read of the versions table.
        from crm_core.models import IvrScriptVersion

        with self.db.reading() as session:
            found.update(session.scalars(sa.select(IvrScriptVersion.script_name).distinct()))
        return sorted(found)

    async def overview(self) -> list[dict[str, Any]]:
        names = await off_loop(self.names)
        out = []
        for name in names:
            out.append(await self.detail(name, with_text=False))
        return out

    async def detail(self, name: str, *, with_text: bool = True) -> dict[str, Any]:
        rows = await off_loop(contact_center.script_versions, self.db, name)
        file_text = self.file_text(name)
        active = next((r for r in rows if r.is_active), None)
        versions = [{"version": r.version, "comment": r.comment, "active": r.is_active,
                     "created_at": r.created_at.isoformat(),
                     "published_at": r.published_at.isoformat() if r.published_at else None}
                    for r in reversed(rows)]
        published_text = active.yaml_text if active is not None else file_text
        data: dict[str, Any] = {
            "name": name, "versions": versions, "has_file": file_text is not None,
            "active": active.version if active is not None else None,
        }
        if with_text:
            data["published_text"] = published_text or ""
            data["file_text"] = file_text or ""
        return data

    async def version_text(self, name: str, version: int) -> str | None:
        rows = await off_loop(contact_center.script_versions, self.db, name)
        return next((r.yaml_text for r in rows if r.version == version), None)

    async def published_text(self, name: str) -> str:
        active = await off_loop(contact_center.active_script, self.db, name)
        if active is not None:
            return active.yaml_text
        return self.file_text(name) or ""

    async def publish(self, name: str, text: str, comment: str,
                      author_id: int) -> dict[str, Any]:
        """Validate, store as a new immutable version, make it live. Raises ScriptInvalid."""
        rows = await off_loop(contact_center.script_versions, self.db, name)
        number = (rows[-1].version if rows else 0) + 1
        stamped = stamp_version(text, number)
        # Check the stamped text too: it is what calls will run.
        report = await off_loop(validator.check_text, stamped, f"{name}.yaml", self.known_queues)
        if report.script is None or report.problems:
            raise ScriptInvalid(f"{name}.yaml", list(report.problems))
        if report.script.name != name:
            raise ScriptInvalid(f"{name}.yaml", [Problem(
                report.script.mark_of("script").line, 1,
                f"script: is {report.script.name!r}, this editor publishes {name!r}",
                "a new name is a new script: keep the name")])
        row = await off_loop(contact_center.save_script_version, self.db, name, stamped,
                             author_id=author_id, comment=comment or None)
        self._go_live(stamped, name)
        await off_loop(contact_center.publish_script_version, self.db, name, row.version)
        return {"name": name, "version": row.version}

    async def rollback(self, name: str, version: int) -> dict[str, Any]:
        text = await self.version_text(name, version)
        if text is None:
            raise KeyError(f"no version {version} of {name}")
        self._go_live(text, name)
        await off_loop(contact_center.publish_script_version, self.db, name, version)
        return {"name": name, "version": version}

    def restore_active(self) -> list[str]:
        """At start-up: the versions last published from the editor go live again (the library
        starts from the files; without this a restart would quietly undo a publish)."""
        restored = []
        for name in self.names():
            active = contact_center.active_script(self.db, name)
            if active is None or self.library is None:
                continue
            try:
                self._go_live(active.yaml_text, name)
            except ScriptInvalid as exc:  # e.g. a queue removed since: keep the file's version
                log.error("IVR script %s v%d not restored: %s", name, active.version, exc)
                continue
            restored.append(f"{name} v{active.version}")
        return restored

    def _go_live(self, text: str, name: str) -> None:
        # On the loop thread: the library's listeners (prompt rendering) schedule tasks.
        if self.library is not None:
            self.library.publish_text(text, f"{name}.yaml")

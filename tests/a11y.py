"""Accessibility and HTML validity checks of the web pages, shared by the desktop's and the
portal's page tours: axe-core (run inside the page in Chromium, on the DOM as the user gets it)
and the W3C Nu HTML checker (vnu.jar, run once over the HTML sources the servers sent).

Both tools come from npm (`make web-deps`); without them the checks fail, they never skip."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

ROOT = Path(__file__).resolve().parents[1]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
BLOCKING = ("serious", "critical")
# Rules of issue #14 below "serious" that stay fixed too: one <h1>, unique landmarks, every
# table header with a text.
ALSO_KEPT = ("page-has-heading-one", "landmark-unique", "empty-table-header", "landmark-one-main",
             "region", "heading-order")


def require_tools() -> None:
    missing = [str(p.relative_to(ROOT)) for p in (AXE_JS, VNU_JAR) if not p.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install the npm dependencies with `make web-deps`"
                    " (npm ci)", pytrace=False)
    if shutil.which("java") is None:
        pytest.fail("java not found: the Nu HTML checker (vnu.jar) needs Java 11+", pytrace=False)


@dataclass
class Tour:
    """What a walk through the pages collected: axe findings per page state, HTML sources."""

    folder: Path
    axe: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)

    async def check(self, page: Page, name: str, source: str | None = None, *, dom: bool = False) -> None:
        """Run axe on the page as it is now; keep `source` (the HTML as served) for vnu, and
        with `dom` the page as scripts have made it (serialized by Chromium) too."""
        assert name not in self.axe, f"page state {name!r} checked twice"
        if source is not None:
            self.keep_source(name, source)
        if dom:
            self.keep_source(f"{name} (dom)", await page.content())
        if not await page.evaluate("typeof window.axe === 'object'"):
            tag = await page.add_script_tag(path=str(AXE_JS))
            await tag.evaluate("script => script.remove()")  # axe stays; the page's DOM is its own
        result = await page.evaluate("""async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary,
                                          html: n.html}))}));
        }""")
        self.axe[name] = result

    def keep_source(self, name: str, source: str) -> None:
        path = self.folder / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.html"
        path.write_text(source, encoding="utf-8")
        self.sources[name] = path

    def vnu(self) -> dict[str, list[dict[str, Any]]]:
        """The Nu checker's errors per page, one java run over every source."""
        if not self.sources:
            return {}
        files = [str(p) for p in self.sources.values()]
        run = subprocess.run(["java", "-jar", str(VNU_JAR), "--format", "json", "--exit-zero-always",
                              "--stdout", *files], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"vnu failed to run: {run.stderr}"
        by_file = {p.name: name for name, p in self.sources.items()}  # vnu writes file:/tmp/…
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in self.sources}
        for message in json.loads(run.stdout)["messages"]:
            if message.get("type") not in ("error", "non-document-error"):
                continue
            url = message.get("url", "")
            name = by_file.get(url.rsplit("/", 1)[-1], url)
            found.setdefault(name, []).append(message)
        return found

    def verdict(self) -> None:
        """Print every finding page by page, then fail on what must be zero."""
        errors = self.vnu()
        lines: list[str] = []
        blocking = 0
        for name in sorted(set(self.axe) | set(errors)):
            violations = self.axe.get(name, [])
            bad = [v for v in violations if v["impact"] in BLOCKING or v["id"] in ALSO_KEPT]
            blocking += len(bad) + len(errors.get(name, []))
            lines.append(f"{name}: "
                         + (f"axe {len(violations)} violation(s), {len(bad)} blocking; "
                            if name in self.axe else "")
                         + (f"vnu {len(errors.get(name, []))} error(s)" if name in self.sources
                            else "no HTML of its own for vnu (a state reached by scripts)"))
            for v in violations:
                mark = "!!" if v in bad else "  "
                lines.append(f"  {mark} axe {v['impact']} {v['id']}: {v['help']}")
                lines.extend(f"       {n['target']}  — {n['summary'].splitlines()[-1].strip()}"
                             for n in v["nodes"])
            for e in errors.get(name, []):
                lines.append(f"  !! vnu line {e.get('lastLine', '?')}: {e['message']}"
                             f"  [{(e.get('extract') or '').strip()[:120]}]")
        report = "\n".join(lines)
        print(report)
        assert blocking == 0, f"{blocking} accessibility/validity problem(s):\n{report}"

"""A production center serves its own IVR scripts only: the benchmark flows (`bench`,
`bench-queue`) load where a benchmark or a test asks for them, and no production package
imports `bench/`."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

from bench import flows
from ckm.assembly import assemble
from ground.bus import EventBus
from ground.settings import ROOT, Settings
from pbx.controller import Controller

PRODUCTION_PACKAGES = ("ckm", "pbx", "ivr", "cti", "crm_core", "agent_desktop", "portal")


async def test_the_assembled_center_serves_no_benchmark_script(settings: Settings,
                                                              tmp_path: Path) -> None:
    local = replace(settings, data_dir=tmp_path)
    center = await assemble(local, EventBus(), crm=False, acd=False, speech=False)
    try:
        names = set(center.library.names())
        # Whatever ivr/scripts holds (19115, the overload message, ...), never a bench flow.
        assert "19115" in names and not names & {"bench", "bench-queue"}, names
    finally:
        await center.close()
    bench = await assemble(local, EventBus(), crm=False, acd=False, speech=False,
                           extra_scripts=flows.SCRIPT_DIRS)
    try:
        assert set(bench.library.names()) == names | {"bench", "bench-queue"}
    finally:
        await bench.close()


async def test_a_benchmark_entry_without_its_script_gets_the_center_script(
        settings: Settings, tmp_path: Path) -> None:
    center = await assemble(replace(settings, data_dir=tmp_path), EventBus(), crm=False,
                            acd=False, speech=False)
    try:
        controller = Controller(settings, center.bus, ari=center.ari,
                                library=center.library,
                                prompts=center.prompts)
        assert controller.script_for(("bench",)) == (settings.ivr_script, True)
    finally:
        await center.close()


def test_no_production_module_imports_bench() -> None:
    offenders = []
    for package in PRODUCTION_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom)
                         and node.level == 0 else [])
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                              if n == "bench" or n.startswith("bench.")]
    assert offenders == []

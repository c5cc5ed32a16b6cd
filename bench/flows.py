"""The benchmarks' own IVR flows (`bench/scripts/*.yaml`), loaded only by benchmarks and the
tests that drive them: a production center (`ckm run`) never serves them."""

from __future__ import annotations

from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
# "bench" is the ACD benchmark's queue: only these scripts may name it.
QUEUES = ("bench",)
SCRIPT_DIRS = ((SCRIPTS_DIR, QUEUES),)

"""`ckm run` stops on exit only the Asterisk it started: the decision as a unit (a test must
never stop the sandbox other tests share), and the exit message of a real `ckm run` process
interrupted with SIGINT. A center's stop loses no event and logs no error."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ckm.assembly import assemble
from ckm.runner import AsteriskLease
from crm_core.outbox import journal_path
from ground import events as domain
from ground.bus import EventBus
from ground.settings import Settings


def test_a_sandbox_the_run_started_is_stopped_on_exit() -> None:
    lease = AsteriskLease("sandbox", started_here=True)
    assert lease.stop_on_exit
    assert lease.exit_message() == "Asterisk: stopping the sandbox ckm run started"


def test_a_sandbox_already_running_is_left_and_the_message_says_so() -> None:
    lease = AsteriskLease("sandbox", started_here=False)
    assert not lease.stop_on_exit
    assert "already running when ckm run started; left running" in lease.exit_message()
    assert "ckm asterisk down" in lease.exit_message()


def test_keep_asterisk_a_system_asterisk_and_no_asterisk_are_never_stopped() -> None:
    kept = AsteriskLease("sandbox", started_here=True, keep=True)
    assert not kept.stop_on_exit and "--keep-asterisk" in kept.exit_message()
    system = AsteriskLease("system", started_here=True)
    assert not system.stop_on_exit and "not ckm's to stop" in system.exit_message()
    none = AsteriskLease("none")
    assert not none.stop_on_exit and "--no-asterisk" in none.exit_message()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ckm_run_interrupted_says_what_it_leaves_of_asterisk(tmp_path: Path) -> None:
    # No Asterisk at all: ARI points at a closed port, so this run touches nobody's sandbox.
    port = _free_port()
    env = dict(os.environ, CKM_DATA_DIR=str(tmp_path), CKM_CONFIG=str(tmp_path / "none.toml"),
               CKM_WEB_PORT=str(port), CKM_ARI_URL="http://127.0.0.1:9/ari",
               CKM_ARI_APP=f"ckm-shutdown-{port}")
    proc = subprocess.Popen([sys.executable, "-m", "ckm.cli", "run", "--no-asterisk"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("ckm is running"):
                break
        assert lines and lines[-1].startswith("ckm is running"), "".join(lines)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    out = rest.splitlines()
    assert "Asterisk: not started by ckm run (--no-asterisk); left as it was" in out, rest
    assert "Traceback" not in rest


async def test_events_published_just_before_a_stop_reach_the_journal_without_errors(
        settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A center stopped while its bus still holds events (calls ended by the stop itself, a
    burst just before it) writes every one to the journal and logs no error: the journal
    closes only after the bus has delivered what was published."""
    local = replace(settings, data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/crm.db")
    center = await assemble(local, EventBus(), crm=True, acd=False, speech=False)
    at = datetime.now(UTC)
    for n in range(300):
        center.bus.publish(domain.CallEnded(call_id=f"shutdown-{n}", at=at,
                                            reason="system_hangup"))
    with caplog.at_level(logging.ERROR):
        await center.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    with sqlite3.connect(journal_path(tmp_path)) as journal:
        written = journal.execute("SELECT count(*) FROM journal WHERE kind = 'call_ended'"
                                  ).fetchone()[0]
    assert written == 300

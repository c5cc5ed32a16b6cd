"""A wedged Asterisk is noticed and can always be stopped.

- The health probe tells "slow" and "unresponsive" from real round trips (pure verdict), and on
  the real Asterisk a process that stops answering (SIGSTOP: the events socket stays open, as a
  wedged Asterisk's does) turns /healthz's verdict to unresponsive, and back once it answers.
- `ckm asterisk down` escalates from the CLI to SIGTERM to SIGKILL, saying each step; shown on
  a real process that ignores its stop request and SIGTERM, as a wedged Asterisk did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ground.settings import Settings
from pbx import provision
from pbx.ari_client import AriClient
from pbx.ari_health import AriHealth, AriProbe
from tests.polling import wait_until

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_the_verdict_follows_the_round_trips() -> None:
    health = AriHealth(slow_s=0.5, misses=3)
    assert health.state == "unknown"
    assert health.observe(0.01, T0) == "ok" and health.problem() == ""
    assert health.observe(None, T0) == "ok"  # one lost answer is not a wedge
    assert health.observe(None, T0) == "ok"
    assert health.observe(None, T0 + timedelta(seconds=4)) == "unresponsive"
    assert "3 requests in a row" in health.problem()
    assert health.observe(0.02, T0) == "ok"
    for _ in range(3):
        health.observe(0.9, T0)
    assert health.state == "slow" and "900 ms" in health.problem()


def test_the_guard_reads_most_misses_as_unresponsive_until_two_answers() -> None:
    health = AriHealth(slow_s=0.5, misses=3)
    # A wedging Asterisk answering one probe in three: never three misses in a row.
    for rtt in (None, 0.9, None, None):
        health.observe(rtt, T0)
    assert health.state == "slow" and health.guard_state() == "unresponsive"
    health = AriHealth(slow_s=0.5, misses=3)
    for rtt in (None, None, None, 0.8):  # a stall, then one answer: most probes still missed
        health.observe(rtt, T0)
    assert health.state == "slow" and health.guard_state() == "unresponsive"
    health.observe(0.3, T0)  # two answers in a row: Asterisk answers again, old misses do not count
    assert list(health.outcomes).count(None) == 3 and health.guard_state() == "slow"
    health.observe(None, T0)
    assert health.guard_state() == "unresponsive"


@pytest.mark.asterisk
async def test_a_frozen_asterisk_is_reported_unresponsive_then_ok_again(
        asterisk: Any, settings: Settings) -> None:
    if not isinstance(asterisk, provision.Sandbox):
        pytest.fail("this test freezes the sandbox Asterisk; run the suite with the sandbox")
    pid = asterisk.pid()
    assert pid is not None
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, "ckm-probe")
    probe = AriProbe(ari.ping, AriHealth(misses=3), interval_s=0.2, timeout_s=0.5)
    try:
        assert await probe.probe_once() == "ok"
        os.kill(pid, signal.SIGSTOP)
        try:
            # Stopped for real before the probes ask (the kernel delivers SIGSTOP at once).
            await wait_until("Asterisk to be stopped", lambda: Path(
                f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T", 1)
            states = [await probe.probe_once() for _ in range(3)]
        finally:
            os.kill(pid, signal.SIGCONT)
        assert states[-1] == "unresponsive", (
            states, Path(f"/proc/{pid}/status").read_text()[:300])
        assert "does not answer ARI" in probe.health.problem()
        async def answers() -> bool:
            return await probe.probe_once() == "ok"

        await wait_until("Asterisk to answer ARI again", answers, 5, every_s=0.1)
        assert probe.health.state == "ok"
    finally:
        await ari.stop()


def test_stopping_escalates_from_the_cli_to_sigterm_to_sigkill() -> None:
    # A process that ignores SIGTERM, like a wedged Asterisk; its "CLI" never answers.
    stubborn = subprocess.Popen([sys.executable, "-c",
                                 "import signal, time; signal.signal(signal.SIGTERM, "
                                 "signal.SIG_IGN); print('up', flush=True); time.sleep(120)"],
                                stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"up\n"
    said: list[str] = []
    try:
        how = provision.stop_escalating(
            stubborn.pid, lambda: provision._run(["sleep", "5"], timeout=0.5), said.append,
            cli_wait_s=0.5, term_wait_s=0.5)
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
        stubborn.wait()
    assert how == "sigkill"
    assert stubborn.returncode == -signal.SIGKILL
    assert len(said) == 3, said
    assert said[0].startswith("Asterisk's CLI did not answer"), said
    assert said[1].startswith(f"Asterisk (pid {stubborn.pid}) is still running"), said
    assert said[2].startswith(f"Asterisk (pid {stubborn.pid}) ignored SIGTERM"), said
    assert "sending SIGTERM" in said[1] and "sending SIGKILL" in said[2]


def test_a_process_that_listens_stops_at_the_first_step() -> None:
    quiet = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    said: list[str] = []
    how = provision.stop_escalating(quiet.pid, lambda: quiet.terminate(), said.append,
                                    cli_wait_s=5)
    quiet.wait()
    assert (how, said) == ("cli", [])

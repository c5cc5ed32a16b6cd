"""`ckm acd state`: an operator sees who waits where after a restart."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cti import cli, snapshot
from cti.config import QueueConfig
from cti.drill import Drill
from ground.settings import Settings


def test_acd_state_lists_waiting_callers_in_order(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    d = Drill(QueueConfig("roads"))
    d.call("c1", "roads", number="+48221110001")
    d.call("c2", "roads", number="+48221110002", priority=2)
    settings = Settings(data_dir=tmp_path)
    cli.snapshot_path(settings).write_text(snapshot.dumps(d.acd))
    assert cli._state(argparse.Namespace(file=None, json=False), settings) == 0
    out = capsys.readouterr().out
    assert "queue roads: 2 waiting" in out
    assert out.index("+48221110002") < out.index("+48221110001")  # priority first


def test_acd_state_without_a_snapshot_says_so(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli._state(argparse.Namespace(file=None, json=False), Settings(data_dir=tmp_path)) == 1
    assert "no ACD snapshot" in capsys.readouterr().out


async def test_agent_state_history_is_kept_on_disk_and_shown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime

    from cti import events as ev
    from cti.acd import Acd
    from cti.config import AgentProfile, Caller, Membership
    from cti.switchboard import HeldCommands, Switchboard

    settings = Settings(data_dir=tmp_path)
    board = Switchboard(Acd([QueueConfig("roads", wrapup_s=10)]), HeldCommands(),
                        state_log_path=cli.state_log_path(settings), figures_every_s=0)
    now = datetime.now(UTC)
    board.feed(ev.AgentLoggedIn(now, AgentProfile("anna", memberships=(Membership("roads"),)),
                                "PJSIP/anna"))
    board.feed(ev.CallEnqueued(now, "c1", "roads", Caller("+48221234567")))
    board.feed(ev.AgentAnswered(now, "c1", "anna"))
    board.feed(ev.HangupRequested(now, "c1", "anna"))
    await board.stop()
    args = argparse.Namespace(agent="anna", file=None, last=50)
    assert cli._history(args, settings) == 0
    states = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
    assert states == ["available", "reserved", "on_call", "wrap_up"]


def test_acd_queue_changes_call_handling_that_the_acd_then_reads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from ckm.cli import main
    from crm_core.db import Database, migrate
    from crm_core.seed import seed
    from cti.crm_link import CrmDirectory

    settings = Settings(data_dir=tmp_path)
    migrate(settings.db_url)
    db = Database(settings.db_url)
    seed(db)
    env = {"CKM_DATA_DIR": str(tmp_path), "CKM_ARI_PASSWORD": "x"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert main(["acd", "queue", "ogolna", "--wrapup", "90", "--ring-timeout", "20",
                     "--autopause", "0", "--record", "--callback-attempts", "2"]) == 0
        assert main(["acd", "queue", "ogolna", "--wrapup", "99999"]) == 2
    out = capsys.readouterr().out
    assert "wrap-up 90 s, ring 20 s, auto-pause after never" in out
    assert "wrapup_s: expected 0 to 3600, got 99999" in out
    configs = {q.name: q for q in asyncio.run(CrmDirectory(db).queues())}
    db.dispose()
    ogolna = configs["ogolna"]
    assert (ogolna.wrapup_s, ogolna.ring_timeout_s, ogolna.autopause_after, ogolna.record,
            ogolna.callback_attempts) == (90, 20, 0, True, 2)

"""`ckm db …` and `ckm seed` as an operator runs them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from crm_core import cli
from crm_core import db as crm_db
from ground.settings import Settings


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ckm")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    result: int = args.handler(args, settings)
    return result


def test_seed_migrates_and_is_idempotent_then_info_reports(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path)
    assert _run(settings, "db", "downgrade") == 0
    assert _run(settings, "seed", "--demo") == 0
    assert "created" in capsys.readouterr().out
    assert _run(settings, "seed", "--demo") == 0
    assert "everything already in place" in capsys.readouterr().out
    assert _run(settings, "db", "migrate") == 0
    assert _run(settings, "db", "info") == 0
    out = capsys.readouterr().out
    head = crm_db.current_revision(db_url)
    assert head is not None and f"schema:   {head}" in out and "kb_articles   54" in out

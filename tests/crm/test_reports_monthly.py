"""The monthly report: written to its folder and e-mailed through a real SMTP server (aiosmtpd)
with the month's figures, once (a second look sends nothing); `ckm reports monthly` on demand;
the daily check's time. On SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import io
import socket
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from openpyxl import load_workbook

from ckm.cli import main
from crm_core import reports_monthly as rm
from crm_core.db import Database
from crm_core.services.contact_center import create_queue
from ground.settings import Settings
from tests.crm.test_reports_calls import record_day


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.rcpt: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        self.messages.append(msg)
        self.rcpt.append(list(envelope.rcpt_tos))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def queue_total_offered(content: bytes) -> Any:
    book = load_workbook(io.BytesIO(content), read_only=True)
    rows = list(book["queues"].iter_rows(values_only=True))
    assert rows[1][:2] == ("Kolejka", "Oferowane")
    return rows[-1][1]


def test_last_months_report_is_written_and_mailed_once(db: Database, tmp_path: Path) -> None:
    create_queue(db, name="ogolna", display_name="Ogólna", sl_threshold_s=20)
    create_queue(db, name="transport", display_name="Transport", sl_threshold_s=30)
    record_day(db)  # 30 November 2026
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = replace(Settings(), data_dir=tmp_path / "data", smtp_host="127.0.0.1",
                           smtp_port=port, smtp_sender="19115 <raporty@um.warszawa.pl>",
                           report_monthly_dir=str(tmp_path / "out"),
                           report_monthly_to="Kierownik <kierownik@um.warszawa.pl>, szef@um.warszawa.pl")
        first = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 06:00 in Warsaw on the 1st
        assert rm.due(settings, first) == datetime(2026, 11, 1).date()
        done = rm.run_once(settings, db, first)
        assert done == [f"written to {tmp_path / 'out' / 'ckm-2026-11.xlsx'}",
                        "e-mailed to kierownik@um.warszawa.pl, szef@um.warszawa.pl"]
        written = (tmp_path / "out" / "ckm-2026-11.xlsx").read_bytes()
        assert queue_total_offered(written) == 7  # the day and c9, queued on the 29th
        assert len(inbox.messages) == 1
        msg = inbox.messages[0]
        assert inbox.rcpt == [["kierownik@um.warszawa.pl", "szef@um.warszawa.pl"]]
        assert msg["Subject"] == "19115: raport miesięczny 2026-11"
        body = msg.get_body(("plain",))
        assert body is not None
        assert "oferowane: 7, odebrane: 4, porzucone: 2, poziom obsługi: 50.0%" in body.get_content()
        attachment = next(msg.iter_attachments())
        assert attachment.get_filename() == "ckm-2026-11.xlsx"
        assert queue_total_offered(attachment.get_content()) == 7
        # Later the same day, or after a restart: already delivered.
        assert rm.run_once(settings, db, first.replace(hour=9)) == []
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_an_smtp_server_that_is_down_leaves_the_month_due(db: Database, tmp_path: Path) -> None:
    settings = replace(Settings(), data_dir=tmp_path, smtp_host="127.0.0.1",
                       smtp_port=free_port(), report_monthly_to="kierownik@um.warszawa.pl")
    first = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    with pytest.raises(OSError):
        rm.run_once(settings, db, first)
    assert rm.due(settings, first) == datetime(2026, 11, 1).date()  # retried later


def test_ckm_reports_monthly_on_demand(db_url: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    db = Database(db_url)
    try:
        record_day(db)
    finally:
        db.dispose()
    monkeypatch.setenv("CKM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CKM_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("CKM_DATABASE_URL", db_url)
    monkeypatch.setenv("CKM_REPORT_MONTHLY_DIR", str(tmp_path / "out"))
    assert main(["reports", "monthly", "--month", "2026-11"]) == 0
    assert capsys.readouterr().out == f"2026-11: written to {tmp_path / 'out' / 'ckm-2026-11.xlsx'}\n"
    assert queue_total_offered((tmp_path / "out" / "ckm-2026-11.xlsx").read_bytes()) == 7
    assert main(["reports", "monthly", "--month", "11/2026"]) == 2
    assert "--month: expected a month as YYYY-MM, got '11/2026'" in capsys.readouterr().err


def test_the_task_looks_daily_at_six_warsaw_time() -> None:
    # 05:59 in Warsaw: a minute to go; 06:00: the next day's 06:00.
    assert rm.seconds_until_next_check(datetime(2026, 12, 1, 4, 59, tzinfo=UTC)) == 60.0
    assert rm.seconds_until_next_check(datetime(2026, 12, 1, 5, 0, tzinfo=UTC)) == 86400.0
    assert rm.previous_month(datetime(2026, 1, 1, 5, 0, tzinfo=UTC)).isoformat() == "2025-12-01"

"""The monthly report: a month's calls (by day, per queue), agents and cases as one XLSX,
written to `report_monthly_dir` and/or e-mailed to `report_monthly_to` through the SMTP
settings. `ckm run` makes last month's at 06:00 on the 1st (`MonthlyReports`, which also catches up at
start when the center was down then); `ckm reports monthly --month 2026-11` makes one on demand.

Rules: `previous_month` and `due` are pure (time passed in); a month counts as delivered when
its marker exists under data_dir/reports (written after the folder and the e-mail succeeded),
so a restart never sends it twice and a failure is retried an hour later.
"""

from __future__ import annotations

import asyncio
import io
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, parseaddr
from pathlib import Path

from crm_core.db import Database
from crm_core.models import utcnow
from crm_core.services import reports_calls, reports_cases, reports_export
from crm_core.services.reports_calls import WARSAW, ReportFilter
from ground.settings import Settings

log = logging.getLogger(__name__)

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
RETRY_S = 3600.0


def parse_month(text: str) -> date:
    """'2026-11' → date(2026, 11, 1); a ValueError names what was expected."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}") from None


def previous_month(now: datetime) -> date:
    first = now.astimezone(WARSAW).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def month_end(month: date) -> date:
    """The month's last day."""
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass(frozen=True)
class MonthlyReport:
    month: date
    filename: str
    content: bytes
    total: reports_calls.Figures


def build(db: Database, month: date, *, lang: str = "pl", now: datetime | None = None
          ) -> MonthlyReport:
    now = now or utcnow()
    flt = ReportFilter(month, month_end(month), step="day")
    cc = reports_calls.contact_center_report(db, flt, now=now)
    cases = reports_cases.case_report(db, flt.start, flt.end, now=now)
    out = io.BytesIO()
    reports_export.to_xlsx([*reports_export.call_tables(cc, lang),
                            *reports_export.case_tables(cases, lang)], out)
    return MonthlyReport(month, f"ckm-{month:%Y-%m}.xlsx", out.getvalue(), cc.calls.total())


def recipients(settings: Settings) -> list[str]:
    return [address for _, address in getaddresses([settings.report_monthly_to]) if address]


def deliver(settings: Settings, report: MonthlyReport) -> list[str]:
    """Write and/or send `report` as the settings say; returns what was done, in words.
    Raises OSError / smtplib.SMTPException when the folder or the server refuses."""
    done: list[str] = []
    if settings.report_monthly_dir:
        folder = Path(settings.report_monthly_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / report.filename
        partial = path.with_suffix(".xlsx.part")
        partial.write_bytes(report.content)
        partial.replace(path)  # a reader of the folder never sees half a workbook
        done.append(f"written to {path}")
    to = recipients(settings)
    if to:
        _mail(settings, report, to)
        done.append(f"e-mailed to {', '.join(to)}")
    return done


def _mail(settings: Settings, report: MonthlyReport, to: list[str]) -> None:
    if not settings.smtp_host:
        raise smtplib.SMTPException("report_monthly_to is set but smtp_host is not")
    name, sender = parseaddr(settings.smtp_sender)
    msg = EmailMessage()
    msg["From"] = formataddr((name, sender))
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"19115: raport miesięczny {report.month:%Y-%m}"
    t = report.total
    level = "—" if t.service_level is None else f"{100 * t.service_level:.1f}%"
    msg.set_content(
        f"Raport centrum 19115 za {report.month:%Y-%m} w załączniku ({report.filename}).\n\n"
        f"Połączenia oferowane: {t.offered}, odebrane: {t.answered}, porzucone: {t.abandoned}, "
        f"poziom obsługi: {level}.\n")
    msg.add_attachment(report.content, maintype=XLSX[0], subtype=XLSX[1],
                       filename=report.filename)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(msg, from_addr=sender, to_addrs=to)


def marker(settings: Settings, month: date) -> Path:
    return settings.data_dir / "reports" / f"monthly-{month:%Y-%m}.done"


def due(settings: Settings, now: datetime) -> date | None:
    """Last month's report when it is wanted and not delivered yet."""
    if not (settings.report_monthly_dir or settings.report_monthly_to):
        return None
    month = previous_month(now)
    return None if marker(settings, month).exists() else month


def run_once(settings: Settings, db: Database, now: datetime) -> list[str]:
    month = due(settings, now)
    if month is None:
        return []
    done = deliver(settings, build(db, month, now=now))
    path = marker(settings, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{now.isoformat()}\n" + "\n".join(done) + "\n", encoding="utf-8")
    log.info("monthly report %s: %s", f"{month:%Y-%m}", "; ".join(done))
    return done


def seconds_until_next_check(now: datetime) -> float:
    """Until the next 06:00 Warsaw time: the task looks once a day (and at start), so last
    month's report goes out at 06:00 on the 1st, or at start when the center was down then."""
    local = now.astimezone(WARSAW)
    target = datetime.combine(local.date(), datetime.min.time(), tzinfo=WARSAW).replace(hour=6)
    if target <= local:
        target = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(),
                                  tzinfo=WARSAW).replace(hour=6)
    return max(60.0, (target - local).total_seconds())


class MonthlyReports:
    """The task `ckm run` keeps: deliver last month's report when due, check again daily."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            now = utcnow()
            try:
                await asyncio.to_thread(run_once, self.settings, self.db, now)
                wait = seconds_until_next_check(now)
            except (OSError, smtplib.SMTPException, ValueError) as exc:
                log.error("monthly report not delivered (retry in an hour): %s", exc)
                wait = RETRY_S
            except Exception:
                log.exception("monthly report failed (retry in an hour)")
                wait = RETRY_S
            await asyncio.sleep(wait)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="monthly-reports")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

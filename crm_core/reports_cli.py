"""`ckm reports monthly [--month YYYY-MM]`: the monthly report on demand (default: last month),
written and/or e-mailed as the settings say, or to --out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ground.settings import Settings


def register(sub: Any) -> None:
    reports = sub.add_parser("reports", help="contact-center and case reports")
    rsub = reports.add_subparsers(dest="reports_command", metavar="ACTION", required=True)
    monthly = rsub.add_parser(
        "monthly", help="a month's report as XLSX: to report_monthly_dir and/or e-mailed to "
                        "report_monthly_to (or to --out)")
    monthly.add_argument("--month", help="YYYY-MM (default: last month)")
    monthly.add_argument("--out", type=Path, help="write the XLSX here instead")
    monthly.set_defaults(handler=_monthly)


def _monthly(args: argparse.Namespace, settings: Settings) -> int:
    import smtplib

    from crm_core import reports_monthly as rm
    from crm_core.db import Database, migrate
    from crm_core.models import utcnow

    try:
        month = rm.parse_month(args.month) if args.month else rm.previous_month(utcnow())
    except ValueError as exc:
        print(f"ckm reports monthly: --month: {exc}", file=sys.stderr)
        return 2
    if args.out is None and not (settings.report_monthly_dir or settings.report_monthly_to):
        print("ckm reports monthly: set report_monthly_dir and/or report_monthly_to, or give "
              "--out", file=sys.stderr)
        return 2
    migrate(settings.db_url)
    db = Database(settings.db_url)
    try:
        report = rm.build(db, month)
    finally:
        db.dispose()
    if args.out is not None:
        args.out.write_bytes(report.content)
        print(f"{month:%Y-%m}: written to {args.out}")
        return 0
    try:
        done = rm.deliver(settings, report)
    except (OSError, smtplib.SMTPException) as exc:
        print(f"ckm reports monthly: {month:%Y-%m} not delivered: {exc}", file=sys.stderr)
        return 1
    print(f"{month:%Y-%m}: " + "; ".join(done))
    return 0

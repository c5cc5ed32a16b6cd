from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr import validator
from ivr.model import Script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT_19115 = ROOT / "ivr" / "scripts" / "19115.yaml"
WARSAW = ZoneInfo("Europe/Warsaw")
# A Friday morning that is no holiday.
WEEKDAY_MORNING = datetime(2026, 11, 27, 10, 0, tzinfo=WARSAW)


def script_from(text: str) -> Script:
    report = validator.check_text(text, "<test>")
    assert report.script is not None and not report.problems, report.lines()
    return report.script


@pytest.fixture(scope="session")
def script_19115() -> Script:
    return validator.load_valid(str(SCRIPT_19115))

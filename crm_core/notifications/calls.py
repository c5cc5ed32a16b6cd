"""Phone-call notifications, the pure part: what the resident hears, when they may be called
and how often a call is tried.

Rules:
- A call is placed only outside the quiet hours (default 21:00–08:00 Europe/Warsaw, a window
  that may wrap midnight). A notification due inside them is deferred to the moment they end
  (08:00 Warsaw time, whatever the UTC offset that day): it is neither called nor dropped.
- A call answered is a message delivered: the notification is `sent` at the answer and never
  called again, even when the resident hangs up during the message (a person picked up; a second
  call would be the nuisance this rule forbids).
- A call not answered (no answer, busy, refused by the network, Asterisk unreachable) is tried
  again after `retry_s`, doubling, at most `retry_cap_s` (default 10, 20, then 30 minutes), up
  to `attempts` calls in all (default 3); then the notification is `failed` with the last
  call's reason as its error.
- Who is called at all is decided where the notification is enqueued (`rules.may_contact`): a
  resident who withdrew consent has no notification to call about.
- The spoken message is the written one said aloud: the greeting, the case number in words a
  speech synthesizer reads well, what happened and the department's public answer — no link.

Nothing here touches the database, the network or the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_core.notifications import rules

WARSAW = ZoneInfo("Europe/Warsaw")


@dataclass(frozen=True)
class QuietHours:
    """No calls from `start` to `end`, local time in `zone`; start == end means none."""

    start: time = time(21, 0)
    end: time = time(8, 0)
    zone: ZoneInfo = WARSAW

    @classmethod
    def parse(cls, spec: str, zone: ZoneInfo = WARSAW) -> QuietHours:
        """"21:00-08:00" (the hours residents are not called); "" or "none": never quiet."""
        text = spec.strip().lower()
        if text in ("", "none", "off"):
            return cls(time(0, 0), time(0, 0), zone)
        match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", text)
        if match is None:
            raise ValueError(f"expected quiet hours like 21:00-08:00, got {spec!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"quiet hours {spec!r}: hours 0-23, minutes 0-59")
        return cls(time(h1, m1), time(h2, m2), zone)

    def contains(self, at: datetime) -> bool:
        if self.start == self.end:
            return False
        local = at.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # the window wraps midnight

    def next_allowed(self, at: datetime) -> datetime:
        """`at` itself when a call may be placed then, else the end of its quiet window (UTC)."""
        if not self.contains(at):
            return at
        local = at.astimezone(self.zone)
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)  # evening: the window ends tomorrow morning
        return datetime.combine(day, self.end, self.zone).astimezone(UTC)


@dataclass(frozen=True)
class CallPolicy:
    attempts: int = 3
    retry_s: float = 600.0
    retry_cap_s: float = 1800.0
    quiet: QuietHours = QuietHours()
    lines: int = 2  # calls at once
    # The claim on a notification while its call is placed: far longer than ringing lasts, so
    # a live dispatcher's claim never runs out under it (the call stops waiting at half of it).
    lease_s: float = 300.0
    poll_s: float = 5.0
    error_pause_s: float = 5.0

    def retry_delay_s(self, attempts: int) -> float:
        """Delay before call number `attempts + 1`, after `attempts` unanswered calls."""
        return rules.backoff_s(attempts, base=self.retry_s, cap=self.retry_cap_s)


# --- what is said

_NUMBER = re.compile(r"^(?P<center>\d+)/(?P<year>\d{4})/(?P<seq>\d+)$")

_SAY: dict[str, dict[str, str]] = {
    "intro": {
        "pl": "Dzień dobry, tu Miejskie Centrum Kontaktu Warszawa 19115. Dzwonimy w sprawie "
              "Pana lub Pani zgłoszenia {number}: {category}{place}.",
        "en": "Hello, this is the Warsaw city contact center 19115. We are calling about your "
              "report {number}: {category}{place}.",
        "uk": "Добрий день, це Міський контактний центр Варшави 19115. Телефонуємо щодо "
              "вашого звернення {number}: {category}{place}.",
    },
    "number": {
        "pl": "numer {seq} z roku {year}",
        "en": "number {seq} of {year}",
        "uk": "номер {seq} за {year} рік",
    },
    "question_reply": {
        "pl": "Aby odpowiedzieć konsultantowi, naciśnij zero.",
        "en": "To answer a consultant, press zero.",
        "uk": "Щоб відповісти консультанту, натисніть нуль.",
    },
}


def spoken_number(case_number: str, language: str) -> str:
    """"19115/2026/000042" → "numer 42 z roku 2026": zero-padded digits read badly aloud."""
    lang = rules.language_of(language)
    match = _NUMBER.match(case_number)
    if match is None:
        return case_number
    return _SAY["number"][lang].format(seq=int(match["seq"]), year=match["year"])


def spoken(ctx: rules.MessageContext) -> str:
    """The message as said on the phone (rendered to speech when the call is placed)."""
    lang = rules.language_of(ctx.language)
    if ctx.kind not in rules.KINDS:
        raise ValueError(f"unknown notification kind {ctx.kind!r}")
    # The same sentences as the written message (rules' own tables).
    what = rules._t(ctx.kind, lang).format(other=ctx.duplicate_of or "")
    place = f", {ctx.place}" if ctx.place else ""
    parts = [_SAY["intro"][lang].format(number=spoken_number(ctx.case_number, lang),
                                        category=ctx.category, place=place), what]
    if ctx.note:
        label = rules._nested("note", lang, ctx.kind)
        parts.append(f"{label} {' '.join(ctx.note.split())}")
    if ctx.kind == "question":
        parts.append(_SAY["question_reply"][lang])
    return " ".join(parts)

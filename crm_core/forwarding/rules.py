"""What a department's own system says, and what the case does about it: the pure core of
forwarding beyond ckm.

Rules:
- A department's answer by e-mail is read from its first non-empty line, quoted text (lines
  starting with ">" and everything after an "On … wrote:" / "W dniu … napisał(a):" line)
  left out: `ROZWIĄZANE:` / `ZAŁATWIONE:` / `RESOLVED:` resolve the case, `ODRZUCONE:` /
  `REJECTED:` reject it, with the rest of the message (the same line after the colon, and the
  lines below) as the public answer the resident reads. Anything else is an internal note.
  The keywords are matched without regard to case or Polish diacritics ("rozwiazane:").
- A resolve or reject with nothing after the keyword is not an answer: it becomes a note (the
  resident is never sent an empty answer).
- An Open311 request's status maps back. GeoReport v2 knows only `open` and `closed`, so a
  closed request is told apart by what else the server says: the `detailed_status` of the
  extended attributes (asked for with `extensions=true`; another ckm answers with its own
  status, `REJECTED` for a refusal) rejects the case when it is `REJECTED`; a server without
  it rejects the case when its `status_notes` begin with the same keywords as a department's
  e-mail (`ODRZUCONE:` / `REJECTED:`, the rest being the reason). Any other `closed` resolves
  the case with the `status_notes` as the public answer (a fixed sentence when there are none),
  once; `open` with new `status_notes` adds them to the case as an internal note; anything
  else changes nothing. Only a case still open at the department the request was sent to is
  changed.
- Delivery is retried with exponential backoff (30 s doubling up to an hour) up to
  `max_attempts`; an Open311 4xx other than 408/429 (the server refuses this request: a bad
  key, an unknown service code) fails it at once, visible with the server's words.
- Service codes are mapped by the department's `ours=theirs` list; a code not listed goes as
  it is (two ckm installs share the same codes).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

RESOLVE_WORDS = ("rozwiazane", "zalatwione", "resolved")
REJECT_WORDS = ("odrzucone", "rejected")
CLOSED_WITHOUT_NOTES = "Sprawa zamknięta w systemie jednostki."
REJECTED_WITHOUT_NOTES = "Zgłoszenie odrzucone w systemie jednostki."
_QUOTE_HEADER = re.compile(r"^(On .+ wrote:|W dniu .+ napisał(?:\(a\)|a)?:|-----Original Message-----)\s*$",
                           re.IGNORECASE)
_KEYWORD = re.compile(r"^\s*([^\W\d_]+)\s*:\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Answer:
    """What a department's e-mail does: kind is resolved | rejected | note."""

    kind: str
    text: str


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def fresh_text(body: str) -> str:
    """The part of a reply its author wrote: quoted lines and what follows a quote header go."""
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if _QUOTE_HEADER.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        if line.rstrip() == "--":  # signature separator ("-- ")
            break
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def read_answer(body: str) -> Answer | None:
    """A department's e-mail reply as an action; None when it says nothing."""
    text = fresh_text(body)
    if not text:
        return None
    found = _KEYWORD.match(text)
    if found is not None:
        word, rest = _plain(found.group(1)), found.group(2).strip()
        kind = "resolved" if word in RESOLVE_WORDS else "rejected" if word in REJECT_WORDS else None
        if kind is not None and rest:
            return Answer(kind, rest)
    return Answer("note", text)


@dataclass(frozen=True)
class RemoteChange:
    """What to do with a case after a poll: kind is resolve | reject | note."""

    kind: str
    text: str


def remote_change(remote_status: str | None, notes: str | None, previous_notes: str | None,
                  detailed_status: str | None = None) -> RemoteChange | None:
    status = (remote_status or "").strip().lower()
    notes = (notes or "").strip() or None
    if status == "closed":
        detailed = (detailed_status or "").strip().upper()
        keyword = _KEYWORD.match(notes or "")
        said = _plain(keyword.group(1)) if keyword is not None else ""
        if detailed == "REJECTED":
            return RemoteChange("reject", notes or REJECTED_WITHOUT_NOTES)
        if not detailed and keyword is not None and said in REJECT_WORDS:
            return RemoteChange("reject", keyword.group(2).strip() or REJECTED_WITHOUT_NOTES)
        if not detailed and keyword is not None and said in RESOLVE_WORDS:
            return RemoteChange("resolve", keyword.group(2).strip() or CLOSED_WITHOUT_NOTES)
        return RemoteChange("resolve", notes or CLOSED_WITHOUT_NOTES)
    if status == "open" and notes and notes != (previous_notes or "").strip():
        return RemoteChange("note", notes)
    return None


def backoff_s(attempts: int, *, base: float = 30.0, cap: float = 3600.0) -> float:
    """Delay before try number `attempts + 1`, after `attempts` failed tries (≥ 1)."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


def is_permanent_http(status: int) -> bool:
    return 400 <= status < 500 and status not in (408, 429)


def parse_code_map(text: str | None) -> dict[str, str]:
    """`roads.pothole=POT,waste.bulky=BULK` → {ours: theirs}; raises ValueError saying which
    pair is wrong."""
    found: dict[str, str] = {}
    for pair in (text or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise ValueError(f"{pair!r} is not ours=theirs")
        found[ours.strip()] = theirs.strip()
    return found


def their_code(code_map: dict[str, str], *codes: str | None) -> str:
    """The remote service code of the first of `codes` (subcategory, then category) the map
    names; with none mapped, the first code as it is."""
    present = [c for c in codes if c]
    for code in present:
        if code in code_map:
            return code_map[code]
    return present[0]

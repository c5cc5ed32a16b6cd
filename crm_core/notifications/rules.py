"""What a resident is told, and when: the pure core of resident notifications.

Rules:
- A resident is told about a case only when they asked to be (a channel chosen when reporting:
  the portal form, the consultant's form, Open311 `email`/`phone`) and, when the case names a
  resident, that resident has not withdrawn their consent to be contacted. Withdrawn consent
  wins over every channel chosen before: such a resident is never contacted.
- Status changes that matter to the resident notify, each once per channel:
  * → in_progress: "accepted" (a department took the case, or reopened it);
  * → resolved: "resolved", with the department's public answer;
  * → rejected: "rejected", with the public reason;
  * → closed as a duplicate of another case: "duplicate", naming that case;
  * a question asked by the department: "question", with the question. It is recorded as a
    history entry that keeps the status (from = to) with a public comment — what
    `crm_core.services.department.ask_resident` writes; such an entry without a public
    comment tells nothing.
  Nothing else notifies: `new` and `forwarded` are the center's own steps, and closing a case
  already resolved or rejected repeats what the resident was told then.
- Only a comment marked public reaches the resident; internal remarks never do.
- Messages are written in the resident's language (pl, en, uk); any other language gets
  Polish. Every message names the case number and carries the tracking link.
- A question tells the resident how to answer, truthfully for the install: on the report's
  page (its answer form, reached by the tracking link), and by replying to the e-mail only
  when ckm receives mail (then the message's Reply-To threads the reply onto the case). An
  SMS points to the page; a call offers a consultant.
- E-mail is plain text plus an HTML alternative with the same content (values escaped); SMS is
  one short text (what fits a few segments), without the answer's full text beyond 300
  characters.
- Retries back off exponentially from `base` seconds, capped at `cap`; a message still not
  accepted after `max_attempts` tries is `failed` (visible to supervisors, never dropped).

Nothing here touches the database, the network or the clock.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

LANGUAGES = ("pl", "en", "uk")
KINDS = ("accepted", "resolved", "rejected", "duplicate", "question")
SMS_NOTE_LIMIT = 300


def notification_kind(from_status: str | None, to_status: str, *, duplicate: bool = False,
                      public_note: bool = False) -> str | None:
    """The kind of message a status change sends, or None when it sends none."""
    if from_status == to_status:
        return "question" if public_note else None
    if to_status == "in_progress":
        return "accepted"
    if to_status == "resolved":
        return "resolved"
    if to_status == "rejected":
        return "rejected"
    if to_status == "closed" and duplicate and from_status not in ("resolved", "rejected"):
        return "duplicate"
    return None


def may_contact(channel: str | None, address: str | None, consent_contact: bool | None) -> bool:
    """`consent_contact` is the resident's record (None: the case names no resident)."""
    if not channel or not address:
        return False
    return consent_contact is not False


def language_of(code: str | None) -> str:
    code = (code or "pl").lower()[:2]
    return code if code in LANGUAGES else "pl"


def backoff_s(attempts: int, *, base: float = 30.0, cap: float = 3600.0) -> float:
    """Delay before try number `attempts + 1`, after `attempts` failed tries (≥ 1)."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class MessageContext:
    kind: str
    language: str
    case_number: str
    category: str
    place: str | None
    note: str | None  # the public answer / reason / question; None when there is none
    tracking_url: str
    duplicate_of: str | None = None
    # ckm receives e-mail (`mail_inbound_port`): a reply to the message lands on the case.
    reply_by_email: bool = False


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


_T: dict[str, dict[str, str]] = {
    "subject": {
        "pl": "Zgłoszenie {number}: {what}",
        "en": "Report {number}: {what}",
        "uk": "Звернення {number}: {what}",
    },
    "greeting": {"pl": "Dzień dobry,", "en": "Hello,", "uk": "Добрий день,"},
    "about": {
        "pl": "piszemy w sprawie Pana/Pani zgłoszenia {number} ({category}{place}).",
        "en": "this is about your report {number} ({category}{place}).",
        "uk": "пишемо щодо вашого звернення {number} ({category}{place}).",
    },
    "accepted": {
        "pl": "Zgłoszenie zostało przyjęte do realizacji przez właściwą jednostkę miasta.",
        "en": "The responsible city unit has accepted it and is working on it.",
        "uk": "Відповідальний міський підрозділ прийняв його до виконання.",
    },
    "resolved": {
        "pl": "Sprawa została załatwiona.",
        "en": "It has been resolved.",
        "uk": "Справу вирішено.",
    },
    "rejected": {
        "pl": "Zgłoszenie zostało odrzucone.",
        "en": "It has been rejected.",
        "uk": "Звернення відхилено.",
    },
    "duplicate": {
        "pl": "Ten sam problem zgłoszono już wcześniej ({other}); sprawa jest prowadzona tam.",
        "en": "The same problem had already been reported ({other}); it is handled there.",
        "uk": "Цю проблему вже повідомили раніше ({other}); її вирішують у тому зверненні.",
    },
    "question": {
        "pl": "Jednostka miasta prosi o dodatkowe informacje.",
        "en": "The city unit asks you for more information.",
        "uk": "Міський підрозділ просить надати додаткову інформацію.",
    },
    # How to answer a question: by replying to the e-mail when ckm receives mail (its Reply-To
    # threads the reply onto the case), and always on the report's page (its answer form).
    "reply_mail": {
        "pl": "Wystarczy odpowiedzieć na tę wiadomość — odpowiedź trafi do zgłoszenia. "
              "Można też odpowiedzieć na stronie zgłoszenia: {url}",
        "en": "Just reply to this e-mail — your answer is added to the report. "
              "You can also answer on the report's page: {url}",
        "uk": "Просто дайте відповідь на цей лист — її буде додано до звернення. "
              "Також можна відповісти на сторінці звернення: {url}",
    },
    "reply_page": {
        "pl": "Odpowiedzi prosimy udzielić na stronie zgłoszenia: {url}",
        "en": "Please answer on the report's page: {url}",
        "uk": "Будь ласка, дайте відповідь на сторінці звернення: {url}",
    },
    "reply_sms": {"pl": "Odpowiedz:", "en": "Answer here:", "uk": "Відповісти:"},
    "track": {
        "pl": "Stan zgłoszenia: {url}",
        "en": "Track your report: {url}",
        "uk": "Стан звернення: {url}",
    },
    "footer": {
        "pl": "Miejskie Centrum Kontaktu Warszawa 19115. Ta wiadomość została wysłana automatycznie.",
        "en": "Warsaw City Contact Center 19115. This message was sent automatically.",
        "uk": "Міський контакт-центр Варшави 19115. Це повідомлення надіслано автоматично.",
    },
}


_NESTED: dict[str, dict[str, dict[str, str]]] = {
    "short": {
        "pl": {"accepted": "przyjęte do realizacji", "resolved": "załatwione", "rejected": "odrzucone",
               "duplicate": "duplikat", "question": "prośba o informacje"},
        "en": {"accepted": "accepted", "resolved": "resolved", "rejected": "rejected",
               "duplicate": "duplicate", "question": "question for you"},
        "uk": {"accepted": "прийнято", "resolved": "вирішено", "rejected": "відхилено",
               "duplicate": "дублікат", "question": "запитання до вас"},
    },
    "note": {
        "pl": {"resolved": "Odpowiedź:", "rejected": "Uzasadnienie:", "question": "Pytanie:",
               "accepted": "Informacja:", "duplicate": "Informacja:"},
        "en": {"resolved": "Answer:", "rejected": "Reason:", "question": "Question:",
               "accepted": "Note:", "duplicate": "Note:"},
        "uk": {"resolved": "Відповідь:", "rejected": "Причина:", "question": "Запитання:",
               "accepted": "Інформація:", "duplicate": "Інформація:"},
    },
}


def _t(key: str, lang: str) -> str:
    return _T[key][lang]


def _nested(key: str, lang: str, kind: str) -> str:
    return _NESTED[key][lang][kind]


def render(ctx: MessageContext) -> Rendered:
    """Subject, plain text, HTML and SMS text of one message."""
    lang = language_of(ctx.language)
    if ctx.kind not in KINDS:
        raise ValueError(f"unknown notification kind {ctx.kind!r}")
    place = f", {ctx.place}" if ctx.place else ""
    subject = _t("subject", lang).format(number=ctx.case_number, what=_nested("short", lang, ctx.kind))
    about = _t("about", lang).format(number=ctx.case_number, category=ctx.category, place=place)
    what = _t(ctx.kind, lang).format(other=ctx.duplicate_of or "")
    note_label = _nested("note", lang, ctx.kind)
    track = _t("track", lang).format(url=ctx.tracking_url)
    lines = [_t("greeting", lang), "", about, what]
    if ctx.note:
        lines += ["", note_label, ctx.note]
    reply = _t("reply_mail" if ctx.reply_by_email else "reply_page", lang).format(url=ctx.tracking_url)
    if ctx.kind == "question":
        lines += ["", reply]
    lines += ["", track, "", "-- ", _t("footer", lang)]
    text = "\n".join(lines) + "\n"

    e = html.escape
    parts = [
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{e(subject)}</title></head>",
        "<body>",
        f"<p>{e(_t('greeting', lang))}</p>",
        f"<p>{e(about)}</p>",
        f"<p><strong>{e(what)}</strong></p>",
    ]
    if ctx.note:
        note_html = "<br>".join(e(line) for line in ctx.note.splitlines())
        parts.append(f"<p>{e(note_label)}</p><blockquote>{note_html}</blockquote>")
    if ctx.kind == "question":
        parts.append(f"<p>{e(reply)}</p>")
    url = e(ctx.tracking_url, quote=True)
    label = e(_t("track", lang).split(":")[0])
    parts += [
        f'<p><a href="{url}">{label}</a>: {url}</p>',
        f"<hr><p><small>{e(_t('footer', lang))}</small></p>",
        "</body></html>",
    ]
    sms_note = ""
    if ctx.note:
        note = " ".join(ctx.note.split())
        sms_note = " " + (note if len(note) <= SMS_NOTE_LIMIT else note[: SMS_NOTE_LIMIT - 1] + "…")
    answer_here = f" {_t('reply_sms', lang)}" if ctx.kind == "question" else ""
    sms = f"19115: {subject}.{sms_note}{answer_here} {ctx.tracking_url}"
    return Rendered(subject=subject, text=text, html="\n".join(parts) + "\n", sms=sms)

"""What a department's own system receives: the Open311 request's fields, and the structured
e-mail (fields one per line, the description, how to answer). Pure: no I/O."""

from __future__ import annotations

from datetime import datetime

from crm_core.forwarding import rules
from crm_core.forwarding.outbox import ForwardJob
from crm_core.warsaw import TIMEZONE

MAX_REMOTE_DESCRIPTION = 4000  # GeoReport v2's limit


def _local(moment: datetime | None) -> str:
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M") if moment else "—"


def open311_fields(job: ForwardJob, photo_url: str | None) -> dict[str, str]:
    """The GeoReport v2 POST form of a forwarded case (no resident contact data: the department
    answers through ckm, which tells the resident)."""
    code = rules.their_code(rules.parse_code_map(job.code_map), job.subcategory_code, job.category_code)
    lines = [job.description, "", f"Zgłoszenie 19115: {job.case_number}"]
    if job.location_text:
        lines.append(f"Miejsce: {job.location_text}")
    if job.due_at:
        lines.append(f"Termin (19115): {_local(job.due_at)}")
    if photo_url:
        lines.append(f"Zdjęcie: {photo_url}")
    description = "\n".join(lines)
    if len(description) > MAX_REMOTE_DESCRIPTION:
        description = description[: MAX_REMOTE_DESCRIPTION - 1] + "…"
    fields = {"api_key": job.api_key or "", "service_code": code, "description": description}
    if job.lat is not None and job.lon is not None:
        fields["lat"], fields["long"] = f"{job.lat:.6f}", f"{job.lon:.6f}"
    if job.address:
        fields["address_string"] = job.address
    if job.district:
        fields["attribute[district]"] = job.district
    if job.location_text:
        fields["attribute[location_details]"] = job.location_text[:500]
    return fields


def email_subject(job: ForwardJob) -> str:
    place = f" — {job.address}" if job.address else f" — {job.district}" if job.district else ""
    return f"[19115] Zgłoszenie {job.case_number}: {job.category_name}{place}"[:200]


def email_text(job: ForwardJob, photo_url: str | None, tracking_hint: str) -> str:
    point = ""
    if job.lat is not None and job.lon is not None:
        point = (f"{job.lat:.6f}, {job.lon:.6f} (https://www.openstreetmap.org/?mlat={job.lat:.6f}"
                 f"&mlon={job.lon:.6f}#map=18/{job.lat:.6f}/{job.lon:.6f})")
    fields = [
        ("Numer", job.case_number),
        ("Kategoria", f"{job.category_name} ({job.subcategory_code or job.category_code})"),
        ("Priorytet", str(job.priority)),
        ("Adres", job.address or "—"),
        ("Dzielnica", job.district or "—"),
        ("Miejsce", job.location_text or "—"),
        ("Współrzędne", point or "—"),
        ("Zgłoszono", _local(job.created_at)),
        ("Termin", _local(job.due_at)),
        ("Zdjęcie", photo_url or "—"),
    ]
    lines = [
        f"Miejskie Centrum Kontaktu Warszawa 19115 przekazuje zgłoszenie do: {job.department} "
        f"({job.department_name}).",
        "",
        *(f"{name}: {value}" for name, value in fields),
        "",
        "Opis:",
        job.description,
        "",
        "Jak odpowiedzieć: odpowiedz na tę wiadomość (adres zwrotny prowadzi do tego zgłoszenia).",
        "Pierwsza linia odpowiedzi decyduje:",
        "  ROZWIĄZANE: <odpowiedź dla mieszkańca>   — sprawa załatwiona,",
        "  ODRZUCONE: <uzasadnienie dla mieszkańca> — zgłoszenie odrzucone;",
        "każda inna odpowiedź trafia do zgłoszenia jako notatka wewnętrzna (mieszkaniec jej nie widzi).",
        tracking_hint,
        "",
        "-- ",
        "Ta wiadomość została wysłana automatycznie przez system 19115.",
    ]
    return "\n".join(lines) + "\n"

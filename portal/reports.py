"""A resident's report, from the portal form or the Open311 API, into the CRM: the resident
(when they leave contact details), an interaction on channel `portal`/`app`, and the case.

Both edges parse into the same `ReportDraft`; this module does not know field names of either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import utcnow
from crm_core.notifications import store as notifications
from crm_core.photos import MediaStore, Photo
from crm_core.services import cases, interactions, residents
from portal.fields import InvalidInput


@dataclass(frozen=True)
class Contact:
    name: str | None
    email: str | None
    phone: str | None  # E.164


@dataclass(frozen=True)
class ReportDraft:
    service_code: str
    description: str
    district: str
    address: str | None
    lat: float | None
    lon: float | None
    location_details: str | None
    contact: Contact | None
    photo: Photo | None
    channel: str  # portal | app
    # How the resident wants to be told about the case: "none", "email", "sms"; None (Open311,
    # which has no such field): by the contact given, e-mail first (crm_core.notifications).
    notify_by: str | None = None
    language: str = "pl"


@dataclass(frozen=True)
class Submitted:
    case_id: int
    number: str
    tracking_token: str
    photo_name: str | None


log = logging.getLogger(__name__)

# crm_core's field names → the draft's, so its messages land on the right form field.
_CRM_FIELDS = {"location_text": "location_details", "category": "service_code", "subcategory": "service_code"}


def _resident_id(db: Database, contact: Contact | None) -> int | None:
    if contact is None:
        return None
    if contact.phone is not None:
        found = residents.find_resident(db, contact.phone)
        if found is not None:
            # The number identifies the caller the center already knows; what this form says
            # about name/e-mail is not allowed to overwrite their record.
            return found.id
    created = residents.create_resident(
        db,
        phones=[contact.phone] if contact.phone else [],
        name=contact.name,
        email=contact.email,
        consent_contact=True,
    )
    return created.id


def submit(db: Database, media: MediaStore, draft: ReportDraft, *, by: str) -> Submitted:
    """Blocking (run it in a thread). Raises InvalidInput when the CRM rejects a field.

    The resident, the contact and the case are one unit of work: all written, or (a field the
    CRM refuses) none of them."""
    at = utcnow()
    try:
        with db.unit_of_work():
            created = _write_report(db, draft, by=by, at=at)
    except ValidationError as exc:
        raise InvalidInput({_CRM_FIELDS.get(k, k): v for k, v in exc.fields.items()}) from None
    _notify_preference(db, created.case.id, draft, created.tracking_token)
    name = media.save(created.case.id, draft.photo) if draft.photo is not None else None
    return Submitted(created.case.id, created.case.number, created.tracking_token, name)


def _write_report(db: Database, draft: ReportDraft, *, by: str, at: datetime) -> cases.CreatedCase:
    resident_id = _resident_id(db, draft.contact)
    contact = interactions.record_contact(
        db,
        channel=draft.channel,
        at=at,
        resident_id=resident_id,
        subject=f"Zgłoszenie: {draft.service_code}"[:200],
        notes=draft.description,
    )
    return cases.create_case(
        db,
        cases.NewCase(
            category=draft.service_code,
            description=draft.description,
            address=draft.address,
            district=draft.district,
            lat=draft.lat,
            lon=draft.lon,
            location_text=draft.location_details,
            resident_id=resident_id,
            channel=draft.channel,
            interaction_ids=(contact.id,),
        ),
        by=cases.Actor(by[:80]),
        at=at,
    )


def _notify_preference(db: Database, case_id: int, draft: ReportDraft, token: str) -> None:
    contact = draft.contact
    if contact is None:
        return
    choice = draft.notify_by
    if choice is None:
        choice = "email" if contact.email else "sms" if contact.phone else "none"
    address = contact.email if choice == "email" else contact.phone if choice in ("sms", "phone") else None
    if not address:
        return
    try:
        notifications.set_preference(db, case_id, choice, address, language=draft.language,
                                     tracking_token=token)
    except ValidationError as exc:  # the edges check addresses first; the report stands anyway
        log.warning("case %d: notification choice %s not recorded: %s", case_id, choice, exc.fields)

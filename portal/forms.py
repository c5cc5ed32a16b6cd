"""The portal's report form → ReportDraft (field names are the form's; see templates/report.html)."""

from __future__ import annotations

from collections.abc import Mapping

from crm_core.photos import Photo, PhotoRejected, too_large
from crm_core.services.cases import MAX_DESCRIPTION
from portal.catalog import Catalog
from portal.fields import FieldErrors
from portal.reports import Contact, ReportDraft


def parse_report_form(
    form: Mapping[str, str], photo_bytes: bytes | None, catalog: Catalog, *, max_photo_bytes: int,
    channel: str = "portal", photo_too_large: bool = False,
) -> ReportDraft:
    errors = FieldErrors()
    code = errors.text("category", form.get("category"), max_len=60, required=True)
    service = catalog.get(code) if code else None
    if code and service is None:
        errors.add("category", "unknown category")
    district = errors.district("district", form.get("district"), required=True)
    address = errors.text("address", form.get("address"), max_len=200)
    details = errors.text("location_details", form.get("location_details"), max_len=500)
    lat, lon = errors.point("lat", form.get("lat"), "lon", form.get("lon"))
    if not (address or lat is not None or details) and not {"address", "lat", "lon"} & errors.fields.keys():
        errors.add("address", "give an address, a point on the map or a description of the place")
    description = errors.text(
        "description", form.get("description"), max_len=MAX_DESCRIPTION, required=True, multiline=True
    )
    photo: Photo | None = None
    if photo_too_large:  # read and dropped on the way in (web.read_upload)
        errors.add("photo", too_large(max_photo_bytes))
    elif photo_bytes:
        try:
            photo = Photo.parse(photo_bytes, max_photo_bytes)
        except PhotoRejected as exc:
            errors.add("photo", str(exc))
    contact: Contact | None = None
    if form.get("anonymous") != "yes":
        name = errors.text("name", form.get("name"), max_len=200)
        email = errors.email("email", form.get("email"))
        phone = errors.phone("phone", form.get("phone"))
        if name or email or phone:
            contact = Contact(name, email, phone)
    notify_by = _notify_choice(errors, form, contact)
    if service is not None and not service.anonymous_allowed and (
        contact is None or not (contact.email or contact.phone)
    ) and not {"email", "phone"} & errors.fields.keys():
        errors.add("email", "contact required")
    errors.raise_if_any()
    assert code is not None and district is not None and description is not None
    return ReportDraft(
        service_code=code, description=description, district=district, address=address, lat=lat, lon=lon,
        location_details=details, contact=contact, photo=photo, channel=channel,
        notify_by=notify_by, language=(form.get("lang") or "pl")[:8],
    )


def _notify_choice(errors: FieldErrors, form: Mapping[str, str], contact: Contact | None) -> str:
    """How the resident wants to be told ("none", "email", "sms", "phone": a call from 19115
    that says the news); the address or number must be given."""
    choice = (form.get("notify_by") or "none").strip()
    if choice not in ("none", "email", "sms", "phone"):
        errors.add("notify_by", "choose how to be told")
        return "none"
    if choice == "email" and (contact is None or not contact.email) and "email" not in errors.fields:
        errors.add("email", "give your e-mail address to be told by e-mail")
    if choice == "sms" and (contact is None or not contact.phone) and "phone" not in errors.fields:
        errors.add("phone", "give your phone number to be told by SMS")
    if choice == "phone" and (contact is None or not contact.phone) and "phone" not in errors.fields:
        errors.add("phone", "give your phone number to be called")
    return choice

"""GeoReport v2 inputs → typed values. Unknown parameters are ignored (clients send e.g.
device_id); known ones are checked strictly and every bad one is reported."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

from crm_core.models import utcnow
from crm_core.photos import Photo, PhotoRejected
from portal.catalog import ANIMAL_AGGRESSIVE, Catalog
from portal.fields import FieldErrors, InvalidInput
from portal.reports import Contact, ReportDraft
from portal.tracking import RequestQuery, case_number

REQUEST_ID = re.compile(r"^19115-\d{4}-\d{6,9}$")
SERVICE_CODE = re.compile(r"^[a-z_]{1,30}\.[a-z_]{1,30}$")
DEFAULT_WINDOW = timedelta(days=90)  # the spec's default when no dates are given
MAX_DESCRIPTION = 4000  # GeoReport v2: "free form text limited to 4,000 characters"


def _list(raw: str | None, name: str, errors: FieldErrors, pattern: re.Pattern[str], limit: int
          ) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(x.strip() for x in (raw or "").split(",") if x.strip()))
    if len(items) > limit:
        errors.add(name, f"at most {limit} values")
        return ()
    bad = [x for x in items if not pattern.match(x)]
    if bad:
        errors.add(name, f"not a valid {name}: {bad[0][:40]!r}")
        return ()
    return items


def parse_query(params: Mapping[str, str], *, page_size_default: int, page_size_max: int) -> RequestQuery:
    errors = FieldErrors()
    ids = _list(params.get("service_request_id"), "service_request_id", errors, REQUEST_ID, 100)
    codes = _list(params.get("service_code"), "service_code", errors, SERVICE_CODE, 50)
    statuses = {s.strip() for s in params.get("status", "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        errors.add("status", "expected open, closed or open,closed")
    start = errors.moment("start_date", params.get("start_date"))
    end = errors.moment("end_date", params.get("end_date"))
    if start is not None and end is not None and start > end:
        errors.add("end_date", "end_date is before start_date")
    page = errors.integer("page", params.get("page"), 1, 100_000, 1)
    page_size = errors.integer("page_size", params.get("page_size"), 1, page_size_max, page_size_default)
    errors.raise_if_any()
    if ids:
        # The spec: with service_request_id, every other filter is ignored.
        return RequestQuery(numbers=tuple(case_number(i) for i in ids), page_size=len(ids))
    if start is None and end is None:
        start = utcnow() - DEFAULT_WINDOW
    return RequestQuery(
        service_codes=codes,
        open_only=None if len(statuses) != 1 else statuses == {"open"},
        start=start,
        end=end,
        page=page,
        page_size=page_size,
    )


def parse_post(params: Mapping[str, str], media: bytes | None, catalog: Catalog, *,
               max_photo_bytes: int) -> ReportDraft:
    errors = FieldErrors()
    code = errors.text("service_code", params.get("service_code"), max_len=60, required=True)
    service = catalog.get(code) if code else None
    if code and service is None:
        errors.add("service_code", f"unknown service_code {code[:60]!r}; see services.json")
    district = errors.district("attribute[district]", params.get("attribute[district]"), required=True)
    details = errors.text("attribute[location_details]", params.get("attribute[location_details]"),
                          max_len=500)
    aggressive = params.get("attribute[animal_aggressive]", "").strip()
    if aggressive and aggressive not in {v.key for v in ANIMAL_AGGRESSIVE.values}:
        errors.add("attribute[animal_aggressive]", "expected yes, no or unknown")
    address = errors.text("address_string", params.get("address_string"), max_len=200)
    if params.get("address_id"):
        errors.add("address_id", "address_id is not supported here; send address_string or lat/long")
    lat, lon = errors.point("lat", params.get("lat"), "long", params.get("long"))
    if lat is None and address is None and not {"lat", "long", "address_string"} & errors.fields.keys():
        errors.add("lat", "a location is required: lat and long, or address_string")
    # Optional in GeoReport v2 unless the service's definition says otherwise; at most the
    # spec's 4,000 characters.
    description = errors.text("description", params.get("description"), max_len=MAX_DESCRIPTION,
                              required=service is not None and service.description_required,
                              multiline=True)
    if params.get("media_url"):
        # Fetching a client-named URL from the server would be a request forgery vector.
        errors.add("media_url", "remote media are not fetched; upload the photo as multipart field 'media'")
    photo: Photo | None = None
    if media:
        try:
            photo = Photo.parse(media, max_photo_bytes)
        except PhotoRejected as exc:
            errors.add("media", str(exc))
    first = errors.text("first_name", params.get("first_name"), max_len=100)
    last = errors.text("last_name", params.get("last_name"), max_len=100)
    email = errors.email("email", params.get("email"))
    phone = errors.phone("phone", params.get("phone"))
    name = " ".join(x for x in (first, last) if x) or None
    contact = Contact(name, email, phone) if (name or email or phone) else None
    if service is not None and not service.anonymous_allowed and not (email or phone) and not {
            "email", "phone"} & errors.fields.keys():
        errors.add("email", "this service needs an email or a phone to answer the resident")
    errors.raise_if_any()
    assert code is not None and service is not None and district is not None
    if description is None:
        # The CRM's case needs words; the service's name says what was reported.
        description = f"{service.name} (zgłoszenie bez opisu)"
    if aggressive:
        extra = f"agresywne: {ANIMAL_AGGRESSIVE_LABELS[aggressive]}"
        details = f"{details}; {extra}" if details else extra
    return ReportDraft(
        service_code=code, description=description, district=district, address=address, lat=lat, lon=lon,
        location_details=details[:500] if details else None, contact=contact, photo=photo, channel="app",
    )


ANIMAL_AGGRESSIVE_LABELS = {v.key: v.name for v in ANIMAL_AGGRESSIVE.values}


def check_token(token: str) -> None:
    if not (1 <= len(token) <= 100 and re.fullmatch(r"[A-Za-z0-9_-]+", token)):
        raise InvalidInput({"token": "not a token"})

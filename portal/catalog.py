"""What a resident may report: one Open311 service per CRM subcategory, grouped by its parent
category, with the attributes each service asks for.

Anonymity: most problems (a pothole, a dump) can be fixed without knowing who reported them;
a complaint or a request for information needs someone to answer, so those categories require
contact details.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_core.warsaw import DISTRICTS

CONTACT_REQUIRED = frozenset({"other.complaint", "other.info"})
# GeoReport v2 makes `description` optional; a complaint or a question is nothing without its
# text, so those services say in their definition (DESCRIPTION_NOTE) that they need one.
DESCRIPTION_REQUIRED = frozenset({"other.complaint", "other.info"})


@dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    """An Open311 service attribute (GeoReport v2 'service definition')."""

    code: str
    datatype: str  # string | number | datetime | text | singlevaluelist | multivaluelist
    required: bool
    description: str
    order: int
    variable: bool = True
    datatype_description: str = ""
    values: tuple[AttributeValue, ...] = ()


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    group: str
    group_code: str
    anonymous_allowed: bool
    keywords: tuple[str, ...] = ()
    description_required: bool = False

    @property
    def description(self) -> str:
        return f"{self.group}: {self.name}"


DISTRICT = Attribute(
    code="district",
    datatype="singlevaluelist",
    required=True,
    description="Dzielnica Warszawy, w której jest problem",
    order=1,
    values=tuple(AttributeValue(d, d) for d in DISTRICTS),
)
LOCATION_DETAILS = Attribute(
    code="location_details",
    datatype="string",
    required=False,
    description="Bliższe określenie miejsca (np. 'przy wejściu do parku')",
    order=2,
    datatype_description="do 500 znaków",
)
ANIMAL_AGGRESSIVE = Attribute(
    code="animal_aggressive",
    datatype="singlevaluelist",
    required=False,
    description="Czy zwierzę jest agresywne?",
    order=3,
    values=(AttributeValue("yes", "tak"), AttributeValue("no", "nie"), AttributeValue("unknown", "nie wiem")),
)
CONTACT_NOTE = Attribute(
    code="contact_required",
    datatype="string",
    required=False,
    description="To zgłoszenie wymaga danych kontaktowych (e-mail lub telefon), aby udzielić odpowiedzi.",
    order=9,
    variable=False,
)

DESCRIPTION_NOTE = Attribute(
    code="description_required",
    datatype="string",
    required=False,
    description="To zgłoszenie wymaga opisu (pole description): bez treści skargi lub pytania "
                "nie da się na nie odpowiedzieć.",
    order=10,
    variable=False,
)


def attributes_for(service: Service) -> tuple[Attribute, ...]:
    found = [DISTRICT, LOCATION_DETAILS]
    if service.group_code == "animals":
        found.append(ANIMAL_AGGRESSIVE)
    if not service.anonymous_allowed:
        found.append(CONTACT_NOTE)
    if service.description_required:
        found.append(DESCRIPTION_NOTE)
    return tuple(found)


@dataclass(frozen=True)
class Catalog:
    services: tuple[Service, ...]

    def get(self, code: str) -> Service | None:
        for s in self.services:
            if s.code == code:
                return s
        return None

    def groups(self) -> list[tuple[str, list[Service]]]:
        out: dict[str, list[Service]] = {}
        for s in self.services:
            out.setdefault(s.group, []).append(s)
        return list(out.items())


def build_catalog(categories: list[tuple[str, str, str | None]]) -> Catalog:
    """From (code, name, parent code) rows as crm_core lists them, parents before children."""
    names = {code: name for code, name, parent in categories if parent is None}
    services = tuple(
        Service(
            code=code,
            name=name,
            group=names.get(parent, parent),
            group_code=parent,
            anonymous_allowed=code not in CONTACT_REQUIRED,
            keywords=tuple(code.split(".")),
            description_required=code in DESCRIPTION_REQUIRED,
        )
        for code, name, parent in categories
        if parent is not None
    )
    return Catalog(services)

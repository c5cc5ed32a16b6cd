"""Reference data of the Warsaw 19115 center: categories, departments, routing, codes, queues,
and the demo accounts (`ckm seed --demo` only). Written for this project; department names are
the city's public units."""

from __future__ import annotations

from crm_core.services.users import DEMO_PASSWORD as DEMO_PASSWORD
from crm_core.warsaw import DISTRICTS

# (code, name, [(sub code, sub name), ...])
CATEGORIES: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("transport", "Komunikacja miejska", [
        ("transport.delay", "Opóźnienia i wypadnięte kursy"),
        ("transport.stop", "Przystanek: wiata, rozkład, tablica"),
        ("transport.vehicle", "Pojazd: czystość, ogrzewanie, klimatyzacja"),
        ("transport.ticket_machine", "Biletomat nie działa"),
        ("transport.driver", "Zachowanie prowadzącego pojazd"),
    ]),
    ("roads", "Drogi i chodniki", [
        ("roads.pothole", "Dziura w jezdni"),
        ("roads.pavement", "Uszkodzony chodnik lub krawężnik"),
        ("roads.signs", "Znaki drogowe i sygnalizacja świetlna"),
        ("roads.lighting", "Oświetlenie uliczne"),
        ("roads.winter", "Odśnieżanie i śliskość"),
        ("roads.bike", "Drogi rowerowe"),
    ]),
    ("waste", "Czystość i odpady", [
        ("waste.illegal_dump", "Dzikie wysypisko"),
        ("waste.collection", "Nieodebrane odpady z posesji"),
        ("waste.bins", "Przepełniony kosz uliczny"),
        ("waste.graffiti", "Graffiti i zniszczone elewacje"),
        ("waste.street_cleaning", "Brudna ulica lub plac"),
    ]),
    ("animals", "Zwierzęta", [
        ("animals.stray", "Bezdomny pies lub kot"),
        ("animals.injured", "Ranne zwierzę"),
        ("animals.dead", "Martwe zwierzę do usunięcia"),
        ("animals.wild", "Dzikie zwierzę w mieście (dzik, lis, sarna)"),
        ("animals.birds", "Ptaki: gniazda, ranne ptaki"),
    ]),
    ("greenery", "Zieleń", [
        ("greenery.tree", "Drzewo złamane lub zagrażające"),
        ("greenery.mowing", "Koszenie trawy"),
        ("greenery.park", "Zniszczenia w parku lub na skwerze"),
        ("greenery.playground", "Plac zabaw"),
    ]),
    ("noise", "Hałas i porządek publiczny", [
        ("noise.night", "Zakłócanie ciszy nocnej"),
        ("noise.construction", "Hałas z budowy"),
        ("noise.parking", "Nieprawidłowe parkowanie"),
        ("noise.abandoned_car", "Porzucony pojazd"),
    ]),
    ("other", "Inne sprawy", [
        ("other.info", "Prośba o informację"),
        ("other.complaint", "Skarga na działanie urzędu"),
        ("other.misc", "Pozostałe"),
    ]),
]  # fmt: skip

# (code, name, kind, district, e-mail)
DEPARTMENTS: list[tuple[str, str, str, str | None, str | None]] = [
    ("ZTM", "Zarząd Transportu Miejskiego", "city_unit", None, "zgloszenia@ztm.example"),
    ("ZDM", "Zarząd Dróg Miejskich", "city_unit", None, "zgloszenia@zdm.example"),
    ("SM", "Straż Miejska m.st. Warszawy", "city_guard", None, "dyzur@sm.example"),
    ("SM-EKO", "Ekopatrol Straży Miejskiej", "city_guard", None, "ekopatrol@sm.example"),
    ("BGO", "Biuro Gospodarki Odpadami", "city_unit", None, "odpady@um.example"),
    ("ZZW", "Zarząd Zieleni m.st. Warszawy", "city_unit", None, "zielen@zzw.example"),
    ("LMW", "Lasy Miejskie – Warszawa", "city_unit", None, "dyzur@lasy.example"),
    ("SCHR", "Schronisko dla Bezdomnych Zwierząt", "city_unit", None, "schronisko@um.example"),
    ("CKM", "Centrum Kontaktu Mieszkańców 19115", "contact_center", None, "19115@um.example"),
]


def district_code(district: str) -> str:
    folded = district.upper().replace("Ł", "L")
    for a, b in zip("ĄĆĘŃÓŚŹŻ", "ACENOSZZ", strict=True):
        folded = folded.replace(a, b)
    return "UD-" + folded.replace(" ", "-")


for _district in DISTRICTS:
    DEPARTMENTS.append(
        (district_code(_district), f"Urząd Dzielnicy {_district}", "district_office", _district,
         None)
    )  # fmt: skip

# City-wide defaults: category or subcategory → department code.
ROUTING: dict[str, str] = {
    "transport": "ZTM",
    "roads": "ZDM",
    "waste": "BGO",
    "waste.graffiti": "SM",
    "animals": "SM-EKO",
    "animals.wild": "LMW",
    "greenery": "ZZW",
    "noise": "SM",
    "other": "CKM",
}
# Handled by each district office in its own district (local streets, district green areas).
DISTRICT_ROUTED = ("waste.bins", "waste.street_cleaning", "greenery.mowing", "greenery.playground",
                   "noise.construction")  # fmt: skip
# Outer districts keep their own local roads and pavements.
OUTER_DISTRICTS = ("Wawer", "Wesoła", "Rembertów", "Białołęka", "Ursus", "Wilanów")
OUTER_ROUTED = ("roads.pavement", "roads.pothole")

DISPOSITIONS: list[tuple[str, str, bool]] = [
    ("info_given", "Udzielono informacji", False),
    ("case_created", "Przyjęto zgłoszenie", True),
    ("case_status", "Sprawdzono status zgłoszenia", False),
    ("case_added_to_existing", "Dopisano do istniejącego zgłoszenia", True),
    ("transferred", "Przełączono do jednostki", False),
    ("callback", "Umówiono oddzwonienie", False),
    ("wrong_number", "Pomyłka", False),
    ("silent_call", "Cisza na linii", False),
    ("complaint", "Skarga przyjęta", True),
    ("abusive", "Rozmowa przerwana – niewłaściwe zachowanie", False),
]

# (code, label, paid, max minutes)
PAUSE_REASONS: list[tuple[str, str, bool, int | None]] = [
    ("break", "Przerwa", True, 15),
    ("meal", "Posiłek", False, 30),
    ("after_call", "Dokończenie sprawy po rozmowie", True, 10),
    ("training", "Szkolenie", True, None),
    ("coaching", "Rozmowa z kierownikiem", True, None),
    ("technical", "Problem techniczny", True, None),
]

# Demo accounts, created by `ckm seed --demo` only, all with DEMO_PASSWORD (public).
# (username, full name, role, extension)
USERS: list[tuple[str, str, str, str | None]] = [
    ("konsultant1", "Anna Konsultantka", "consultant", "1001"),
    ("konsultant2", "Piotr Konsultant", "consultant", "1002"),
    ("konsultant3", "Zofia Konsultantka", "consultant", "1003"),
    ("kierownik", "Marek Kierownik", "supervisor", "1010"),
    ("autor", "Ewa Autorka Scenariuszy", "ivr_author", None),
    ("admin", "Administrator Centrum", "admin", None),
    ("zdm_pracownik", "Pracownik ZDM", "department_staff", None),
    ("bgo_pracownik", "Pracownik BGO (odpady)", "department_staff", None),
]

# Demo department staff: username → [(department code, is head)]
DEPARTMENT_MEMBERS: dict[str, list[tuple[str, bool]]] = {
    "zdm_pracownik": [("ZDM", False)],
    "bgo_pracownik": [("BGO", False)],
}

# Deadlines (SLA): category or subcategory → working hours from forwarding (Mon–Fri 8–16,
# Polish holidays off); a subcategory's rule overrides its category's. Reference data.
SLA_HOURS: dict[str, int] = {
    "transport": 40, "transport.ticket_machine": 16,
    "roads": 40, "roads.pothole": 24, "roads.signs": 8, "roads.lighting": 24, "roads.winter": 4,
    "waste": 40, "waste.illegal_dump": 80, "waste.bins": 16, "waste.graffiti": 80,
    "animals": 8, "animals.injured": 2, "animals.dead": 8, "animals.wild": 4,
    "greenery": 80, "greenery.tree": 8,
    "noise": 8, "noise.construction": 24, "noise.abandoned_car": 80,
    "other": 80,
}  # fmt: skip
# District overrides: (category, district) → working hours.
SLA_DISTRICT_HOURS: dict[tuple[str, str], int] = {
    ("waste.bins", "Śródmieście"): 8,  # the city centre's bins are emptied daily
    ("roads.winter", "Śródmieście"): 2,
}

# (name, display name, skills, overflow to, overflow after s, callback allowed, priority)
QUEUES: list[tuple[str, str, tuple[str, ...], str | None, int | None, bool, int]] = [
    ("ogolna", "Sprawy ogólne", (), None, None, True, 0),
    ("transport", "Komunikacja miejska", ("transport",), "ogolna", 90, True, 1),
    ("drogi", "Drogi i chodniki", ("roads",), "ogolna", 90, True, 1),
    ("czystosc", "Czystość i odpady", ("waste",), "ogolna", 90, True, 1),
    ("zwierzeta", "Zwierzęta", ("animals",), "ogolna", 60, False, 2),
    ("zielen", "Zieleń", ("greenery",), "ogolna", 90, True, 1),
    ("halas", "Hałas i porządek", ("noise",), "ogolna", 60, False, 2),
    ("informacja", "Informacja o usługach miasta", (), "ogolna", 120, True, 0),
]

# Demo accounts' queues and skills: username → {queue: penalty}; skills as (skill, level)
MEMBERS: dict[str, dict[str, int]] = {
    "konsultant1": {"ogolna": 0, "transport": 0, "drogi": 1, "informacja": 0},
    "konsultant2": {"ogolna": 0, "czystosc": 0, "zwierzeta": 0, "zielen": 1},
    "konsultant3": {"ogolna": 0, "halas": 0, "drogi": 0, "zielen": 0, "informacja": 1},
    "kierownik": {"ogolna": 5},
}
SKILLS: dict[str, dict[str, int]] = {
    "konsultant1": {"transport": 5, "roads": 3, "pl": 5, "en": 4},
    "konsultant2": {"waste": 5, "animals": 4, "greenery": 2, "pl": 5, "uk": 4},
    "konsultant3": {"noise": 4, "roads": 4, "greenery": 4, "pl": 5},
    "kierownik": {"transport": 3, "roads": 3, "waste": 3, "animals": 3, "greenery": 3,
                  "noise": 3, "pl": 5, "en": 3},
}  # fmt: skip

"""Warsaw facts the CRM validates against: the 18 districts (dzielnice) and the city's extent."""

from __future__ import annotations

DISTRICTS = (
    "Bemowo", "Białołęka", "Bielany", "Mokotów", "Ochota", "Praga-Południe", "Praga-Północ",
    "Rembertów", "Śródmieście", "Targówek", "Ursus", "Ursynów", "Wawer", "Wesoła", "Wilanów",
    "Włochy", "Wola", "Żoliborz",
)  # fmt: skip

# A generous box around the city: a point outside it is a typo, not a Warsaw street.
LAT_RANGE = (52.0, 52.5)
LON_RANGE = (20.7, 21.4)

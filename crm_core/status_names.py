"""A case's status in the words residents and staff read, one table for the portal's tracking
page, the desk and the department workspace (so they never name a status differently)."""

from __future__ import annotations

STATUS_NAMES: dict[str, dict[str, str]] = {
    "new": {"pl": "Przyjęte", "en": "Received"},
    "forwarded": {"pl": "Przekazane do jednostki", "en": "Forwarded to the department"},
    "in_progress": {"pl": "W realizacji", "en": "In progress"},
    "resolved": {"pl": "Załatwione", "en": "Resolved"},
    "rejected": {"pl": "Odrzucone", "en": "Rejected"},
    "closed": {"pl": "Zamknięte", "en": "Closed"},
}

"""The portal's settings, derived from the center's Settings (overrides in `settings.extra["portal"]`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ground.settings import Settings


@dataclass(frozen=True)
class PortalConfig:
    # Outside the package (the web root): photos are served only through a handler that
    # checks the name, never as static files.
    media_dir: Path
    max_photo_bytes: int = 5 * 1024 * 1024
    # Token buckets: any request per IP, report submissions per IP (pages and API).
    ip_requests_per_min: int = 300
    ip_submissions_per_min: int = 10
    page_size_default: int = 50
    page_size_max: int = 200
    jurisdiction_id: str = "um.warszawa.pl"
    # The GeoReport v2 discovery document (/open311/discovery.json): who answers questions
    # about the API and how a client gets a key.
    api_contact: str = "Warszawa 19115 — Miejskie Centrum Kontaktu, telefon 19115"
    api_key_service: str = ("Klucz API wydaje administrator centrum 19115 (ckm open311 keys create); "
                            "poproś o niego przez kontakt podany wyżej.")
    # "Call 19115 from your browser": the shared inbound-only SIP identity. The socket URL
    # follows the page (ws://<host>:<http port>/ws, wss://<host>:<tls port>/ws on https)
    # unless webcall_ws_url (or the sip_ws_url setting) names one.
    webcall_ws_url: str = ""
    asterisk_http_port: int = 8088
    asterisk_tls_port: int = 8089
    webcall_user: str = "webcall"
    webcall_password: str = ""
    webcall_domain: str = "127.0.0.1"
    # What the browser dials; a test session dials `19115-<its app>` (see [inbound-web]).
    webcall_number: str = "19115"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> PortalConfig:
        from ground.phones import derived_secret

        base = cls(
            media_dir=settings.data_dir / "portal-media",
            webcall_ws_url=settings.sip_ws_url,
            asterisk_http_port=settings.asterisk_http_port,
            asterisk_tls_port=settings.asterisk_tls_port,
            webcall_password=derived_secret(settings, "sip:webcall"),
            webcall_domain=settings.asterisk_http_host,
        )
        extra = settings.extra.get("portal", {})
        known = {f.name for f in dataclasses.fields(cls)}
        chosen = {k: v for k, v in {**extra, **overrides}.items() if k in known}
        if "media_dir" in chosen:
            chosen["media_dir"] = Path(chosen["media_dir"])
        return dataclasses.replace(base, **chosen)

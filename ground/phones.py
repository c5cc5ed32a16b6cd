"""The center's SIP accounts as the settings define them: which extensions are consultants'
phones (browser softphones, desk SIP phones), their passwords, where phones register.

Rules:
- Every password is derived from the install's one stored secret (the generated ARI password),
  so Asterisk's configuration (pbx.asterisk_config) and the pages that hand a phone its
  credentials (agent_desktop, portal) agree without sharing a file, and neither web package
  needs the PBX package to know them.
- An extension is one kind of phone: a number in both ranges is a settings error.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ground.settings import Settings, SettingsError


@dataclass(frozen=True)
class Softphone:
    """A consultant's SIP user: `kind` "browser" (WebRTC over /ws) or "desk" (a SIP phone)."""

    user: str
    password: str
    label: str
    kind: str = "browser"


def derived_secret(settings: Settings, purpose: str) -> str:
    """A per-install secret for `purpose`, derived from the generated ARI password.

    Derivation keeps one secret to store while giving every SIP user its own password.
    """
    digest = hmac.new(settings.ari_password.encode(), purpose.encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def extensions(spec: str, setting: str) -> list[str]:
    """The extensions of a range setting: "1001-1020", "1001,1005" or both mixed."""
    users: list[str] = []
    for part in filter(None, (p.strip() for p in spec.strip().split(","))):
        if "-" in part:
            lo, _, hi = part.partition("-")
            if not (lo.isdigit() and hi.isdigit()) or int(lo) > int(hi):
                raise SettingsError(f"setting {setting}: bad range {part!r}")
            users.extend(str(n) for n in range(int(lo), int(hi) + 1))
        elif part.isdigit():
            users.append(part)
        else:
            raise SettingsError(f"setting {setting}: {part!r} is not an extension")
    return users


def softphone_users(settings: Settings) -> list[str]:
    return extensions(settings.softphone_extensions, "softphone_extensions")


def desk_phone_users(settings: Settings) -> list[str]:
    users = extensions(settings.desk_phone_extensions, "desk_phone_extensions")
    both = sorted(set(users) & set(softphone_users(settings)), key=int)
    if both:
        raise SettingsError(f"setting desk_phone_extensions: {', '.join(both[:5])} also in "
                            "softphone_extensions (an extension is one kind of phone)")
    return users


def sip_password(settings: Settings, user: str) -> str:
    """The SIP password of a consultant's extension, browser softphone or desk phone alike."""
    return derived_secret(settings, f"sip:{user}")


def softphones(settings: Settings) -> list[Softphone]:
    return [Softphone(user=u, password=sip_password(settings, u), label=f"Konsultant {u}")
            for u in softphone_users(settings)]


def desk_phones(settings: Settings) -> list[Softphone]:
    return [Softphone(user=u, password=sip_password(settings, u), label=f"Konsultant {u}",
                      kind="desk")
            for u in desk_phone_users(settings)]


def phone_of(settings: Settings, extension: str | None) -> Softphone | None:
    """The consultant phone behind a CRM user's extension, whichever kind it is; None if the
    extension is in neither range (the user has no phone of ours)."""
    if not extension:
        return None
    for phone in (*softphones(settings), *desk_phones(settings)):
        if phone.user == extension:
            return phone
    return None


def registrar(settings: Settings) -> str:
    """Where a desk phone registers: the PJSIP UDP transport."""
    return f"{settings.sip_bind}:{settings.sip_port}"


def tls_registrar(settings: Settings) -> str | None:
    """Where a desk phone registers over TLS; None without a certificate (no TLS transport)."""
    return f"{settings.sip_bind}:{settings.sip_tls_port}" if settings.tls else None

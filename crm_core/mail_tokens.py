"""Reply addresses that thread an e-mail answer back onto its case.

Rules:
- A message ckm sends that may be answered by e-mail (a case forwarded to a department by
  e-mail; a department's question to a resident) carries a Reply-To of the form
  `<local>+<tag>@<domain>`, where `<local>@<domain>` is the center's reply address and the tag
  is `<who>-<case id>-<mac>`: `who` is `d` (the department's answer) or `r` (the resident's),
  `mac` the first 16 hex digits of HMAC-SHA256(secret, "<who>-<case id>").
- A tag is accepted only when its MAC is the one computed here (compared in constant time):
  a case number changed by hand, a tag from another install or for the other party is refused.
  Refused or missing tags send the message to quarantine (crm_core.forwarding.inbound).
- The secret is per install (derived from one ckm already keeps, see `secret_from`); nothing
  here touches the network, the database or the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import parseaddr

WHO = ("d", "r")  # department, resident
MAC_HEX = 16
_TAG = re.compile(r"^([dr])-(\d{1,12})-([0-9a-f]{16})$")


@dataclass(frozen=True)
class ReplyTag:
    who: str  # d | r
    case_id: int


def secret_from(install_secret: str) -> bytes:
    """The reply tags' key, derived from a per-install secret (the ARI password) for this one
    purpose only."""
    return hmac.new(install_secret.encode(), b"ckm mail reply tags", hashlib.sha256).digest()


def _mac(secret: bytes, who: str, case_id: int) -> str:
    return hmac.new(secret, f"{who}-{case_id}".encode(), hashlib.sha256).hexdigest()[:MAC_HEX]


def tag(secret: bytes, who: str, case_id: int) -> str:
    if who not in WHO:
        raise ValueError(f"who is one of {WHO}, got {who!r}")
    return f"{who}-{case_id}-{_mac(secret, who, case_id)}"


def reply_address(base: str, secret: bytes, who: str, case_id: int) -> str:
    """`19115@um.example` → `19115+d-42-<mac>@um.example`."""
    address = parseaddr(base)[1] or base
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        raise ValueError(f"the reply address {base!r} is not an e-mail address")
    return f"{local.split('+', 1)[0]}+{tag(secret, who, case_id)}@{domain}"


def read_tag(secret: bytes, address: str) -> ReplyTag | str | None:
    """The tag of a recipient address: a `ReplyTag` when genuine, None when the address has no
    tag, or a short reason (text) when it has one that is not valid."""
    local = (parseaddr(address)[1] or address).rpartition("@")[0]
    if "+" not in local:
        return None
    raw = local.split("+", 1)[1].lower()
    found = _TAG.match(raw)
    if found is None:
        return f"malformed case tag {raw[:40]!r}"
    who, case_id = found.group(1), int(found.group(2))
    if not hmac.compare_digest(found.group(3), _mac(secret, who, case_id)):
        return f"forged or foreign case tag for case {case_id}"
    return ReplyTag(who, case_id)

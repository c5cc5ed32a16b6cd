"""The pure cores of forwarding: case tags in reply addresses, reading a department's reply,
mapping an Open311 status back, service code maps."""

from __future__ import annotations

import pytest

from crm_core import mail_tokens
from crm_core.forwarding import rules

SECRET = mail_tokens.secret_from("install A")


def test_a_tag_is_read_back_only_when_genuine() -> None:
    address = mail_tokens.reply_address("Warszawa 19115 <19115@um.test>", SECRET, "d", 42)
    assert address.startswith("19115+d-42-") and address.endswith("@um.test")
    assert mail_tokens.read_tag(SECRET, address) == mail_tokens.ReplyTag("d", 42)
    assert mail_tokens.read_tag(SECRET, f"Someone <{address.upper()}>") == mail_tokens.ReplyTag("d", 42)
    assert mail_tokens.read_tag(SECRET, "19115@um.test") is None
    mac = address.split("@")[0].rsplit("-", 1)[1]
    for bad in (f"19115+d-43-{mac}@um.test", f"19115+r-42-{mac}@um.test", "19115+d-42-zz@um.test"):
        assert isinstance(mail_tokens.read_tag(SECRET, bad), str), bad
    other = mail_tokens.reply_address("19115@um.test", mail_tokens.secret_from("install B"), "d", 42)
    assert isinstance(mail_tokens.read_tag(SECRET, other), str)
    with pytest.raises(ValueError):
        mail_tokens.reply_address("no address", SECRET, "d", 1)


@pytest.mark.parametrize(("body", "kind", "text"), [
    ("ROZWIĄZANE: Załatano.\n\n> cytat", "resolved", "Załatano."),
    ("rozwiazane:\nZałatano\nw czwartek.", "resolved", "Załatano\nw czwartek."),
    ("Resolved: patched", "resolved", "patched"),
    ("ODRZUCONE: To teren prywatny.", "rejected", "To teren prywatny."),
    ("Rejected:   not ours  ", "rejected", "not ours"),
    ("ROZWIĄZANE:", "note", "ROZWIĄZANE:"),  # an empty answer never reaches the resident
    ("Uwaga: ekipa w czwartek", "note", "Uwaga: ekipa w czwartek"),
    ("Będziemy jutro.\nOn Mon, 7 Dec 2026 19115 wrote:\n> Numer", "note", "Będziemy jutro."),
    ("Będziemy jutro.\n-- \nJan, ZDM", "note", "Będziemy jutro."),
])
def test_a_departments_reply_is_read_from_its_first_line(body: str, kind: str, text: str) -> None:
    assert rules.read_answer(body) == rules.Answer(kind, text)


def test_an_empty_or_all_quoted_reply_says_nothing() -> None:
    assert rules.read_answer("") is None
    assert rules.read_answer("> only\n> quoted") is None


def test_open311_status_maps_back() -> None:
    change = rules.remote_change
    assert change("closed", "Załatano", None) == rules.RemoteChange("resolve", "Załatano")
    assert change("CLOSED", None, None) == rules.RemoteChange("resolve", rules.CLOSED_WITHOUT_NOTES)
    assert change("open", "Ekipa w drodze", None) == rules.RemoteChange("note", "Ekipa w drodze")
    assert change("open", "Ekipa w drodze", "Ekipa w drodze") is None
    assert change("open", None, "x") is None
    assert change("unknown", "x", None) is None
    # GeoReport v2 has only open/closed: a rejection is told by the extended attributes…
    assert change("closed", "Teren prywatny", None, "REJECTED") == \
        rules.RemoteChange("reject", "Teren prywatny")
    assert change("closed", None, None, "rejected") == \
        rules.RemoteChange("reject", rules.REJECTED_WITHOUT_NOTES)
    assert change("closed", "Naprawione", None, "RESOLVED") == rules.RemoteChange("resolve", "Naprawione")
    # …or, from a server without them, by the e-mail keywords at the start of the notes.
    assert change("closed", "Odrzucone: teren kolejowy, nie miejski", None) == \
        rules.RemoteChange("reject", "teren kolejowy, nie miejski")
    assert change("closed", "ROZWIĄZANE: wymieniono lampę", None) == \
        rules.RemoteChange("resolve", "wymieniono lampę")
    assert change("closed", "Uwaga: naprawiono", None) == rules.RemoteChange("resolve", "Uwaga: naprawiono")
    # The server's own status wins over words in the notes.
    assert change("closed", "ODRZUCONE: nie", None, "RESOLVED") == \
        rules.RemoteChange("resolve", "ODRZUCONE: nie")


def test_service_codes_are_mapped_subcategory_first() -> None:
    mapping = rules.parse_code_map("roads.pothole=POT, roads=RD")
    assert rules.their_code(mapping, "roads.pothole", "roads") == "POT"
    assert rules.their_code(mapping, None, "roads") == "RD"
    assert rules.their_code(mapping, "waste.bulky", "waste") == "waste.bulky"
    with pytest.raises(ValueError, match="'oops' is not ours=theirs"):
        rules.parse_code_map("a=b,oops")
    assert [rules.backoff_s(n, base=30, cap=3600) for n in (1, 2, 3, 10)] == [30, 60, 120, 3600]
    assert rules.is_permanent_http(403) and not rules.is_permanent_http(429)
    assert not rules.is_permanent_http(503)

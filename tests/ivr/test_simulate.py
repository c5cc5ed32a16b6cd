"""`ckm ivr simulate` runs the real interpreter over the 19115 script and prints the dialogue."""

from __future__ import annotations

import pytest

from ckm.cli import main
from ivr import simulate
from ivr.commands import Enqueue, Hangup, OfferCallback
from ivr.lookup import StaticLookup
from ivr.model import Script

from .conftest import SCRIPT_19115, WARSAW, WEEKDAY_MORNING


def run(script: Script, *inputs: str, port: StaticLookup | None = None,
        at=WEEKDAY_MORNING, lang: str | None = None) -> simulate.Outcome:  # type: ignore[no-untyped-def]
    return simulate.run(script, inputs, "+48600100200", at, port or StaticLookup(), lang)


@pytest.mark.parametrize(("keys", "queue", "category"), [
    ("1", "transport", "transport"), ("2", "drogi", "drogi"), ("3", "czystosc", "czystosc"),
    ("4", "zwierzeta", "zwierzeta"), ("5", "zielen", "zielen"), ("6", "halas", "halas"),
    ("7", "ogolna", "inne"),
])
def test_every_category_reaches_its_queue_by_keys(script_19115: Script, keys: str, queue: str,
                                                  category: str) -> None:
    final = run(script_19115, "1", "1", keys).final
    assert isinstance(final, Enqueue)
    assert (final.queue, final.category, final.skills) == (
        queue, category, (queue,) if queue != "ogolna" else ())


@pytest.mark.parametrize(("said", "queue"), [
    ("śmieci", "czystosc"), ("tramwaj", "transport"), ("dziura w jezdni", "drogi"),
    ("pies", "zwierzeta"), ("drzewa", "zielen"), ("głośno", "halas"), ("inne", "ogolna"),
])
def test_every_category_reaches_its_queue_by_voice(script_19115: Script, said: str,
                                                   queue: str) -> None:
    final = run(script_19115, "say:polski", "say:zgłoszenie", f"say:{said}").final
    assert isinstance(final, Enqueue) and final.queue == queue


def test_information_and_consultant(script_19115: Script) -> None:
    info = run(script_19115, "1", "2").final
    assert isinstance(info, Enqueue) and info.queue == "informacja"
    consultant = run(script_19115, "1", "4").final
    assert isinstance(consultant, Enqueue) and consultant.queue == "ogolna"


def test_zero_from_every_menu_reaches_a_consultant(script_19115: Script) -> None:
    for keys in (["0"], ["1", "0"], ["1", "1", "0"]):
        final = run(script_19115, *keys).final
        assert isinstance(final, Enqueue) and final.queue == "ogolna", keys


def test_a_silent_caller_is_never_dropped(script_19115: Script) -> None:
    outcome = run(script_19115)
    assert isinstance(outcome.final, Enqueue) and outcome.final.queue == "ogolna"
    assert outcome.lines[-1].startswith("ACD  enqueue to 'ogolna'")


def test_status_of_a_report(script_19115: Script) -> None:
    port = StaticLookup(cases={"123": "in_progress"})
    outcome = run(script_19115, "1", "3", "123#", "9", port=port)
    assert "IVR [pl] Zgłoszenie jest w realizacji." in outcome.lines
    assert isinstance(outcome.final, Hangup)
    unknown = run(script_19115, "1", "3", "555#", "2", "4", port=port)
    assert "IVR [pl] Nie znaleźliśmy zgłoszenia o tym numerze." in unknown.lines
    down = run(script_19115, "1", "3", "123#", port=StaticLookup(failing=True))
    assert isinstance(down.final, Enqueue) and down.final.queue == "ogolna"


def test_known_caller_hears_open_reports_and_can_ask_status(script_19115: Script) -> None:
    port = StaticLookup(callers={"+48600100200": 3}, cases={"77": "resolved"})
    outcome = run(script_19115, "1", "1", "77#", "9", port=port)
    assert "IVR [pl] Liczba Twoich otwartych zgłoszeń: 3." in outcome.lines
    assert "IVR [pl] Zgłoszenie zostało zrealizowane." in outcome.lines
    many = run(script_19115, "1", port=StaticLookup(callers={"+48600100200": 12}))
    assert "IVR [pl] Masz więcej niż dziewięć otwartych zgłoszeń." in many.lines


def test_english_and_ukrainian_branches(script_19115: Script) -> None:
    en = run(script_19115, "2", "1", "say:noise")
    assert any(line.startswith("IVR [en] To report a problem") for line in en.lines)
    assert isinstance(en.final, Enqueue) and (en.final.queue, en.final.language) == ("halas", "en")
    uk = run(script_19115, "3", "say:інформація")
    assert any(line.startswith("IVR [uk] Щоб повідомити") for line in uk.lines)
    assert isinstance(uk.final, Enqueue) and (uk.final.queue, uk.final.language) == (
        "informacja", "uk")


def test_night_consultant_call_offers_a_callback(script_19115: Script) -> None:
    from datetime import datetime

    night = datetime(2026, 11, 27, 23, 0, tzinfo=WARSAW)
    outcome = run(script_19115, "1", "4", "1", at=night)
    assert any(isinstance(c, OfferCallback) for c in outcome.commands)
    assert isinstance(outcome.final, Hangup)


def test_cli_prints_the_dialogue(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ivr", "simulate", str(SCRIPT_19115), "--input", "1", "--input", "1",
                 "--input", "say:śmieci", "--caller", "+48600100200",
                 "--at", "2026-11-27T10:00"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == ("CALL from +48600100200 at 2026-11-27T10:00+01:00 → script 19115 version "
                      "2026-12-01.1")
    assert "CALLER says 'śmieci' (confidence 0.90)" in out
    assert "  ⇒ category_menu: speech 'śmieci' conf 0.90 → q_cleanliness" in out
    assert out[-1] == ("ACD  enqueue to 'czystosc' (skills czystosc, priority 5, category "
                       "czystosc, language pl)")


def test_cli_rejects_a_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "simulate", str(SCRIPT_19115), "--input", "dance"]) == 2
    assert "expected keys (0-9*#), say:TEXT[@CONF], silence or hangup" in capsys.readouterr().err


def test_a_withheld_caller_at_night_types_the_number_to_be_called_back(
        script_19115: Script) -> None:
    from datetime import datetime

    night = datetime(2026, 11, 27, 23, 0, tzinfo=WARSAW)
    outcome = simulate.run(script_19115, ["1", "4", "48600100299#", "1"], "anonymous", night,
                           StaticLookup())
    offers = [c for c in outcome.commands if isinstance(c, OfferCallback)]
    assert [(o.queue, o.number) for o in offers] == [("ogolna", "48600100299")]
    # A caller with a number is not asked for one.
    known = run(script_19115, "1", "4", "1", at=night)
    assert [o.number for o in known.commands if isinstance(o, OfferCallback)] == ["+48600100200"]

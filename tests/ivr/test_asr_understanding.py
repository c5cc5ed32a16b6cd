"""The pure parts of understanding speech (issue #13): grammars grouped by choice, key words
found in any inflected form, the closed-set decision and calibrated confidence. No model."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ivr import interpreter, validator
from ivr.asr.calibration import TARGETS, Calibration, fit, knots
from ivr.asr.closed_set import Evidence, decide
from ivr.asr.grammar import Grammar
from ivr.asr.keywords import Spotted, collisions, key_words, spot
from ivr.commands import Listen
from ivr.events import CallStarted, Digit, LookupResult, PromptFinished
from ivr.model import Script

from .conftest import WEEKDAY_MORNING

CATEGORIES = [["komunikacja", "autobus", "tramwaj"], ["drogi", "chodniki", "dziura w jezdni"],
              ["odpady", "śmieci"], ["psy i koty", "pies", "kot"], ["zieleń", "drzewa", "park"],
              ["hałas", "głośno"]]


def _winner(heard: str, choices: list[list[str]] = CATEGORIES, language: str = "pl") -> int:
    scores = spot(heard, choices, language)
    best = max(range(len(scores)), key=lambda i: scores[i].score)
    assert scores[best].score >= 0.9, scores
    return best


@pytest.mark.parametrize(("heard", "choice"), [
    ("Dzwonię, bo tramwaj stoi na rondzie od godziny", 0),
    ("w tramwaju zepsuło się ogrzewanie", 0),
    ("jechałam autobusem", 0),
    ("idąc chodnikiem potknąłem się", 1),
    ("ktoś połamał drzewa w parku", 4),
    ("pod blokiem leżą śmieci", 2),
    ("sąsiad nie dba o swoim kotem", 3),
    ("co noc jest tu głośno", 5),
    ("ciągły hałasu z budowy", 5),
    ("podlokiem jest pelno smieci", 2),  # Whisper dropped the diacritics
])
def test_key_words_are_found_inflected_inside_sentences(heard: str, choice: int) -> None:
    assert _winner(heard) == choice


def test_a_longer_phrase_heard_whole_beats_its_own_key_word() -> None:
    main = [["problem", "zgłoszenie"], ["informacja"], ["status", "status zgłoszenia"]]
    scores = spot("chcę poznać status zgłoszenia", main, "pl")
    assert scores[2].score > scores[0].score >= 1.0
    assert scores[2].phrase == "status zgłoszenia"


def test_nothing_is_spotted_in_unrelated_speech() -> None:
    assert all(s.score == 0.0 for s in spot("jaka będzie jutro pogoda", CATEGORIES, "pl"))
    assert all(s.score == 0.0 for s in spot("", CATEGORIES, "pl"))


def test_key_words_drop_stop_words_and_lemmatise() -> None:
    assert key_words("psy i koty", "pl") == ("pies", "kot")
    assert key_words("tak", "pl") == ("tak",)  # a phrase of stop words is its own key word
    assert key_words("a stray dog", "en") == ("stray", "dog")


def test_english_and_ukrainian_key_words() -> None:
    en = [["public transport", "bus", "tram"], ["roads", "pothole"], ["animals", "dog"]]
    assert _winner("my buses never come", en, "en") == 0
    assert _winner("two stray dogs", en, "en") == 2
    uk = [["транспорт", "автобус", "трамвай"], ["дороги", "яма"], ["тварини", "собака"]]
    assert _winner("бездомна собаку бачили", uk, "uk") == 2


def test_collisions_after_lemmatisation() -> None:
    assert collisions([["hałas"], ["hałasu", "inne"]], "pl") == [("hałasu", 1, "hałas", 0)]
    assert collisions([["pies"], ["psy"]], "pl") == [("psy", 1, "pies", 0)]
    assert collisions([["status"], ["status zgłoszenia"]], "pl") == []


def test_the_validator_flags_a_phrase_that_is_another_choices_in_another_form(
        tmp_path: object) -> None:
    from pathlib import Path

    src = Path(validator.__file__).parent / "scripts" / "19115.yaml"
    text = src.read_text(encoding="utf-8").replace(
        "phrases: {pl: [hałas, głośno, głośna muzyka]",
        "phrases: {pl: [hałas, głośno, głośna muzyka, drzewem]")
    assert isinstance(tmp_path, Path)
    bad = tmp_path / "19115.yaml"
    bad.write_text(text, encoding="utf-8")
    report = validator.check_file(str(bad))
    messages = [p.message for p in report.problems]
    assert messages == ["category_menu: phrase 'drzewem' (pl) of 'q_noise' has the same key "
                        "words as 'drzewa' of 'q_greenery'"], messages
    assert validator.check_file(str(src)).problems == ()


# --- grammars


def test_a_grammar_is_its_phrases_and_knows_its_choices() -> None:
    g = Grammar([["status", "status sprawy"], ["inny temat", "status"]])
    assert g == ("status", "status sprawy", "inny temat")
    assert g.choices == (("status", "status sprawy"), ("inny temat", "status"))
    assert pickle.loads(pickle.dumps(g)).choices == g.choices
    assert Grammar.of(["a", "b", "a"]).choices == (("a",), ("b",))  # old callers: one each
    assert Grammar.of(g) is g


def test_the_interpreter_listens_with_the_menus_choices(script_19115: Script) -> None:
    state, cmds = interpreter.start(script_19115, CallStarted("+48600100200", WEEKDAY_MORNING))
    for _ in range(20):
        listen = [c for c in cmds if isinstance(c, Listen)]
        if state.node == "main_menu" and listen:
            break
        if state.phase == "input":
            state, cmds = interpreter.step(state, Digit("1", turn=state.turn))
        elif state.phase == "lookup":
            state, cmds = interpreter.step(state, LookupResult("open_cases", True, False,
                                                               turn=state.turn))
        else:
            state, cmds = interpreter.step(state, PromptFinished(state.turn))
    phrases = listen[0].phrases
    assert isinstance(phrases, Grammar)
    node = script_19115.nodes["main_menu"]
    assert phrases.choices == tuple(c.phrases["pl"] for c in node.choices)


# --- deciding and calibration

def _evidence(audio: list[float], text: list[float], free: float = -1.0) -> Evidence:
    phrases = tuple(f"p{i}" for i in range(len(audio)))
    return Evidence(tuple(audio), phrases,
                    tuple(Spotted(t, f"k{i}") for i, t in enumerate(text)),
                    "…", free, 0.01)


def test_the_decision_weighs_audio_and_key_words() -> None:
    cal = Calibration((1.0, 1.0, 0.0, 0.0, 0.0, 0.0), -1.0)
    d = decide(_evidence([-2.0, -1.5, -3.0], [0.0, 0.0, 0.0]), cal)
    assert (d.index, d.phrase) == (1, "p1")  # the forced phrase that fits the audio best
    d = decide(_evidence([-2.0, -1.5, -3.0], [0.0, 0.0, 1.0]), cal)
    assert (d.index, d.phrase) == (2, "k2")  # a key word heard in the sentence wins
    assert d.features[0] == pytest.approx(1.5)  # margin to the runner-up
    assert decide(_evidence([], []), cal).index is None


def test_fitted_confidence_means_the_threshold_says_at_most_5_percent_wrong() -> None:
    rng = np.random.default_rng(7)
    margin = rng.uniform(0, 4, 2000)
    right = rng.uniform(0, 1, 2000) < 1 / (1 + np.exp(-(2.0 * margin - 3.0)))
    feats = [(m, 0.0, 0.0, 0.0, 0.0) for m in margin]
    cal = fit(feats, right.tolist())
    assert cal.weights[0] == pytest.approx(2.0, abs=0.3)
    conf = np.array([cal.confidence(f) for f in feats])
    assert (conf >= 0.45).mean() > 0.3  # the threshold keeps a good part of the decisions
    for rate, level in TARGETS:
        accepted = conf >= level
        if accepted.any():
            assert 1 - right[accepted].mean() <= rate + 1e-9, (rate, level)
    order = np.argsort(margin)
    assert np.all(np.diff(conf[order]) >= -1e-9)  # never falls as the evidence rises


def test_knots_rise_and_an_unfitted_calibration_is_a_probability() -> None:
    probs = np.linspace(1.0, 0.0, 400)
    right = np.array([True] * 200 + [i % 2 == 0 for i in range(200)])
    ks = knots(probs, right)
    assert [k[0] for k in ks] == sorted(k[0] for k in ks)
    assert [k[1] for k in ks] == [t[1] for t in TARGETS]
    cut = ks[2][0]  # confidence 0.45
    accepted = probs >= cut
    assert accepted[:200].all()  # the 200 right ones are kept
    assert 1 - right[accepted].mean() <= 0.05  # and what it lets in stays within 5%
    assert ks[0][0] < cut  # the 30% knot lets in more
    raw = Calibration((1.0,), 0.0)
    assert raw.confidence([0.0]) == 0.5
    assert raw.confidence([0.0, 1.0]) == 0.0  # features of another shape: no confidence

"""The speech evaluation as a test (issue #13): a fixed part of `bench/asr_eval_set.tsv`,
rendered and fed exactly as `python -m bench.asr_eval` does (espeak-ng voice variants and
speeds, telephone band, some with noise, 20 ms chunks, the interpreter's mapping and the
script's threshold), with floors. The full report is the benchmark's."""

from __future__ import annotations

import pytest

from bench import asr_eval
from ivr.asr.whisper_engine import WhisperEngine
from ivr.model import Script

from .test_asr import whisper  # noqa: F401  (the loaded model, shared with the ASR tests)


@pytest.fixture(scope="module")
def subset() -> list[asr_eval.Utterance]:
    # every third Polish line, once each, in the voice variant its position gives
    lines = [line for line in asr_eval.load_set(languages=["pl"]) if line.index % 3 == 0]
    return [u for u in asr_eval.utterances(lines) if u.variant == asr_eval.VARIANTS["pl"][
        (u.line.index * asr_eval.RENDERS["pl"]) % len(asr_eval.VARIANTS["pl"])]]


def test_polish_menus_floor(script_19115: Script, whisper: WhisperEngine,  # noqa: F811
                            subset: list[asr_eval.Utterance]) -> None:
    outcomes = asr_eval.evaluate(whisper, script_19115, subset)
    every = asr_eval.summarise(outcomes)
    report = "\n".join(asr_eval.report(script_19115, outcomes, "subset")
                       + asr_eval.misses(outcomes))
    assert len(subset) >= 35 and every.out_of_grammar >= 5, report
    # what the calibration promises: out-of-grammar speech re-prompted, and above the
    # script's threshold at most 5% wrong
    assert every.false_accept_rate <= 0.05, report
    assert every.accepted_error <= 0.05, report
    # Floors at the level measured on this subset (routed right 16/33, best choice 25/33;
    # see the README's Speech section), to catch a regression. Issue #13's target of 90%
    # routed right is NOT reached by Whisper base on espeak-ng telephone audio.
    assert every.best_right / every.in_grammar >= 0.7, report
    assert every.accuracy >= 0.4, report

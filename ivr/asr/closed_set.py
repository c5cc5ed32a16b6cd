"""Deciding among a menu's choices from Whisper's evidence: the pure core of recognition.

Evidence per utterance (gathered by `whisper_engine` from ONE encoder pass):
- `audio[c]`: the best phrase of choice c scored against the audio — the decoder's mean
  log-probability per token of that phrase as the whole transcript (forced decoding, all the
  menu's phrases in one batch). Length-normalised, so "psy i koty" is not punished for having
  more tokens than "hałas".
- `text[c]`: how well choice c's key words are found, in any inflected form, in Whisper's own
  free transcript (`keywords.spot`): this is what catches a keyword inside a long sentence,
  where forcing a one-word transcript onto a sentence says little.
- `transcript_logprob`, `no_speech`: how sure Whisper was of its free transcript, and that
  there was speech at all.

Rules:
- A choice's score is `audio + TEXT_WEIGHT * text`; the best score wins; ties go to the
  earlier choice.
- "None of these" is not a choice but a low confidence: out-of-grammar speech makes the forced
  phrases unlikely relative to what Whisper heard freely (`audio - transcript_logprob` is very
  negative) and spots no key word; calibration turns that into a confidence below the
  script's threshold, and the caller hears the re-prompt.
- The confidence is `calibration.Calibration.confidence(features)`: calibrated on a held-out
  part of the evaluation set (`bench/asr_eval.py`), see that module for what it means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ivr.asr.calibration import Calibration
from ivr.asr.keywords import Spotted

TEXT_WEIGHT = 3.0  # one spotted key word outweighs ~3 nats per token of forced-decoding score


@dataclass(frozen=True)
class Evidence:
    audio: tuple[float, ...]  # per choice: best phrase's mean token log-probability
    audio_phrase: tuple[str, ...]  # per choice: that phrase
    text: tuple[Spotted, ...]  # per choice: key words spotted in the free transcript
    transcript: str
    transcript_logprob: float  # mean per token of the free transcript
    no_speech: float  # Whisper's probability that there was no speech


@dataclass(frozen=True)
class Decision:
    index: int | None  # the chosen choice; None for an empty grammar
    phrase: str  # the phrase of that choice to report
    confidence: float
    features: tuple[float, ...]  # what the calibration saw (kept for fitting)


def features(evidence: Evidence, best: int) -> tuple[float, ...]:
    """(margin to the runner-up, key-word score, forced score vs free transcript, no-speech,
    free-transcript certainty, key word in a transcript Whisper was sure of) of the winner.

    The last one is what makes a sentence trustworthy: "Mam problem." read with certainty
    names the choice; the same key word fished out of a garbled transcript says less."""
    scores = [a + TEXT_WEIGHT * t.score for a, t in zip(evidence.audio, evidence.text,
                                                        strict=True)]
    others = [s for i, s in enumerate(scores) if i != best]
    margin = scores[best] - max(others) if others else 5.0
    certainty = math.exp(max(-5.0, evidence.transcript_logprob))
    return (min(margin, 5.0), evidence.text[best].score,
            max(-10.0, evidence.audio[best] - evidence.transcript_logprob),
            evidence.no_speech, max(-5.0, evidence.transcript_logprob),
            min(1.0, evidence.text[best].score) * certainty)


def decide(evidence: Evidence, calibration: Calibration) -> Decision:
    if not evidence.audio:
        return Decision(None, "", 0.0, ())
    scores = [a + TEXT_WEIGHT * t.score for a, t in zip(evidence.audio, evidence.text,
                                                        strict=True)]
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    feats = features(evidence, best)
    text = evidence.text[best]
    # report the phrase that was heard: the spotted key word, else the best forced phrase
    phrase = text.phrase if text.score >= 0.5 else evidence.audio_phrase[best]
    return Decision(best, phrase, calibration.confidence(feats), feats)

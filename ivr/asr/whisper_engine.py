"""Whisper base through faster-whisper: Polish (and English, Ukrainian) speech out of the box.

Whisper is not streaming: the recognizer buffers the caller's audio, cuts the utterance where
speech ends (`Endpointer`), trims silence and decodes once, greedy (beam 1, temperature 0, no
timestamps, no fallback) — latency over beauty. The menu's phrases go in as `initial_prompt`;
the text heard is then mapped to the closest phrase (closed set, `ivr.phrases.best_choice`), and
the confidence combines that match, Whisper's own certainty and a penalty when it merely echoed
the prompt list (a known Whisper habit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ivr.asr import Recognition
from ivr.asr.endpoint import Endpointer, pcm_to_float, resample_to_16k, trim
from ivr.phrases import best_choice, normalize

MAX_UTTERANCE_S = 8.0


class WhisperEngine:
    name = "whisper"

    def __init__(self, model_dir: Path, language: str = "pl", cpu_threads: int = 2,
                 beam_size: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.model_dir = Path(model_dir)
        self.language = language
        self.beam_size = beam_size
        self.model: Any = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                       local_files_only=True, cpu_threads=cpu_threads)

    def new_recognizer(self, sample_rate: int = 8000,
                       language: str | None = None) -> WhisperRecognizer:
        return WhisperRecognizer(self, sample_rate, language or self.language)

    def transcribe(self, audio16k: np.ndarray, language: str,
                   phrases: Sequence[str]) -> tuple[str, float]:
        """Text and Whisper's own certainty (0..1) for 16 kHz float audio."""
        if len(audio16k) < 1600:
            return "", 0.0
        segments, _info = self.model.transcribe(
            audio16k, language=language, beam_size=self.beam_size, temperature=0.0,
            initial_prompt=", ".join(phrases) if phrases else None, without_timestamps=True,
            condition_on_previous_text=False, vad_filter=False, max_new_tokens=40)
        texts: list[str] = []
        certainty: list[float] = []
        for seg in segments:
            texts.append(seg.text)
            certainty.append(math.exp(seg.avg_logprob) * (1.0 - seg.no_speech_prob))
        text = " ".join(t.strip() for t in texts).strip()
        return text, (min(certainty) if certainty else 0.0)


def closed_set(heard: str, certainty: float, phrases: Sequence[str]) -> tuple[str, float]:
    """Map free text onto the grammar: (phrase, confidence), ("", 0) when nothing fits."""
    if not phrases:
        return heard, certainty
    match = best_choice(heard, [[p] for p in phrases])
    if match is None:
        return "", 0.0
    said = normalize(heard)
    named = [p for p in phrases if normalize(p) and f" {normalize(p)} " in f" {said} "]
    echo = 0.4 if len({normalize(p) for p in named}) >= 3 else 1.0  # it read the prompt back
    # Whisper's certainty is low on short words even when right: let it lower, not rule.
    confidence = match.confidence * (0.6 + 0.4 * certainty) * echo
    return match.phrase, round(confidence, 4)


class WhisperRecognizer:
    engine = "whisper"

    def __init__(self, owner: WhisperEngine, sample_rate: int, language: str) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"expected 8000 or 16000 Hz audio, got {sample_rate}")
        self.owner = owner
        self.sample_rate = sample_rate
        self.language = language
        self._phrases: tuple[str, ...] = ()
        self._buffer = bytearray()
        self._endpoint = Endpointer(sample_rate)

    def set_grammar(self, phrases: Sequence[str]) -> None:
        self._phrases = tuple(dict.fromkeys(p for p in phrases if p.strip()))
        self.reset()

    def reset(self) -> None:
        self._buffer.clear()
        self._endpoint.reset()

    @property
    def speech_started(self) -> bool:
        return self._endpoint.started

    def accept_audio(self, pcm: bytes) -> Recognition | None:
        self._buffer.extend(pcm)
        self._endpoint.feed(pcm)
        too_long = len(self._buffer) / (2 * self.sample_rate) >= MAX_UTTERANCE_S
        if self._endpoint.ended or (too_long and self._endpoint.started):
            return self.finish()
        if too_long:  # only noise so far: keep the last second
            del self._buffer[: len(self._buffer) - 2 * self.sample_rate]
        return None

    def finish(self) -> Recognition:
        started = time.perf_counter()
        samples = trim(pcm_to_float(bytes(self._buffer)), self.sample_rate)
        audio_s = len(samples) / self.sample_rate
        self.reset()
        if len(samples) == 0:
            return Recognition("", 0.0, True, self.engine, "", 0.0, time.perf_counter() - started)
        heard, certainty = self.owner.transcribe(resample_to_16k(samples, self.sample_rate),
                                                 self.language, self._phrases)
        text, confidence = closed_set(heard, certainty, self._phrases)
        return Recognition(text, confidence, True, self.engine, heard, audio_s,
                           time.perf_counter() - started)

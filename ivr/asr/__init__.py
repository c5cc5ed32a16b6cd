"""Speech recognition behind one interface.

A `SpeechEngine` holds a loaded model (loaded once, at start-up — never during a call) and makes
one `Recognizer` per call (`new_recognizer(sample_rate)`). A recognizer takes the caller's audio
as it streams (`accept_audio(pcm)`: signed 16-bit little-endian mono at 8000 or 16000 Hz, any
chunk size; 20 ms chunks are typical) with the current menu's phrases as grammar
(`set_grammar`, switched per menu without a new recognizer) and returns `Recognition`s: partial
ones while the caller speaks, a final one at the end of the utterance (or on `finish()`).
A final result's `text` is one of the grammar phrases (closed set) when a grammar is set, with a
`confidence` in 0..1; `raw_text` is what the engine heard.

Engines: `vosk_engine.VoskEngine` (streaming, grammar-constrained) and
`whisper_engine.WhisperEngine` (Whisper base through faster-whisper, closed-set mapping).
`models.SpeechModels` picks one per language: Vosk when a model is installed, else Whisper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Recognition:
    text: str
    confidence: float
    final: bool
    engine: str
    raw_text: str = ""
    audio_s: float = 0.0  # length of the speech this result covers
    decode_s: float = 0.0  # compute time spent on it


class Recognizer(Protocol):
    engine: str
    sample_rate: int

    def set_grammar(self, phrases: Sequence[str]) -> None: ...

    def accept_audio(self, pcm: bytes) -> Recognition | None: ...

    def finish(self) -> Recognition: ...

    def reset(self) -> None: ...


class SpeechEngine(Protocol):
    name: str

    def new_recognizer(self, sample_rate: int = 8000) -> Recognizer: ...

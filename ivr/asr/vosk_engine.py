"""Vosk (Kaldi) speech engine: streaming, grammar-constrained menu recognition.

The model loads once (seconds, hundreds of MB); each call gets its own `KaldiRecognizer` at the
line's rate (8 kHz works) and switches grammars with `SetGrammar` (a fresh recognizer costs ~1 s
of warm-up). Small models may lack `[unk]`: out-of-grammar speech is then forced onto a menu
word, so the per-word confidence (`SetWords`) is what the interpreter's threshold acts on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ivr.asr import Recognition


class VoskEngine:
    name = "vosk"

    def __init__(self, model_dir: Path) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        if not (Path(model_dir) / "am").is_dir() and not (Path(model_dir) / "conf").is_dir():
            raise FileNotFoundError(f"{model_dir}: expected a Vosk model folder (with am/ and "
                                    "conf/), found none")
        self.model_dir = Path(model_dir)
        self._vosk = vosk
        self.model: Any = vosk.Model(str(model_dir))

    def new_recognizer(self, sample_rate: int = 8000) -> VoskRecognizer:
        return VoskRecognizer(self, sample_rate)


class VoskRecognizer:
    engine = "vosk"

    def __init__(self, owner: VoskEngine, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._rec: Any = owner._vosk.KaldiRecognizer(owner.model, sample_rate)
        self._rec.SetWords(True)
        self._grammar: tuple[str, ...] = ()
        self.extra: tuple[str, ...] = ()
        self._last_partial = ""
        self._audio_bytes = 0
        self._decode_s = 0.0

    def set_grammar(self, phrases: Sequence[str]) -> None:
        cleaned = tuple(dict.fromkeys(p.strip().lower() for p in phrases if p.strip()))
        if cleaned == self._grammar:
            self.reset()
            return
        self._grammar = cleaned
        if cleaned:
            self._rec.SetGrammar(json.dumps([*cleaned, *self.extra], ensure_ascii=False))
        self.reset()

    def reset(self) -> None:
        self._rec.Reset()
        self._last_partial = ""
        self._audio_bytes = 0
        self._decode_s = 0.0

    def accept_audio(self, pcm: bytes) -> Recognition | None:
        started = time.perf_counter()
        self._audio_bytes += len(pcm)
        if self._rec.AcceptWaveform(pcm):
            self._decode_s += time.perf_counter() - started
            return self._final(json.loads(self._rec.Result()))
        self._decode_s += time.perf_counter() - started
        partial = json.loads(self._rec.PartialResult()).get("partial", "")
        if partial and partial != self._last_partial:
            self._last_partial = partial
            return Recognition(partial, 0.0, False, self.engine, partial)
        return None

    def finish(self) -> Recognition:
        started = time.perf_counter()
        data = json.loads(self._rec.FinalResult())
        self._decode_s += time.perf_counter() - started
        return self._final(data)

    def _final(self, data: dict[str, Any]) -> Recognition:
        words = [w for w in data.get("result", []) if w.get("word") != "[unk]"]
        text = " ".join(w["word"] for w in words)
        confidence = (sum(float(w.get("conf", 0.0)) for w in words) / len(words)) if words else 0.0
        if "[unk]" in data.get("text", "").split():
            confidence *= 0.5  # part of what was said is not in the menu
        result = Recognition(text, round(confidence, 4), True, self.engine, data.get("text", ""),
                             self._audio_bytes / (2 * self.sample_rate), self._decode_s)
        self._last_partial = ""
        self._audio_bytes = 0
        self._decode_s = 0.0
        return result

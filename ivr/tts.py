"""Prompts as sound files, rendered ahead of time with pyttsx3 + espeak-ng.

Each prompt is cached by a hash of (text, voice, rate) as `<key>.wav` (8 kHz s16 mono, what a
telephone leg plays without transcoding) and `<key>.sln16` (16 kHz raw s16, for wideband legs).
Asterisk picks the best format when played as `sound:<dir>/<key>` (no extension).
`render_script` renders every prompt a script can say (templates expanded over the declared
variable values) into a `PromptCatalog`; during a call only the catalog is read — never TTS.

espeak-ng pitfalls handled here: pyttsx3 prints "Audio saved to ..." on stdout (swallowed); only
the last of several queued `save_to_file` calls is written (one `runAndWait` per file); empty
text raises (refused with a clear error first); the WAV it writes says 22050 Hz (resampled
with sox).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ground.settings import Settings
from ivr.commands import PromptRef
from ivr.model import Prompt, Script

ProgressFn = Callable[[int, int, str], None]
_TEMPLATE = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
_ENGINE_LOCK = threading.Lock()
DEFAULT_RATE = 165  # words per minute: espeak's 175 is hurried on a phone line


class TtsError(RuntimeError):
    pass


def prompt_dir(settings: Settings) -> Path:
    return settings.prompt_dir


@dataclass(frozen=True)
class RenderedPrompt:
    key: str
    wav: Path  # 8 kHz
    sln16: Path  # 16 kHz raw
    cached: bool

    @property
    def stem(self) -> Path:
        """Path without extension: what ARI `sound:` URIs name."""
        return self.wav.with_suffix("")


def cache_key(text: str, voice: str, rate: int) -> str:
    return hashlib.sha256(f"{voice}\x00{rate}\x00{text}".encode()).hexdigest()[:32]


class PromptRenderer:
    """Renders text to cached telephone audio. Thread-safe (one espeak engine, locked)."""

    def __init__(self, cache_dir: Path, rate: int | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.rate = rate or DEFAULT_RATE
        self._engine: Any = None
        self._voices: set[str] = set()

    def _init(self) -> Any:
        if self._engine is None:
            import pyttsx3

            self._engine = pyttsx3.init("espeak")
            self._voices = {v.id for v in self._engine.getProperty("voices")}
        return self._engine

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.cache_dir / f"{key}.wav", self.cache_dir / f"{key}.sln16"

    def lookup(self, text: str, voice: str) -> RenderedPrompt | None:
        key = cache_key(text, voice, self.rate)
        wav, sln = self.paths(key)
        return RenderedPrompt(key, wav, sln, True) if wav.is_file() and sln.is_file() else None

    def render(self, text: str, voice: str) -> RenderedPrompt:
        text = text.strip()
        if not text:
            raise TtsError(f"cannot render an empty prompt (voice {voice})")
        hit = self.lookup(text, voice)
        if hit is not None:
            return hit
        key = cache_key(text, voice, self.rate)
        wav, sln = self.paths(key)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".render-") as tmp:
            raw = Path(tmp) / "espeak.wav"
            with _ENGINE_LOCK:
                engine = self._init()
                if voice not in self._voices:
                    raise TtsError(f"voice {voice!r} is not installed in espeak-ng "
                                   "(expected e.g. zlw/pl, gmw/en-us, zle/uk)")
                engine.setProperty("voice", voice)
                engine.setProperty("rate", self.rate)
                for _attempt in range(3):
                    with contextlib.redirect_stdout(io.StringIO()):
                        engine.save_to_file(text, str(raw))
                        engine.runAndWait()
                        written = _wait_for_file(raw)
                    if written:
                        break
            if not raw.is_file() or raw.stat().st_size <= 44:
                raise TtsError(f"espeak-ng wrote no audio for {text[:40]!r} (voice {voice})")
            tmp_wav, tmp_sln = Path(tmp) / "out.wav", Path(tmp) / "out.sln16"
            _sox(raw, tmp_wav, 8000, "wav")
            _sox(raw, tmp_sln, 16000, "raw")
            os.replace(tmp_sln, sln)
            os.replace(tmp_wav, wav)  # .wav last: its presence means both are complete
        return RenderedPrompt(key, wav, sln, False)


def _wait_for_file(path: Path, limit_s: float = 3.0) -> bool:
    """espeak's completion callback can fire just after runAndWait returns (seen on the first
    render of a process): wait until the WAV is written and stops growing."""
    deadline = time.monotonic() + limit_s
    last = -1
    while time.monotonic() < deadline:
        size = path.stat().st_size if path.is_file() else -1
        if size > 44 and size == last:
            return True
        last = size
        time.sleep(0.01)
    return path.is_file() and path.stat().st_size > 44


def _sox(src: Path, dst: Path, rate: int, kind: str) -> None:
    cmd = ["sox", "-q", str(src), "-t", kind, "-r", str(rate), "-c", "1", "-b", "16",
           "-e", "signed-integer", str(dst)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TtsError(f"sox failed converting to {rate} Hz {kind}: {done.stderr.strip()}")


@dataclass(frozen=True)
class PromptText:
    id: str
    language: str
    voice: str
    text: str


def _expansions(text: str, script: Script, language: str) -> Iterator[str]:
    names = sorted(set(_TEMPLATE.findall(text)))
    if not names:
        yield text
        return
    domains = [script.variables.get(n, (language,) if n == "language" else ("",))
               for n in names]
    for combo in itertools.product(*domains):
        values = dict(zip(names, combo, strict=True))
        yield _fill(text, values)


def _fill(text: str, values: dict[str, str]) -> str:
    return _TEMPLATE.sub(lambda m: values.get(m.group(1), ""), text)


def script_prompts(script: Script) -> list[PromptText]:
    """Every text the script can say, per language, templates expanded."""
    out: list[PromptText] = []
    for node in script.nodes.values():
        for slot in ("prompt", "noinput", "nomatch"):
            prompt: Prompt | None = getattr(node, slot)
            if prompt is None or prompt.file:
                continue
            for lang in script.languages:
                raw = prompt.text_for(lang, script.default_language)
                for text in _expansions(raw, script, lang):
                    out.append(PromptText(f"{node.id}.{slot}.{lang}", lang, script.voice(lang),
                                          text))
    return out


@dataclass
class PromptCatalog:
    """(text, voice) → rendered files. Built ahead of time; read during calls."""

    entries: dict[tuple[str, str], RenderedPrompt] = field(default_factory=dict)
    rendered: int = 0
    cached: int = 0

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, text: str, voice: str, prompt: RenderedPrompt) -> None:
        self.entries[(text.strip(), voice)] = prompt
        if prompt.cached:
            self.cached += 1
        else:
            self.rendered += 1

    def get(self, ref: PromptRef) -> RenderedPrompt | None:
        return self.entries.get((ref.text.strip(), ref.voice))

    def media(self, ref: PromptRef) -> Path | None:
        """The file (without extension) to play for `ref`, or None when it was not rendered
        (then render it off the call's path, e.g. in a worker thread, and log it)."""
        if ref.file:
            return Path(ref.file)
        hit = self.get(ref)
        return hit.stem if hit else None


def render_script(script: Script, renderer: PromptRenderer,
                  progress: ProgressFn | None = None,
                  catalog: PromptCatalog | None = None) -> PromptCatalog:
    catalog = catalog or PromptCatalog()
    texts = script_prompts(script)
    unique = list(dict.fromkeys((p.text, p.voice) for p in texts))
    for i, (text, voice) in enumerate(unique, 1):
        if (text.strip(), voice) not in catalog.entries:
            catalog.add(text, voice, renderer.render(text, voice))
        if progress is not None:
            progress(i, len(unique), text)
    return catalog


def progress_bar(stream: TextIO, width: int = 30) -> ProgressFn:
    def show(done: int, total: int, label: str) -> None:
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        stream.write(f"\r[{bar}] {done}/{total} {label[:40]:<40}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


def speak_to_pcm(text: str, voice: str, sample_rate: int = 8000, words_per_minute: int = 160,
                 pitch: int = 50, pad_s: tuple[float, float] = (0.3, 0.6),
                 band_filter: bool = False) -> bytes:
    """Raw s16 mono PCM of espeak-ng saying `text`: the synthetic caller of tests and benches,
    at the line's rate (8 kHz: what a G.711 leg delivers), with silence around it as a real
    caller has. `band_filter` also cuts to 300-3400 Hz like an old analogue line (harder)."""
    with tempfile.TemporaryDirectory(prefix="ckm-speak-") as tmp:
        raw = Path(tmp) / "speech.wav"
        done = subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute),
                               "-p", str(pitch), "-w", str(raw), text],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0 or not raw.is_file():
            raise TtsError(f"espeak-ng failed for voice {voice}: {done.stderr.strip()}")
        out = Path(tmp) / "speech.raw"
        band = ["sinc", "300-3400"] if band_filter else []
        # -D: no dither. sox dithers by default, so the same words came out differently on
        # every call and a recogniser's test flipped between runs (Vosk's Korean set: 0.90 on
        # one run, 0.83 in CI)
        cmd = ["sox", "-q", "-D", str(raw), "-t", "raw", "-r", str(sample_rate), "-c", "1",
               "-b", "16", "-e", "signed-integer", str(out), *band, "pad", str(pad_s[0]),
               str(pad_s[1])]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise TtsError(f"sox failed: {done.stderr.strip()}")
        return out.read_bytes()

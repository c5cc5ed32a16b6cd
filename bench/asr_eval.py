"""Speech evaluation of the 19115 menus (issue #13): `python -m bench.asr_eval` prints the report.

The set (`bench/asr_eval_set.tsv`, written for this project) holds what residents say at each
menu of `ivr/scripts/19115.yaml`: menu words, natural sentences with inflected key words, and
out-of-grammar speech that must be re-prompted. Each Polish line is rendered twice, each time
with another espeak-ng voice variant and speed from `VARIANTS` (rotating), band-limited to the
telephone band (8 kHz, 300-3400 Hz), half of them with light noise; English and Ukrainian lines
once. Renders are cached under `.cache/asr-eval/`.

Every utterance goes the live path: a recognizer from the engine (`set_grammar` with the
menu's `Grammar`), 20 ms chunks as the media path delivers them, end-pointing, and the
interpreter's own mapping and threshold (`ivr.phrases.best_choice`, the script's
`confidence_threshold`). Decision latency is measured on a virtual clock that runs with the
audio: a result is ready when the audio up to that point has arrived AND the compute of every
call before it has finished (so speculative decoding during the caller's trailing silence
counts only as far as it really saves time).

Calibration: lines are split in two halves by a hash of their text (`split_of`), never by
render, so one sentence is never both fitted and measured. `--fit` fits
`ivr/asr/calibration.json` on the *fit* half (all languages); the report's accuracy and error figures are over
the *test* half, with the whole set's figures beside them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from ground import settings as settings_mod
from ivr import interpreter, tts, validator
from ivr.asr import calibration as calibration_mod
from ivr.asr import models as speech_models
from ivr.asr.grammar import Grammar
from ivr.asr.whisper_engine import WhisperEngine, WhisperRecognizer
from ivr.events import CallStarted, Digit, LookupResult, PromptFinished, SpeechResult
from ivr.model import Script
from ivr.phrases import best_choice, normalize

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "bench" / "asr_eval_set.tsv"
CACHE = ROOT / ".cache" / "asr-eval"
SCRIPT = ROOT / "ivr" / "scripts" / "19115.yaml"
RATE = 8000
CHUNK = RATE * 2 * 20 // 1000  # 20 ms of s16
PAD = (0.3, 0.8)  # silence before and after the speech, seconds


@dataclass(frozen=True)
class Variant:
    voice: str  # espeak-ng voice+variant
    wpm: int
    pitch: int
    noise_db: float | None  # noise level relative to the speech RMS (None: clean)

    @property
    def name(self) -> str:
        noise = "" if self.noise_db is None else f" noise{self.noise_db:+.0f}dB"
        return f"{self.voice}@{self.wpm}{noise}"


VARIANTS: dict[str, tuple[Variant, ...]] = {
    "pl": (Variant("pl", 160, 50, None), Variant("pl+f2", 145, 60, -22),
           Variant("pl+m3", 180, 40, None), Variant("pl+f4", 165, 55, -18),
           Variant("pl+m1", 135, 45, -25), Variant("pl+f3", 175, 65, None)),
    "en": (Variant("en-us", 160, 50, None), Variant("en-us+f2", 150, 60, -22),
           Variant("en-us+m3", 175, 40, -18)),
    "uk": (Variant("uk", 155, 50, None), Variant("uk+f2", 145, 60, -22),
           Variant("uk+m3", 170, 40, -18)),
}
RENDERS = {"pl": 2, "en": 1, "uk": 1}


@dataclass(frozen=True)
class Line:
    language: str
    menu: str
    key: str | None  # None: out of grammar
    text: str
    index: int

    @property
    def split(self) -> str:
        return split_of(self.text)


@dataclass(frozen=True)
class Utterance:
    line: Line
    variant: Variant
    pcm: bytes

    @property
    def speech_end_s(self) -> float:
        return len(self.pcm) / (2 * RATE) - PAD[1]


@dataclass(frozen=True)
class Outcome:
    utterance: Utterance
    decided: str | None  # the key the interpreter would act on (None: re-prompt)
    best: str | None  # the key of the recogniser's choice, accepted or not
    confidence: float
    heard: str
    latency_s: float  # end of speech → decision
    features: tuple[float, ...]
    match_confidence: float  # the interpreter's phrase mapping (1.0 for a phrase of the choice)

    @property
    def right(self) -> bool:
        return self.decided == self.utterance.line.key

    @property
    def false_accept(self) -> bool:
        return self.utterance.line.key is None and self.decided is not None


def split_of(text: str) -> str:
    return "fit" if hashlib.sha256(text.encode()).digest()[0] % 2 == 0 else "test"


def load_set(path: Path = SET, languages: Iterable[str] = ("pl", "en", "uk")) -> list[Line]:
    wanted = set(languages)
    out: list[Line] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        lang, menu, key, text = raw.split("\t")
        if lang in wanted:
            out.append(Line(lang, menu, None if key == "-" else key, text, len(out)))
    return out


def grammar_of(script: Script, menu: str, language: str) -> tuple[Grammar, list[str | None]]:
    node = script.nodes[menu]
    return (Grammar(c.phrases.get(language, ()) for c in node.choices),
            [c.key for c in node.choices])


def render(line: Line, variant: Variant, cache: Path = CACHE) -> bytes:
    """The line spoken by `variant` on a telephone line, cached."""
    key = hashlib.sha256(f"{line.text}|{variant}|{PAD}".encode()).hexdigest()[:24]
    path = cache / f"{key}.s16"
    if path.is_file():
        return path.read_bytes()
    pcm = tts.speak_to_pcm(line.text, variant.voice, RATE, variant.wpm, variant.pitch,
                           pad_s=PAD, band_filter=True)
    if variant.noise_db is not None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        level = float(np.sqrt(np.mean(samples[samples != 0] ** 2))) if samples.any() else 0.0
        rng = np.random.default_rng(int(key[:8], 16))
        # brown-ish line noise: white noise through a one-pole low-pass
        white = rng.standard_normal(len(samples))
        noise = np.empty_like(white)
        acc = 0.0
        for i, w in enumerate(white):
            acc = 0.9 * acc + w
            noise[i] = acc
        noise *= level * 10 ** (variant.noise_db / 20) / (np.sqrt(np.mean(noise ** 2)) or 1.0)
        pcm = np.clip(samples + noise, -32768, 32767).astype("<i2").tobytes()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pcm)
    tmp.replace(path)
    return pcm


def utterances(lines: Sequence[Line]) -> list[Utterance]:
    out: list[Utterance] = []
    for line in lines:
        variants = VARIANTS[line.language]
        for r in range(RENDERS[line.language]):
            variant = variants[(line.index * RENDERS[line.language] + r) % len(variants)]
            out.append(Utterance(line, variant, render(line, variant)))
    return out


def recognise(rec: WhisperRecognizer, utt: Utterance, grammar: Grammar,
              keys: Sequence[str | None], threshold: float) -> Outcome:
    """Stream the utterance in 20 ms chunks on a virtual clock; map it as the interpreter does."""
    rec.set_grammar(grammar)
    clock = 0.0
    result = None
    for i in range(0, len(utt.pcm), CHUNK):
        clock = max(clock, (i + CHUNK) / (2 * RATE))  # this chunk has arrived
        started = time.perf_counter()
        result = rec.accept_audio(utt.pcm[i:i + CHUNK])
        clock += time.perf_counter() - started
        if result is not None and result.final:
            break
    else:
        started = time.perf_counter()
        result = rec.finish()
        clock += time.perf_counter() - started
    assert result is not None
    match = best_choice(result.text, list(grammar.choices))
    confidence = round(result.confidence * (match.confidence if match else 0.0), 4)
    best = keys[match.index] if match is not None else None
    decided = best if confidence >= threshold else None
    features = rec.last.decision.features if rec.last is not None else ()
    return Outcome(utt, decided, best, confidence, result.raw_text,
                   max(0.0, clock - utt.speech_end_s), features,
                   match.confidence if match else 0.0)


def recalibrated(outcomes: Sequence[Outcome], cal: calibration_mod.Calibration,
                 threshold: float) -> list[Outcome]:
    """The outcomes as a recogniser with calibration `cal` would have had them (the
    confidence is the only thing calibration changes)."""
    out = []
    for o in outcomes:
        if not o.features:
            out.append(o)
            continue
        confidence = round(cal.confidence(o.features) * o.match_confidence, 4)
        decided = o.best if confidence >= threshold else None
        out.append(dataclasses.replace(o, confidence=confidence, decided=decided))
    return out


def evaluate(engine: WhisperEngine, script: Script, utts: Sequence[Utterance]) -> list[Outcome]:
    recs: dict[str, WhisperRecognizer] = {}
    out = []
    for utt in utts:
        lang = utt.line.language
        rec = recs.setdefault(lang, engine.new_recognizer(RATE, lang))
        grammar, keys = grammar_of(script, utt.line.menu, lang)
        out.append(recognise(rec, utt, grammar, keys, script.confidence_threshold))
    return out


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def is_menu_word(script: Script, line: Line) -> bool:
    node = script.nodes[line.menu]
    said = normalize(line.text)
    return any(said == normalize(p) for c in node.choices
               for p in c.phrases.get(line.language, ()))


@dataclass(frozen=True)
class Summary:
    in_grammar: int
    right: int
    out_of_grammar: int
    false_accepts: int
    accepted: int
    accepted_wrong: int
    best_right: int  # the recogniser's choice was right, whatever its confidence

    @property
    def accuracy(self) -> float:
        return self.right / self.in_grammar if self.in_grammar else 0.0

    @property
    def false_accept_rate(self) -> float:
        return self.false_accepts / self.out_of_grammar if self.out_of_grammar else 0.0

    @property
    def accepted_error(self) -> float:
        return self.accepted_wrong / self.accepted if self.accepted else 0.0


def summarise(outcomes: Sequence[Outcome]) -> Summary:
    ing = [o for o in outcomes if o.utterance.line.key is not None]
    oog = [o for o in outcomes if o.utterance.line.key is None]
    accepted = [o for o in outcomes if o.decided is not None]
    return Summary(len(ing), sum(o.right for o in ing), len(oog),
                   sum(o.false_accept for o in oog), len(accepted),
                   sum(not o.right for o in accepted),
                   sum(o.best == o.utterance.line.key for o in ing))


def _line(label: str, s: Summary) -> str:
    return (f"  {label:<28} right {s.right:>3}/{s.in_grammar:<3} = {s.accuracy:6.1%}   "
            f"false accepts {s.false_accepts:>2}/{s.out_of_grammar:<2} = "
            f"{s.false_accept_rate:5.1%}   wrong among accepted {s.accepted_wrong:>2}/"
            f"{s.accepted:<3} = {s.accepted_error:5.1%}   best choice right "
            f"{s.best_right}/{s.in_grammar}")


def report(script: Script, outcomes: Sequence[Outcome], title: str) -> list[str]:
    lines = [f"## {title}: {len(outcomes)} utterances"]
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[f"split {o.utterance.line.split}"].append(o)
    lines.append(_line("all", summarise(outcomes)))
    for name in sorted(groups):
        lines.append(_line(name, summarise(groups[name])))
    kinds: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        line = o.utterance.line
        kind = "out of grammar" if line.key is None else (
            "menu words" if is_menu_word(script, line) else "sentences")
        kinds[kind].append(o)
    lines.append(" by kind:")
    for name in sorted(kinds):
        lines.append(_line(name, summarise(kinds[name])))
    lines.append(" per menu:")
    menus: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        menus[o.utterance.line.menu].append(o)
    for name in sorted(menus):
        lines.append(_line(name, summarise(menus[name])))
    lines.append(" per voice variant:")
    variants: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        variants[o.utterance.variant.name].append(o)
    for name in sorted(variants):
        lines.append(_line(name, summarise(variants[name])))
    lat = [o.latency_s for o in outcomes]
    lines.append(f" decision latency after end of speech: p50 {pct(lat, 0.5) * 1000:.0f} ms, "
                 f"p99 {pct(lat, 0.99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms "
                 "(targets 500 / 1000 ms)")
    return lines


def misses(outcomes: Sequence[Outcome]) -> list[str]:
    out = []
    for o in outcomes:
        if not o.right:
            u = o.utterance
            out.append(f"  {u.line.language} {u.line.menu:<14} want {u.line.key or '-'} got "
                       f"{o.decided or '-'} (best {o.best or '-'} {o.confidence:.2f}) "
                       f"{u.variant.name:<22} {u.line.text!r} heard {o.heard!r}")
    return out


# --- DTMF vs voice on the same path, and simultaneous calls -------------------------------


def _at(script: Script, node: str) -> interpreter.CallState:
    at = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    state, _ = interpreter.start(script, CallStarted("+48600100200", at))
    keys = {"language_menu": "1", "main_menu": "1"}
    while state.phase != "input" or state.node != node:
        if state.phase == "input":
            state, _ = interpreter.step(state, Digit(keys[state.node], turn=state.turn))
        elif state.phase == "lookup":
            state, _ = interpreter.step(state, LookupResult("open_cases", True, False,
                                                            turn=state.turn))
        else:
            state, _ = interpreter.step(state, PromptFinished(state.turn))
    return state


def interpreter_step_s(script: Script) -> tuple[float, float]:
    """(DTMF, speech result) → decision, seconds, in the interpreter at the category menu."""
    state = _at(script, "category_menu")
    n = 300
    started = time.perf_counter()
    for _ in range(n):
        interpreter.step(state, Digit("3", turn=state.turn))
    dtmf = (time.perf_counter() - started) / n
    started = time.perf_counter()
    for _ in range(n):
        interpreter.step(state, SpeechResult("śmieci", 0.9, "whisper", turn=state.turn))
    return dtmf, (time.perf_counter() - started) / n


def simultaneous(engine: WhisperEngine, script: Script, utts: Sequence[Utterance],
                 calls: int) -> tuple[list[float], float]:
    """`calls` callers speaking at once, each fed at real time (paced 20 ms chunks), starting
    a little apart: (decision latencies after end of speech, worst lag of the feed)."""
    latencies: list[float] = []
    lags: list[float] = []
    lock = threading.Lock()

    def caller(n: int) -> None:
        rec = engine.new_recognizer(RATE, "pl")
        mine = [u for i, u in enumerate(utts) if i % calls == n]
        time.sleep(0.15 * n)
        for utt in mine:
            grammar, _ = grammar_of(script, utt.line.menu, "pl")
            rec.set_grammar(grammar)
            t0 = time.perf_counter()
            for i in range(0, len(utt.pcm), CHUNK):
                due = t0 + (i + CHUNK) / (2 * RATE)
                if time.perf_counter() < due:
                    time.sleep(due - time.perf_counter())
                with lock:
                    lags.append(time.perf_counter() - due)
                result = rec.accept_audio(utt.pcm[i:i + CHUNK])
                if result is not None and result.final:
                    break
            else:
                rec.finish()
            with lock:
                latencies.append(time.perf_counter() - t0 - utt.speech_end_s)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, max(lags)


def save(outcomes: Sequence[Outcome], path: Path = CACHE / "outcomes.json") -> None:
    """What each utterance gave (text index, variant, key, features...): for refitting the
    calibration without running the recogniser again."""
    rows = [{"line": o.utterance.line.index, "variant": o.utterance.variant.name,
             "best": o.best, "confidence": o.confidence, "heard": o.heard,
             "latency_s": o.latency_s, "features": o.features,
             "match_confidence": o.match_confidence} for o in outcomes]
    path.write_text(json.dumps(rows, ensure_ascii=False))


def load_saved(utts: Sequence[Utterance], path: Path = CACHE / "outcomes.json"
               ) -> list[Outcome]:
    by_key = {(u.line.index, u.variant.name): u for u in utts}
    out = []
    for row in json.loads(path.read_text()):
        utt = by_key[(row["line"], row["variant"])]
        out.append(Outcome(utt, None, row["best"], row["confidence"], row["heard"],
                           row["latency_s"], tuple(row["features"]),
                           row["match_confidence"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.asr_eval")
    parser.add_argument("--fit", action="store_true",
                        help="fit ivr/asr/calibration.json on the fit half first")
    parser.add_argument("--languages", default="pl,en,uk")
    parser.add_argument("--calls", type=int, default=4, help="simultaneous callers")
    parser.add_argument("--misses", action="store_true", help="list every wrong decision")
    parser.add_argument("--refit", action="store_true",
                        help="no recognition: fit on the outcomes the last run saved")
    parser.add_argument("--z", type=float, default=1.2816,
                        help="one-sided bound of the knots (1.28: 90%%, 0.84: 80%%)")
    args = parser.parse_args(argv)
    settings = settings_mod.load(generate_secrets=False)
    script = validator.load_valid(str(SCRIPT))
    print(f"# ckm speech evaluation (issue #13) — {os.uname().nodename}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    engine = None
    if not args.refit:
        started = time.perf_counter()
        engine = WhisperEngine(speech_models.prepare_whisper(speech_models.whisper_dir(
            settings)))
        print(f"whisper base load + warm-up: {time.perf_counter() - started:.2f} s")
    lines = load_set(languages=args.languages.split(","))
    started = time.perf_counter()
    utts = utterances(lines)
    print(f"rendered/cached {len(utts)} utterances in {time.perf_counter() - started:.1f} s")
    if engine is None:
        outcomes = load_saved(utts)
        args.fit, args.calls = True, 0
    else:
        outcomes = evaluate(engine, script, utts)
        save(outcomes)
    if args.fit:
        fit_on = [o for o in outcomes if o.utterance.line.split == "fit" and o.features]
        fitted = calibration_mod.fit([o.features for o in fit_on],
                                     [o.best == o.utterance.line.key for o in fit_on],
                                     z=args.z)
        calibration_mod.FITTED.write_text(fitted.to_json())
        print(f"calibration fitted on {len(fit_on)} utterances → {calibration_mod.FITTED}: "
              f"{fitted}")
        if engine is not None:
            engine.calibration = fitted
        outcomes = recalibrated(outcomes, fitted, script.confidence_threshold)
    elif not calibration_mod.FITTED.is_file():
        print("calibration: NOT FITTED (run with --fit)")
    for lang in args.languages.split(","):
        mine = [o for o in outcomes if o.utterance.line.language == lang]
        if mine:
            print("\n".join(report(script, mine, f"{lang} (Whisper base, 8 kHz telephone band)")))
            if args.misses:
                print("\n".join(misses(mine)))
    dtmf, speech = interpreter_step_s(script)
    voice = [o.latency_s for o in outcomes]
    print(f"DTMF vs voice on the same path: key → decision {dtmf * 1e6:.0f} µs (interpreter); "
          f"voice → decision p50 {pct(voice, 0.5) * 1000:.0f} ms, p99 "
          f"{pct(voice, 0.99) * 1000:.0f} ms after end of speech (+{speech * 1e6:.0f} µs "
          "interpreter)")
    if args.calls and engine is not None:
        pl = [u for u in utts if u.line.language == "pl"][:24]
        lat, lag = simultaneous(engine, script, pl, args.calls)
        print(f"{args.calls} simultaneous callers (paced, real time): decision p50 "
              f"{pct(lat, 0.5) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms over "
              f"{len(lat)} utterances; worst feed lag {lag * 1000:.0f} ms")
    print(f"mean compute per utterance: "
          f"{statistics.mean(o.latency_s for o in outcomes) * 1000:.0f} ms; load "
          f"{os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

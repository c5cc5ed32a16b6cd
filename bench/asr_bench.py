"""Speech benchmark for the IVR: `python -m bench.asr_bench` prints the figures.

- ASR real-time factor per engine: Vosk with a grammar (packaged Korean model, the stand-in
  until a Polish Vosk model is installed) and Whisper base (Polish, 8 kHz).
- How many Vosk recognitions keep up at once on this machine (throughput in real-time streams,
  and a paced run of N simultaneous 20 ms streams checking none falls behind).
- Polish 19115 menu accuracy with Whisper on the fixed phrase set (`ivr.asr.phrase_sets`).
- End of caller speech → IVR decision, p50/p99, per engine; DTMF on the same path.
- Prompt cache hit latency.
All audio is espeak-ng speech resampled to 8 kHz, fed in 20 ms chunks as the media path does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ground import settings as settings_mod
from ivr import interpreter, tts, validator
from ivr.asr import Recognizer
from ivr.asr import models as speech_models
from ivr.asr.phrase_sets import KOREAN_RATES, KOREAN_WORDS, POLISH_MENU, SPEECH_RATES
from ivr.asr.vosk_engine import VoskEngine
from ivr.asr.whisper_engine import WhisperEngine
from ivr.events import CallStarted, Digit, LookupResult, PromptFinished, SpeechResult
from ivr.model import Script

CHUNK = 320  # 20 ms at 8 kHz, s16
PAD_AFTER = 0.6
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Utterance:
    said: str
    heard: str
    confidence: float
    audio_s: float
    compute_s: float
    decision_s: float  # end of speech → final result (endpoint wait + compute)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def recognise(rec: Recognizer, pcm: bytes, said: str) -> Utterance:
    speech_end = len(pcm) / 16000 - PAD_AFTER
    compute = 0.0
    result = None
    position = 0.0
    last_call = 0.0
    for i in range(0, len(pcm), CHUNK):
        started = time.perf_counter()
        result = rec.accept_audio(pcm[i:i + CHUNK])
        last_call = time.perf_counter() - started
        compute += last_call
        position = (i + CHUNK) / 16000
        if result is not None and result.final:
            break
    else:
        started = time.perf_counter()
        result = rec.finish()
        last_call = time.perf_counter() - started
        compute += last_call
    assert result is not None
    waited = max(0.0, position - speech_end)
    return Utterance(said, result.text, result.confidence, len(pcm) / 16000, compute,
                     waited + last_call)


def bench_vosk(engine: VoskEngine) -> tuple[list[Utterance], dict[tuple[str, int], bytes]]:
    rec = engine.new_recognizer(8000)
    rec.set_grammar(KOREAN_WORDS)
    audio = {(w, r): tts.speak_to_pcm(w, "ko", 8000, r, pad_s=(0.3, PAD_AFTER))
             for r in KOREAN_RATES for w in KOREAN_WORDS}
    out = []
    for (word, _), pcm in audio.items():
        out.append(recognise(rec, pcm, word))
        rec.reset()
    return out, audio


def vosk_parallel(engine: VoskEngine, audio: list[bytes], streams: int,
                  paced: bool) -> tuple[float, float, float]:
    """(wall seconds, p99 and worst lag behind real time, s) for `streams` concurrent calls."""
    lags: list[float] = []
    lock = threading.Lock()

    # Recognizers are made when the call starts, before anyone speaks: their ~1 s warm-up
    # is not part of keeping up with speech.
    recognizers = []
    for _ in range(streams):
        rec = engine.new_recognizer(8000)
        rec.set_grammar(KOREAN_WORDS)
        rec.accept_audio(b"\0" * CHUNK * 10)
        rec.finish()
        recognizers.append(rec)

    def call(index: int) -> None:
        rec = recognizers[index]
        pcm = b"".join(audio[(index + k) % len(audio)] for k in range(4))
        t0 = time.perf_counter()
        mine = []
        for i in range(0, len(pcm), CHUNK):
            due = t0 + i / 16000
            if paced and time.perf_counter() < due:
                time.sleep(due - time.perf_counter())
            rec.accept_audio(pcm[i:i + CHUNK])
            mine.append(max(0.0, time.perf_counter() - (t0 + (i + CHUNK) / 16000)))
        rec.finish()
        with lock:
            lags.extend(mine)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(streams)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, _pct(lags, 0.99), max(lags)


def bench_whisper(engine: WhisperEngine) -> list[tuple[Utterance, bool]]:
    script = validator.load_valid(str(ROOT / "ivr/scripts/19115.yaml"))
    rec = engine.new_recognizer(8000, "pl")
    out = []
    for node_id, phrase, target in POLISH_MENU:
        node = script.nodes[node_id]
        rec.set_grammar([p for c in node.choices for p in c.phrases["pl"]])
        by_phrase = {p: c.next for c in node.choices for p in c.phrases["pl"]}
        for rate in SPEECH_RATES:
            pcm = tts.speak_to_pcm(phrase, "pl", 8000, rate, pad_s=(0.3, PAD_AFTER))
            u = recognise(rec, pcm, phrase)
            out.append((u, by_phrase.get(u.heard) == target))
    return out


def _at_main_menu(script: Script) -> interpreter.CallState:
    at = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    state, _ = interpreter.start(script, CallStarted("+48600100200", at))
    while state.phase != "input" or state.node != "main_menu":
        if state.phase == "input":
            state, _ = interpreter.step(state, Digit("1", turn=state.turn))
        elif state.phase == "lookup":
            state, _ = interpreter.step(state, LookupResult("open_cases", True, False,
                                                            turn=state.turn))
        else:
            state, _ = interpreter.step(state, PromptFinished(state.turn))
    return state


def dtmf_decision_s() -> list[float]:
    script = validator.load_valid(str(ROOT / "ivr/scripts/19115.yaml"))
    times = []
    for _ in range(200):
        state = _at_main_menu(script)
        started = time.perf_counter()
        interpreter.step(state, Digit("2", turn=state.turn))
        times.append(time.perf_counter() - started)
    return times


def speech_step_s() -> float:
    script = validator.load_valid(str(ROOT / "ivr/scripts/19115.yaml"))
    state = _at_main_menu(script)
    started = time.perf_counter()
    for _ in range(100):
        interpreter.step(state, SpeechResult("informacja", 0.9, "whisper", turn=state.turn))
    return (time.perf_counter() - started) / 100


def bench_prompt_cache() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        renderer = tts.PromptRenderer(Path(tmp))
        text = "Łączymy z konsultantem. Prosimy o chwilę cierpliwości."
        started = time.perf_counter()
        renderer.render(text, "zlw/pl")
        miss = time.perf_counter() - started
        catalog = tts.PromptCatalog()
        catalog.add(text, "zlw/pl", renderer.render(text, "zlw/pl"))
        from ivr.commands import PromptRef

        ref = PromptRef("x", text, "pl", "zlw/pl")
        started = time.perf_counter()
        for _ in range(10_000):
            catalog.media(ref)
        hit = (time.perf_counter() - started) / 10_000
    return hit, miss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.asr_bench")
    parser.add_argument("--streams", type=int, default=10, help="paced Vosk streams at once")
    parser.add_argument("--skip-whisper", action="store_true")
    args = parser.parse_args(argv)
    settings = settings_mod.load(generate_secrets=False)
    print("# ckm IVR speech benchmark (8 kHz espeak-ng speech, 20 ms chunks)")

    started = time.perf_counter()
    vosk = VoskEngine(speech_models.packaged_vosk_models()["ko"])
    print(f"vosk model load (ko small): {time.perf_counter() - started:.2f} s")
    v_utts, v_audio = bench_vosk(vosk)
    v_ok = sum(u.heard == u.said for u in v_utts)
    v_rtf = sum(u.compute_s for u in v_utts) / sum(u.audio_s for u in v_utts)
    v_dec = [u.decision_s for u in v_utts]
    print(f"vosk grammar RTF per stream: {v_rtf:.3f}  (target ≤ 0.1)")
    print(f"vosk accuracy (ko words x {len(KOREAN_RATES)} rates): {v_ok}/{len(v_utts)} "
          f"= {v_ok / len(v_utts):.0%}")
    print(f"vosk end of speech → result: p50 {_pct(v_dec, 0.5) * 1000:.0f} ms, "
          f"p99 {_pct(v_dec, 0.99) * 1000:.0f} ms")
    clips = list(v_audio.values())
    wall, _, _ = vosk_parallel(vosk, clips, 2, paced=False)
    audio_s = 2 * sum(len(b) for b in clips[:4]) / 16000
    print(f"vosk capacity (2 threads flat out): {audio_s / wall:.1f} real-time streams")
    wall, lag, worst = vosk_parallel(vosk, clips, args.streams, paced=True)
    verdict = "keeps up" if lag < 0.3 else "falls behind"
    print(f"vosk {args.streams} paced simultaneous streams: lag behind real time p99 "
          f"{lag * 1000:.0f} ms, worst {worst * 1000:.0f} ms → {verdict}")

    dtmf = dtmf_decision_s()
    print(f"dtmf key → decision (interpreter step): p50 {_pct(dtmf, 0.5) * 1e6:.0f} µs, "
          f"p99 {_pct(dtmf, 0.99) * 1e6:.0f} µs")
    print(f"speech result → decision (interpreter step incl. phrase mapping): "
          f"{speech_step_s() * 1e6:.0f} µs")
    print(f"voice vs dtmf added latency, vosk: p50 {_pct(v_dec, 0.5) * 1000:.0f} ms, "
          f"p99 {_pct(v_dec, 0.99) * 1000:.0f} ms (target ≤ 1000 ms)")

    if not args.skip_whisper:
        started = time.perf_counter()
        whisper = WhisperEngine(speech_models.prepare_whisper(speech_models.whisper_dir(
            settings)))
        print(f"whisper base load (int8, prepared weights): {time.perf_counter() - started:.2f} s")
        w = bench_whisper(whisper)
        ok = sum(good for _, good in w)
        w_rtf = sum(u.compute_s for u, _ in w) / sum(u.audio_s for u, _ in w)
        w_dec = [u.decision_s for u, _ in w]
        print(f"whisper RTF (per utterance audio incl. silence): {w_rtf:.2f}")
        print(f"whisper Polish menu accuracy: {ok}/{len(w)} = {ok / len(w):.0%} (target ≥ 90%)")
        missed = [(u.said, u.heard) for u, good in w if not good]
        if missed:
            print(f"  missed: {missed}")
        print(f"whisper end of speech → decision: p50 {_pct(w_dec, 0.5) * 1000:.0f} ms, "
              f"p99 {_pct(w_dec, 0.99) * 1000:.0f} ms (= voice vs dtmf added latency)")
        print(f"  mean decode {statistics.mean(u.compute_s for u, _ in w) * 1000:.0f} ms per "
              "utterance (trimmed speech, greedy, closed-set mapping)")

    hit, miss = bench_prompt_cache()
    print(f"prompt cache hit (catalog lookup): {hit * 1e6:.1f} µs; render on a miss: "
          f"{miss * 1000:.0f} ms (never on a call's path)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

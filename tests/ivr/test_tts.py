"""Prompts rendered ahead of time with espeak-ng: format, cache, catalog, errors."""

from __future__ import annotations

import subprocess
import time
import wave
from pathlib import Path

import pytest

from ivr import tts
from ivr.commands import PromptRef
from ivr.model import Script

from .conftest import script_from

SMALL = """
script: t
version: "1"
languages: [pl, en, uk]
start: hello
operator: consultant
variables: {count: [1, 2]}
nodes:
  hello:
    type: say
    prompt: {pl: "Masz {count} zgłoszenia", en: "You have {count} reports", uk: "Маєте {count}"}
    next: consultant
  consultant:
    type: queue
    queue: ogolna
    prompt: {file: "custom/recorded-hello"}
"""


def test_render_gives_8k_wav_and_16k_sln16(tmp_path: Path) -> None:
    renderer = tts.PromptRenderer(tmp_path)
    out = renderer.render("Dzień dobry, tu dziewiętnaście sto piętnaście.", "zlw/pl")
    assert not out.cached
    with wave.open(str(out.wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        seconds = w.getnframes() / 8000
    assert 1.5 < seconds < 8
    # raw 16 kHz: twice the samples of the 8 kHz file, give or take the resampler
    assert abs(out.sln16.stat().st_size / 2 / 16000 - seconds) < 0.05
    assert out.stem == tmp_path / out.key


def test_cache_by_text_voice_and_rate(tmp_path: Path) -> None:
    renderer = tts.PromptRenderer(tmp_path)
    first = renderer.render("Hałas", "zlw/pl")
    started = time.perf_counter()
    again = renderer.render("Hałas", "zlw/pl")
    assert again.cached and again.key == first.key
    assert time.perf_counter() - started < 0.05
    assert renderer.render("Hałas", "zle/uk").key != first.key
    assert tts.PromptRenderer(tmp_path, rate=120).render("Hałas", "zlw/pl").key != first.key


def test_no_stdout_noise(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tts.PromptRenderer(tmp_path).render("Cisza na linii", "zlw/pl")
    assert "Audio saved" not in capfd.readouterr().out


def test_empty_text_and_unknown_voice_are_refused(tmp_path: Path) -> None:
    renderer = tts.PromptRenderer(tmp_path)
    with pytest.raises(tts.TtsError, match="cannot render an empty prompt"):
        renderer.render("  ", "zlw/pl")
    with pytest.raises(tts.TtsError, match="voice 'xx/nope' is not installed"):
        renderer.render("Tekst", "xx/nope")


def test_render_script_expands_templates_and_fills_the_catalog(tmp_path: Path) -> None:
    script: Script = script_from(SMALL)
    seen: list[tuple[int, int]] = []
    catalog = tts.render_script(script, tts.PromptRenderer(tmp_path),
                                progress=lambda done, total, _: seen.append((done, total)))
    assert len(catalog) == 6 and catalog.rendered == 6  # 3 languages x 2 values
    assert seen[-1] == (6, 6)
    ref = PromptRef("hello.prompt.en", "You have 2 reports", "en", "gmw/en-us")
    media = catalog.media(ref)
    assert media is not None and media.with_suffix(".wav").is_file()
    assert catalog.media(PromptRef("x", "not rendered", "pl", "zlw/pl")) is None
    recorded = PromptRef("consultant.prompt.pl", "", "pl", "zlw/pl", "custom/recorded-hello")
    assert catalog.media(recorded) == Path("custom/recorded-hello")
    again = tts.render_script(script, tts.PromptRenderer(tmp_path))
    assert again.cached == 6 and again.rendered == 0


def test_every_prompt_the_interpreter_plays_is_in_the_catalog(script_19115: Script,
                                                             tmp_path: Path) -> None:
    from ivr import simulate
    from ivr.commands import Play
    from ivr.lookup import StaticLookup

    from .conftest import WEEKDAY_MORNING

    catalog = tts.render_script(script_19115, tts.PromptRenderer(tmp_path))
    port = StaticLookup(callers={"+48600100200": 4}, cases={"1": "new"})
    for inputs in (["1", "1", "1#", "9"], ["2", "1", "5"], ["3", "2"], []):
        outcome = simulate.run(script_19115, inputs, "+48600100200", WEEKDAY_MORNING, port)
        for cmd in outcome.commands:
            if isinstance(cmd, Play):
                for ref in cmd.prompts:
                    assert catalog.media(ref) is not None, ref


def test_render_cli_shows_progress(tmp_path: Path) -> None:
    script = tmp_path / "s.yaml"
    script.write_text(SMALL, encoding="utf-8")
    done = subprocess.run(
        [str(Path(__file__).resolve().parents[2] / ".venv/bin/ckm"), "ivr", "render", str(script)],
        capture_output=True, text=True, check=False,
        env={"CKM_IVR_PROMPT_DIR": str(tmp_path / "prompts"), "CKM_DATA_DIR": str(tmp_path),
             "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "[##############################] 6/6" in done.stderr
    assert done.stdout.strip() == (f"{script}: 6 prompts ready in {tmp_path / 'prompts'} "
                                   "(6 rendered now, 0 from cache)")

"""What `ckm call` reports without a live call: when the scripted resident hangs up, how a
staged prompt's media URI is told back as text and language, how the controller's channel
variables become IVR steps, queue and language, and the human-readable summary."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ground.settings import Settings
from ivr import tts
from ivr.commands import PromptRef
from pbx import caller
from pbx.call_session import IVR_VAR, PATH_VAR, QUEUE_VAR
from pbx.prompts import PromptStage, describe_media


def test_without_hangup_after_the_resident_stays_until_the_steps_are_done_plus_a_margin() -> None:
    plan = caller.CallPlan.from_args(number="19115", caller_id="+48600100200", name="Jan",
                                     dtmf="w14,1,w3,3", say=[], hangup_after=None,
                                     wait_answer=10)
    assert plan.hangup_after is None
    assert (plan.linger_s, plan.max_call_s) == (caller.LINGER_S, caller.MAX_CALL_S)
    assert [(s.pause_s, s.digit) for s in plan.dtmf] == [(14.0, "1"), (3.0, "3")]
    assert caller.CallPlan().hangup_after is None


def test_a_staged_prompt_says_its_text_language_and_ivr_prompt(settings: Settings,
                                                                tmp_path: Path) -> None:
    local = replace(settings, asterisk_sounds_dir=tmp_path / "sounds")
    cache = tmp_path / "cache"
    cache.mkdir()
    key = tts.cache_key("Dzień dobry.", "zlw/pl", tts.DEFAULT_RATE)
    wav, sln = cache / f"{key}.wav", cache / f"{key}.sln16"
    wav.write_bytes(b"RIFF")
    sln.write_bytes(b"\0\0")
    stage = PromptStage(local, tts.PromptRenderer(cache))
    stage.catalog.add("Dzień dobry.", "zlw/pl", tts.RenderedPrompt(key, wav, sln, True))
    uri = stage.media_for(PromptRef("greeting.prompt.pl", "Dzień dobry.", "pl", "zlw/pl"))
    assert uri is not None
    assert describe_media(local, uri) == {"prompt": "greeting.prompt.pl", "language": "pl",
                                          "voice": "zlw/pl", "text": "Dzień dobry."}
    assert describe_media(local, "sound:beep") == {}
    assert describe_media(local, local.sound_uri("tts/../../etc/passwd")) == {}


def test_the_controllers_channel_variables_become_steps_queue_and_language() -> None:
    summary = caller.CallSummary(number="19115")
    caller._note_var(summary, IVR_VAR, json.dumps({"node": "main_menu", "language": "pl"}))
    caller._note_var(summary, PATH_VAR, json.dumps(["greeting", "language_menu:1"]))
    caller._note_var(summary, PATH_VAR, json.dumps(["greeting", "language_menu:1",
                                                    "main_menu:4"]))
    caller._note_var(summary, QUEUE_VAR, json.dumps({"queue": "ogolna", "language": "en",
                                                     "skills": []}))
    caller._note_var(summary, PATH_VAR, "not json")
    assert summary.ivr_path == ["greeting", "language_menu:1", "main_menu:4"]
    assert (summary.ivr_node, summary.queue, summary.language) == ("main_menu", "ogolna", "en")


def test_the_summary_for_a_person_reads_as_what_happened() -> None:
    summary = caller.CallSummary(
        number="19115", answered=True, answer_delay_s=0.04, duration_s=28.5, ended_by="caller",
        dtmf_sent=["1", "3"], ivr_path=["greeting", "language_menu:1", "main_menu:3"],
        language="pl", queue="ogolna",
        prompts=[caller.PromptHeard("sound:/x/ckm/tts/ab", "Dzień dobry.", "pl",
                                    "greeting.prompt.pl"), caller.PromptHeard("sound:beep")],
        agents=[caller.AgentReached("konsultant1", "PJSIP/1001-00000001")])
    text = summary.describe()
    assert "answered after 0.04 s, lasted 28.5 s, ended by caller" in text
    assert "keys sent: 1,3" in text
    assert "[pl] Dzień dobry.  (greeting.prompt.pl)" in text
    assert "sound:beep" in text
    assert "IVR: greeting → language_menu:1 → main_menu:3 (language pl)" in text
    assert "queue: ogolna" in text and "consultant: konsultant1 (PJSIP/1001-00000001)" in text
    data = summary.to_dict()
    assert data["prompts"][0]["text"] == "Dzień dobry." and data["agents"][0]["agent"] == \
        "konsultant1"

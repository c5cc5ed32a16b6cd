"""What a caller waiting in line hears is in their language and rendered before any call."""

from __future__ import annotations

from pathlib import Path

from ground.settings import Settings
from pbx import queue_prompts
from pbx.prompts import PromptStage


def test_every_queue_prompt_exists_in_every_language_with_its_own_voice() -> None:
    keys = set(queue_prompts.TEXTS["pl"])
    for lang, texts in queue_prompts.TEXTS.items():
        assert set(texts) == keys, f"{lang} lacks {keys - set(texts)}"
        assert queue_prompts.sentence("callback_offer", lang).voice == queue_prompts.VOICES[lang]
    assert "queue" in queue_prompts.sentence("position", "en").text
    assert "черзі" in queue_prompts.sentence("position", "uk").text
    # A language the queue has no text for falls back to the center's own.
    assert queue_prompts.sentence("full", "de") == queue_prompts.sentence("full", "pl")
    assert [r.text for r in queue_prompts.with_number("wait", 250, "en")] == [
        queue_prompts.TEXTS["en"]["wait"], queue_prompts.TEXTS["en"]["more_than"]]


def test_all_queue_prompts_render_ahead_so_none_is_rendered_on_a_call(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, cache_dir=Path(".cache").resolve(),
                        asterisk_sounds_dir=tmp_path / "sounds")
    stage = PromptStage(settings)
    refs = queue_prompts.all_refs()
    assert stage.prepare_refs(refs) == len(refs)
    for ref in refs:
        assert stage.media_for(ref) is not None, ref.id
    for lang in queue_prompts.TEXTS:
        for value in (1, 7, queue_prompts.MAX_NUMBER, 1000):
            for ref in queue_prompts.with_number("position", value, lang):
                assert stage.media_for(ref) is not None, (lang, value)

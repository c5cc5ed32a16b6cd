"""Prompts as Asterisk plays them: rendered ahead of time, staged where Asterisk can read.

TTS renders into the IVR's cache (ivr.tts); Asterisk (in its sandbox) reads only its own
sounds folder, so each rendered file is hard-linked (or copied) into `<sounds>/tts/` once. At
start-up and at every publish all of a script's prompts are rendered in a worker thread; a
prompt that still misses at call time (a template filled with an unexpected value) is rendered
in a thread too, so the event loop never waits on espeak. Beside each staged prompt,
`<key>.json` says what it is (text, language, IVR prompt id): `describe_media`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from ground.settings import Settings
from ivr import tts
from ivr.commands import PromptRef
from ivr.model import Script

log = logging.getLogger(__name__)


class PromptStage:
    def __init__(self, settings: Settings, renderer: tts.PromptRenderer | None = None) -> None:
        self.settings = settings
        self.renderer = renderer or tts.PromptRenderer(settings.prompt_dir)
        self.catalog = tts.PromptCatalog()
        self.target = settings.sounds_dir / "tts"
        self._uris: dict[str, str] = {}

    def prepare(self, script: Script) -> int:
        """Render and stage every prompt of `script` (blocking: run it in a thread)."""
        rendered = tts.render_script(script, self.renderer)
        self.catalog.entries.update(rendered.entries)
        about = {(p.text.strip(), p.voice): p for p in tts.script_prompts(script)}
        for (text, voice), prompt in list(self.catalog.entries.items()):
            said = about.get((text, voice))
            self._stage(prompt, PromptRef(said.id, text, said.language, voice) if said else None)
        return len(self.catalog)

    async def prepare_async(self, script: Script) -> int:
        return await asyncio.to_thread(self.prepare, script)

    def prepare_refs(self, refs: Iterable[PromptRef]) -> int:
        """Render and stage prompts that belong to no script (the queue's own, in
        `pbx.queue_prompts`); blocking: run it in a thread. Returns how many."""
        count = 0
        for ref in refs:
            if ref.file or self.catalog.get(ref) is not None:
                count += 1
                continue
            rendered = self.renderer.render(ref.text, ref.voice)
            self.catalog.add(ref.text, ref.voice, rendered)
            self._stage(rendered, ref)
            count += 1
        return count

    def media_for(self, ref: PromptRef) -> str | None:
        """The ARI media URI for `ref`, or None when it has not been rendered yet."""
        if ref.file:
            # Recorded prompts name a file Asterisk knows: a core sound or an absolute path.
            return f"sound:{ref.file}"
        hit = self.catalog.get(ref)
        return self._stage(hit, ref) if hit is not None else None

    async def ensure(self, ref: PromptRef) -> str | None:
        uri = self.media_for(ref)
        if uri is not None:
            return uri
        log.warning("prompt %s was not rendered ahead of time; rendering now", ref.id)
        try:
            rendered = await asyncio.to_thread(self.renderer.render, ref.text, ref.voice)
        except tts.TtsError as exc:
            log.error("prompt %s cannot be rendered: %s", ref.id, exc)
            return None
        self.catalog.add(ref.text, ref.voice, rendered)
        return self._stage(rendered, ref)

    def forget(self, ref: PromptRef) -> None:
        """Drop a one-off prompt (a notification call's message, said to one resident) once
        its call is over: its catalog entry and its files, staged and cached, so they do not
        pile up. Never for a script's or the queue's prompts: every call shares those."""
        prompt = self.catalog.entries.pop((ref.text.strip(), ref.voice), None)
        if prompt is None:
            return
        self._uris.pop(prompt.key, None)
        for path in (prompt.wav, prompt.sln16, self.target / prompt.wav.name,
                     self.target / prompt.sln16.name, self.target / f"{prompt.key}.json"):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:  # a file left behind costs disk, never the call
                log.warning("cannot remove prompt file %s: %s", path, exc)

    def _stage(self, prompt: tts.RenderedPrompt, ref: PromptRef | None = None) -> str:
        uri = self._uris.get(prompt.key)
        if uri is not None:
            return uri
        self.target.mkdir(parents=True, exist_ok=True)
        if ref is not None:
            _describe(self.target / f"{prompt.key}.json", ref)
        for source in (prompt.sln16, prompt.wav):
            dest = self.target / source.name
            if dest.exists():
                continue
            try:
                os.link(source, dest)
            except OSError:
                shutil.copyfile(source, dest)
        uri = self.settings.sound_uri(f"tts/{prompt.key}")
        self._uris[prompt.key] = uri
        return uri


def stage_dir(settings: Settings) -> Path:
    return settings.sounds_dir / "tts"


def _describe(path: Path, ref: PromptRef) -> None:
    """What a staged prompt says, beside it (`<key>.json`): `ckm call` and anyone reading a
    playback's media URI can tell its text, language and the IVR prompt it is."""
    if path.exists():
        return
    body = json.dumps({"prompt": ref.id, "language": ref.language, "voice": ref.voice,
                       "text": ref.text}, ensure_ascii=False)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only sounds folder costs the description, never the prompt
        log.warning("cannot describe prompt %s in %s: %s", ref.id, path, exc)


def describe_media(settings: Settings, media_uri: str) -> dict[str, str]:
    """The description of a staged TTS prompt by its media URI ({} when it is none of ours)."""
    prefix = settings.sound_uri("tts/")
    if not media_uri.startswith(prefix):
        return {}
    key = media_uri.removeprefix(prefix)
    if not key or "/" in key or key.startswith("."):
        return {}
    try:
        data = json.loads((stage_dir(settings) / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}

"""The IVR scripts new calls start with, and how a publish reaches them.

A call pins the `Script` object it started with (see ivr.interpreter); this library only
decides what the *next* call gets. Publishing validates first: a broken script never replaces a
working one. Published versions are kept in memory by (name, version) so a call adopted after a
controller restart resumes in the version it started with when this process has seen it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from ground.settings import ROOT
from ivr import validator
from ivr.model import Script
from ivr.problems import ScriptInvalid

log = logging.getLogger(__name__)

SCRIPTS_DIR = ROOT / "ivr" / "scripts"
Listener = Callable[[Script], None]


class ScriptLibrary:
    def __init__(self, known_queues: Iterable[str] = validator.DEFAULT_QUEUES) -> None:
        self.known_queues = tuple(known_queues)
        self._current: dict[str, Script] = {}
        self._versions: dict[tuple[str, str], Script] = {}
        self._listeners: list[Listener] = []

    def load_dir(self, folder: Path = SCRIPTS_DIR,
                 extra_queues: tuple[str, ...] = ()) -> list[Script]:
        loaded = []
        for path in sorted(folder.glob("*.yaml")):
            try:
                script = validator.load_valid(str(path), (*self.known_queues, *extra_queues))
            except ScriptInvalid as exc:
                # A broken file must not stop the center: the other scripts still serve calls.
                log.error("IVR script %s not loaded:\n%s", path, exc)
                continue
            self._install(script)
            loaded.append(script)
        return loaded

    def publish_text(self, text: str, file: str) -> Script:
        """Validate and make `text` the script new calls get; raises ScriptInvalid."""
        report = validator.check_text(text, file, self.known_queues)
        if report.script is None or report.problems:
            raise ScriptInvalid(file, list(report.problems))
        self._install(report.script)
        return report.script

    def on_publish(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def current(self, name: str) -> Script:
        try:
            return self._current[name]
        except KeyError:
            raise KeyError(f"no IVR script {name!r} (loaded: {', '.join(sorted(self._current))})"
                           ) from None

    def version(self, name: str, version: str) -> Script | None:
        return self._versions.get((name, version))

    def names(self) -> list[str]:
        return sorted(self._current)

    def _install(self, script: Script) -> None:
        self._current[script.name] = script
        self._versions[(script.name, script.version)] = script
        log.info("IVR script %s version %s is live for new calls", script.name, script.version)
        for listener in self._listeners:
            listener(script)

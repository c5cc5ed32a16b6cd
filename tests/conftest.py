"""Shared fixtures. The real Asterisk sandbox is started once per test session (on first use)
and stopped at the end, so `make test` leaves no process and no mount behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bench import flows
from ground.settings import Settings, load
from pbx import provision
from pbx.prompts import PromptStage
from pbx.script_library import ScriptLibrary


@pytest.fixture(scope="session")
def center_settings() -> Settings:
    """The settings of the center installed here: what Asterisk is provisioned with. The
    suite never renders Asterisk's configuration from anything else, so a center running
    beside the tests keeps its dialplan (and with it every call to 19115)."""
    return load()


@pytest.fixture(scope="session")
def settings(center_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # Calls placed by the tests are routed (by a channel variable the dialplan honours) to this
    # session's own controller app, so a center running beside the tests — or another test
    # session — never takes them over. Files (CRM, outbox journal, ACD snapshot) go to the
    # session's own folder; only the joined speech weights are shared (read-only, 145 MB).
    return replace(center_settings, ari_app=f"ckm-test-{os.getpid()}",
                   data_dir=tmp_path_factory.mktemp("ckm-data"),
                   ivr_models_dir=center_settings.models_dir)


@pytest.fixture(scope="session")
def asterisk(center_settings: Settings) -> Iterator[provision.Sandbox | provision.SystemAsterisk]:
    target = provision.select(center_settings)
    was_running = target.status().running
    target.up(center_settings.data_dir / "logs")
    yield target
    # Leave a developer's own running center alone; otherwise stop what the tests started.
    if not was_running or os.environ.get("CKM_TEST_STOP_ASTERISK") == "1":
        target.down()
        if isinstance(target, provision.Sandbox):
            assert target.pid() is None, "Asterisk still running after the tests"
            assert target.mounts() == [], f"mounts left behind: {target.mounts()}"


@pytest.fixture(scope="session")
def library() -> ScriptLibrary:
    scripts = ScriptLibrary()
    scripts.load_dir()
    for folder, queues in flows.SCRIPT_DIRS:  # the benchmark flows some live tests drive
        scripts.load_dir(folder, extra_queues=queues)
    return scripts


@pytest.fixture(scope="session")
def prompts(settings: Settings, library: ScriptLibrary) -> PromptStage:
    stage = PromptStage(settings)
    for name in library.names():
        stage.prepare(library.current(name))
    return stage

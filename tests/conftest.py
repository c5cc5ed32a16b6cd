"""Shared fixtures. The real Asterisk sandbox is started once per test session (on first use)
and stopped at the end, so `make test` leaves no process and no mount behind."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ckm.settings import Settings, load
from pbx import provision


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load()


@pytest.fixture(scope="session")
def asterisk(settings: Settings) -> Iterator[provision.Sandbox | provision.SystemAsterisk]:
    target = provision.select(settings)
    was_running = target.status().running
    target.up(settings.data_dir / "logs")
    yield target
    # Leave a developer's own running center alone; otherwise stop what the tests started.
    if not was_running or os.environ.get("CKM_TEST_STOP_ASTERISK") == "1":
        target.down()
        if isinstance(target, provision.Sandbox):
            assert target.pid() is None, "Asterisk still running after the tests"
            assert target.mounts() == [], f"mounts left behind: {target.mounts()}"

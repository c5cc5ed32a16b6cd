"""Provisioning Asterisk: the errors a person setting ckm up would meet, and the version rule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ground.settings import Settings
from pbx import provision


def test_a_build_from_an_unreachable_mirror_says_which_mirror_and_what_to_set(
        settings: Settings, tmp_path: Path) -> None:
    # Tried: a sandbox folder that does not exist yet and a mirror on a closed local port.
    local = replace(settings, sandbox_dir=tmp_path / "chroot", cache_dir=tmp_path / "cache",
                    debian_mirror="http://127.0.0.1:9/debian")
    sandbox = provision.Sandbox(local)
    with pytest.raises(provision.ProvisionError) as caught:
        sandbox.build(tmp_path / "debootstrap.log")
    message = str(caught.value)
    assert "http://127.0.0.1:9/debian" in message and "CKM_DEBIAN_MIRROR" in message
    assert not sandbox.built


def test_not_being_root_is_explained_with_the_alternative(settings: Settings,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Tried: the sandbox asked to start by a user id other than root.
    monkeypatch.setattr(provision.os, "geteuid", lambda: 1000)
    with pytest.raises(provision.ProvisionError, match=r"needs root.*CKM_ASTERISK_MODE=system"):
        provision.Sandbox(settings).up(Path("/tmp"))


@pytest.mark.parametrize(("version", "ok"), [
    ("22.10.1+dfsg+~cs6.17.60671434-1", True), ("20.5.0", True), ("18.21.0", False),
    ("GIT-master-abc", False),
])
def test_only_asterisk_20_or_newer_is_accepted(version: str, ok: bool) -> None:
    assert provision.supported(version) is ok


def test_a_system_asterisk_that_does_not_answer_gets_a_checklist(settings: Settings) -> None:
    # Tried: system mode pointed at a port where nothing listens.
    local = replace(settings, asterisk_mode="system", ari_url="http://127.0.0.1:9/ari")
    target = provision.select(local)
    assert isinstance(target, provision.SystemAsterisk)
    with pytest.raises(provision.ProvisionError, match=r"http\.conf.*ari\.conf"):
        target.up(Path("/tmp"))

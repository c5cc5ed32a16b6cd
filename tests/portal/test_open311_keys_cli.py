"""`ckm open311 keys create|list|revoke`: an administrator issues, lists and revokes API keys,
and the API honours the result."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ckm import cli
from crm_core.db import Database
from crm_core.services.contact_center import verify_api_key


def test_keys_are_created_listed_and_revoked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'ckm.sqlite3'}"
    monkeypatch.setenv("CKM_DATABASE_URL", url)
    owner = "Aplikacja Warszawa 19115"
    assert cli.main(["open311", "keys", "create", "--owner", owner, "--rate", "120"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{8}\.[A-Za-z0-9_-]{20,}", key)
    db = Database(url)
    try:
        view = verify_api_key(db, key)
        assert view is not None and view.rate_limit_per_min == 120
        assert cli.main(["open311", "keys", "list"]) == 0
        listing = capsys.readouterr().out
        assert view.prefix in listing and "Aplikacja Warszawa 19115" in listing and key not in listing
        assert cli.main(["open311", "keys", "revoke", view.prefix]) == 0
        assert verify_api_key(db, key) is None
        assert cli.main(["open311", "keys", "list"]) == 0
        assert "no keys" in capsys.readouterr().out
        assert cli.main(["open311", "keys", "revoke", "deadbeef"]) == 1
        assert cli.main(["open311", "keys", "create", "--owner", " "]) == 2
    finally:
        db.dispose()

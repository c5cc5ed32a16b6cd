"""Production accounts: a seed without demo users, the password policy and hashing, accounts
disabled and passwords changed ending sessions, idle sessions, `ckm users …`."""

from __future__ import annotations

import argparse
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_core import cli
from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import User
from crm_core.seed import reference, seed
from crm_core.services import contact_center as cc
from crm_core.services import users
from ground.settings import Settings

AT = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
GOOD = "zielony-tramwaj-42"


def _stored(db: Database, username: str) -> str:
    with db.reading() as session:
        found = session.scalar(sa.select(User.password_hash).where(User.username == username))
    assert found is not None
    return found


def test_seed_without_demo_has_reference_data_and_no_accounts(db: Database) -> None:
    report = seed(db)
    assert users.list_users(db) == []
    queues = {q.name: q for q in cc.list_queues(db)}
    assert "ogolna" in queues and all(q.members == () for q in queues.values())
    assert "case_created" in {d.code for d in cc.list_dispositions(db)}
    assert "users" not in report.created and report.warnings == []
    # The demo comes on top, and a later production seed says the demo accounts are live.
    seed(db, demo=True)
    assert users.authenticate(db, "konsultant1", reference.DEMO_PASSWORD) is not None
    again = seed(db)
    assert "konsultant1" in str(again) and "ckm users disable" in str(again)
    users.set_active(db, "konsultant1", False)
    assert "konsultant1," not in str(seed(db))


def test_password_policy_gives_one_clear_reason(db: Database) -> None:
    cases = {
        "short-pass": "at least 12 characters",
        "operator_jan": "must not be the username",
        "xx-demo19115-xx": "demo password",
        "x" * 257: "at most 256",
    }
    for password, reason in cases.items():
        with pytest.raises(ValidationError) as err:
            users.create_user(db, username="operator_jan", full_name="Jan", role="consultant",
                              password=password)
        assert reason in err.value.fields["password"], password
    assert users.password_problem(GOOD, "operator_jan") is None
    assert len(users.generate_password()) >= users.MIN_PASSWORD
    assert users.list_users(db) == []


def test_hashes_follow_owasp_scrypt_and_old_ones_are_upgraded_at_login(db: Database) -> None:
    users.create_user(db, username="nowy", full_name="Nowy", role="consultant", password=GOOD)
    scheme, n, r, p, salt, digest = _stored(db, "nowy").split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**17, 8, 1)
    assert len(bytes.fromhex(salt)) == 16 and GOOD not in digest
    assert not users.needs_rehash(_stored(db, "nowy"))
    # A hash from before (N=2^14) still verifies, and is replaced by today's at login.
    old_salt = secrets.token_bytes(16)
    old = hashlib.scrypt(GOOD.encode(), salt=old_salt, n=2**14, r=8, p=1, dklen=32)
    legacy = f"scrypt${2**14}$8$1${old_salt.hex()}${old.hex()}"
    with db.writing() as session:
        session.execute(sa.update(User).where(User.username == "nowy")
                        .values(password_hash=legacy))
    assert users.needs_rehash(legacy)
    assert users.authenticate(db, "nowy", "wrong-password-1") is None
    assert _stored(db, "nowy") == legacy  # a wrong password changes nothing
    assert users.authenticate(db, "nowy", GOOD) is not None
    upgraded = _stored(db, "nowy")
    assert upgraded != legacy and upgraded.split("$")[1] == str(2**17)
    assert users.authenticate(db, "nowy", GOOD) is not None


def test_password_change_and_disabling_end_every_session(db: Database) -> None:
    view = users.create_user(db, username="k1", full_name="K", role="consultant", password=GOOD)
    tokens = [users.open_session(db, view.id, at=AT) for _ in range(2)]
    assert all(users.session_user(db, t, at=AT) == view for t in tokens)
    assert users.set_password(db, "k1", "inne-haslo-do-pracy") == 2
    assert all(users.session_user(db, t, at=AT) is None for t in tokens)
    assert users.authenticate(db, "k1", GOOD) is None
    assert users.authenticate(db, "k1", "inne-haslo-do-pracy") is not None
    with pytest.raises(ValidationError) as err:
        users.set_password(db, "k1", reference.DEMO_PASSWORD + "!!!")
    assert "demo password" in err.value.fields["password"]
    token = users.open_session(db, view.id, at=AT)
    users.set_active(db, "k1", False)
    assert users.session_user(db, token, at=AT) is None
    assert users.authenticate(db, "k1", "inne-haslo-do-pracy") is None
    users.set_active(db, "k1", True)
    assert users.authenticate(db, "k1", "inne-haslo-do-pracy") is not None
    with pytest.raises(NotFound):
        users.set_active(db, "nobody", False)


def test_sessions_end_when_idle_and_extend_on_activity(seeded: Database) -> None:
    user = users.get_user(seeded, "kierownik")
    token = users.open_session(seeded, user.id, at=AT)
    at = AT
    for _ in range(5):  # a request every 25 minutes keeps it alive
        at += timedelta(minutes=25)
        assert users.session_user(seeded, token, at=at) == user
    assert users.session_user(seeded, token, at=at + timedelta(minutes=31)) is None
    assert users.session_user(seeded, token, at=at) is None  # gone, not only refused
    short = users.open_session(seeded, user.id, at=AT)
    idle = timedelta(minutes=5)
    assert users.session_user(seeded, short, at=AT + timedelta(minutes=4), idle=idle) == user
    assert users.session_user(seeded, short, at=AT + timedelta(minutes=10), idle=idle) is None


def test_role_queues_and_skills_of_an_agent(seeded: Database) -> None:
    setup = users.agent_setup(seeded, "konsultant2")
    assert setup.memberships["czystosc"] == 0 and setup.skills["waste"] == 5
    token = users.open_session(seeded, setup.user.id, at=AT)
    assert users.remove_queue_member(seeded, "czystosc", "konsultant2")
    assert not users.remove_queue_member(seeded, "czystosc", "konsultant2")
    assert users.remove_skill(seeded, "konsultant2", "waste")
    cc.set_queue_member(seeded, "halas", "konsultant2", penalty=3)
    cc.set_agent_skill(seeded, "konsultant2", "noise", 4)
    after = users.agent_setup(seeded, "konsultant2")
    assert "czystosc" not in after.memberships and after.memberships["halas"] == 3
    assert "waste" not in after.skills and after.skills["noise"] == 4
    # What the ACD reads (cti.crm_link.CrmDirectory goes through list_queues).
    members = {q.name: [m.username for m in q.members] for q in cc.list_queues(seeded)}
    assert "konsultant2" in members["halas"] and "konsultant2" not in members["czystosc"]
    changed = users.update_user(seeded, "konsultant2", role="supervisor", full_name="P. K.",
                                extension="1005")
    assert (changed.role, changed.full_name, changed.extension) == ("supervisor", "P. K.", "1005")
    assert users.session_user(seeded, token, at=AT) is None  # a new role means a new login
    with pytest.raises(ValidationError):
        users.update_user(seeded, "konsultant2", role="boss")
    with pytest.raises(NotFound):
        users.remove_queue_member(seeded, "nosuchqueue", "konsultant2")


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ckm")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    result: int = args.handler(args, settings)
    return result


def test_ckm_users_add_passwd_disable_enable_list(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path)
    assert _run(settings, "seed") == 0
    capsys.readouterr()
    assert _run(settings, "users", "add", "jnowak", "--role", "consultant", "--name",
                "Jan Nowak", "--extension", "1004", "--generate") == 0
    out = capsys.readouterr().out
    assert "created jnowak (consultant)" in out
    password = out.split("password (shown once): ")[1].strip()
    db = Database(db_url)
    try:
        assert users.authenticate(db, "jnowak", password) is not None
        assert _stored(db, "jnowak").count(password) == 0
        # Refused with the reason, nothing created.
        assert _run(settings, "users", "add", "zly", "--role", "admin",
                    "--password", "demo19115") == 1
        err = capsys.readouterr().err
        assert "ckm users: password: at least 12 characters" in err
        assert _run(settings, "users", "add", "zly2", "--role", "admin",
                    "--password", "demo19115-demo19115") == 1
        assert "demo password" in capsys.readouterr().err
        assert [u.username for u in users.list_users(db)] == ["jnowak"]
        token = users.open_session(db, users.get_user(db, "jnowak").id)
        assert _run(settings, "users", "passwd", "jnowak", "--password", GOOD) == 0
        assert "1 session(s) ended" in capsys.readouterr().out
        assert users.session_user(db, token) is None
        assert users.authenticate(db, "jnowak", GOOD) is not None
        assert _run(settings, "users", "disable", "jnowak") == 0
        assert "disabled" in capsys.readouterr().out
        assert users.authenticate(db, "jnowak", GOOD) is None
        assert _run(settings, "users", "list") == 0
        listing = capsys.readouterr().out.splitlines()
        assert listing[1].split()[:4] == ["jnowak", "consultant", "1004", "no"]
        assert _run(settings, "users", "enable", "jnowak") == 0
        assert users.authenticate(db, "jnowak", GOOD) is not None
        assert _run(settings, "users", "disable", "nobody") == 1
        assert "user 'nobody' not found" in capsys.readouterr().err
    finally:
        db.dispose()


def test_start_up_warns_of_no_admin_and_of_live_demo_accounts(db: Database) -> None:
    from crm_core.seed import account_warnings

    seed(db)
    assert [w.split(":")[0] for w in account_warnings(db)] == ["no active admin account"]
    users.create_user(db, username="szef", full_name="Szef", role="admin", password=GOOD)
    assert account_warnings(db) == []
    seed(db, demo=True)
    assert ["demo accounts active" in w and "kierownik" in w for w in account_warnings(db)] == [True]

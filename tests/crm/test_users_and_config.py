"""Logins, roles, and the contact-center configuration other packages read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import User
from crm_core.seed import reference, seed
from crm_core.services import contact_center as cc
from crm_core.services import users

AT = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def test_demo_accounts_log_in_with_the_documented_password(seeded: Database) -> None:
    for username in ("konsultant1", "konsultant2", "konsultant3", "kierownik", "autor", "admin"):
        user = users.authenticate(seeded, username, reference.DEMO_PASSWORD)
        assert user is not None and user.username == username
    assert users.authenticate(seeded, "kierownik", "wrong-password") is None
    assert users.authenticate(seeded, "nobody", reference.DEMO_PASSWORD) is None
    assert users.get_user(seeded, "kierownik").role == "supervisor"
    with seeded.reading() as session:
        stored = session.scalar(sa.select(User.password_hash).where(User.username == "admin"))
    assert stored is not None and reference.DEMO_PASSWORD not in stored


def test_seed_twice_changes_nothing(seeded: Database) -> None:
    assert str(seed(seeded, demo=True)) == "seed: everything already in place"


def test_user_fields_are_validated(db: Database) -> None:
    with pytest.raises(ValidationError) as err:
        users.create_user(db, username="a b", full_name="", role="boss", password="short")
    assert set(err.value.fields) == {"username", "full_name", "role", "password"}
    users.create_user(db, username="k9", full_name="K Dziewięć", role="consultant",
                      password="długie-hasło")  # fmt: skip
    with pytest.raises(ValidationError) as err:
        users.create_user(db, username="k9", full_name="X", role="admin", password="12345678")
    assert "taken" in err.value.fields["username"]
    users.set_password(db, "k9", "nowe-haslo-1")
    assert users.authenticate(db, "k9", "nowe-haslo-1") is not None


def test_web_sessions_expire_and_close(seeded: Database) -> None:
    user = users.get_user(seeded, "konsultant1")
    token = users.open_session(seeded, user.id, at=AT)
    # Used every 20 minutes it lives 12 hours; then it expires whatever the activity.
    for minutes in range(20, 12 * 60, 20):
        assert users.session_user(seeded, token, at=AT + timedelta(minutes=minutes)) == user
    assert users.session_user(seeded, token, at=AT + timedelta(hours=12)) is None
    users.close_session(seeded, token)
    assert users.session_user(seeded, token, at=AT) is None


def test_queues_members_and_codes_are_there_for_the_acd_and_desktop(seeded: Database) -> None:
    queues = {q.name: q for q in cc.list_queues(seeded)}
    assert set(queues) == {"ogolna", "transport", "drogi", "czystosc", "zwierzeta", "zielen",
                           "halas", "informacja"}  # fmt: skip
    assert queues["transport"].overflow_queue == "ogolna"
    assert [m.username for m in queues["ogolna"].members][-1] == "kierownik"  # highest penalty
    assert queues["ogolna"].members[0].extension is not None
    assert "case_created" in {d.code for d in cc.list_dispositions(seeded)}
    assert "meal" in {p.code for p in cc.list_pause_reasons(seeded)}
    assert cc.agent_skills(seeded, "konsultant2")["waste"] == 5
    cc.create_queue(seeded, name="wybory", display_name="Wybory", overflow_queue="ogolna")
    cc.set_queue_member(seeded, "wybory", "konsultant3", penalty=2)
    assert [m.username for m in cc.get_queue(seeded, "wybory").members] == ["konsultant3"]
    with pytest.raises(ValidationError) as err:
        cc.create_queue(seeded, name="x y", display_name="X", strategy="random")
    assert set(err.value.fields) == {"name", "strategy"}


def test_ivr_script_versions_are_immutable_and_one_is_active(db: Database) -> None:
    v1 = cc.save_script_version(db, "glowne", "start: powitanie\n", comment="pierwsza", at=AT)
    v2 = cc.save_script_version(db, "glowne", "start: menu\n", at=AT)
    assert (v1.version, v2.version) == (1, 2)
    assert cc.active_script(db, "glowne") is None
    cc.publish_script_version(db, "glowne", 1, at=AT)
    cc.publish_script_version(db, "glowne", 2, at=AT)
    active = cc.active_script(db, "glowne")
    assert active is not None and active.version == 2 and active.yaml_text == "start: menu\n"
    assert [v.is_active for v in cc.script_versions(db, "glowne")] == [False, True]
    with pytest.raises(NotFound):
        cc.publish_script_version(db, "glowne", 7)


def test_open311_keys_verify_until_revoked(db: Database) -> None:
    view, key = cc.create_api_key(db, "Aplikacja Mój Warszawiak", rate_limit_per_min=120)
    assert cc.verify_api_key(db, key) == view
    assert cc.verify_api_key(db, key + "x") is None
    cc.revoke_api_key(db, view.prefix, at=AT)
    assert cc.verify_api_key(db, key) is None

"""The schema is created from nothing and removed again by Alembic on both engines."""

from __future__ import annotations

import sqlalchemy as sa

from crm_core.db import create_engine, current_revision, downgrade, head_revision, migrate

EXPECTED = {
    "residents", "resident_phones", "users", "departments", "categories", "routing_rules",
    "interactions", "interaction_ivr_steps", "applied_events", "cases", "case_status_history",
    "case_interactions", "case_number_counters", "kb_articles", "kb_article_versions",
    "disposition_codes", "pause_reasons", "ivr_script_versions", "queues", "queue_members",
    "agent_skills", "api_keys", "web_sessions", "department_members", "sla_rules", "case_work",
    "case_notes",
}  # fmt: skip


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_then_downgrade_to_base(db_url: str) -> None:
    # db_url is already at head: go down to nothing, then up again, then down.
    downgrade(db_url, "base")
    assert current_revision(db_url) is None
    assert _tables(db_url) <= {"alembic_version"}
    migrate(db_url)
    assert current_revision(db_url) == head_revision()
    assert _tables(db_url) >= EXPECTED
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert "kb_fts" in _tables(db_url)
            else:
                extensions = set(conn.exec_driver_sql("SELECT extname FROM pg_extension").scalars())
                assert {"unaccent", "pg_trgm"} <= extensions
                indexes = {i["name"] for i in sa.inspect(conn).get_indexes("kb_articles")}
                assert {"ix_kb_articles_fts", "ix_kb_articles_title_trgm"} <= indexes
    finally:
        engine.dispose()
    downgrade(db_url, "base")
    assert _tables(db_url) <= {"alembic_version"}


def test_migrate_is_a_no_op_when_current(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)
    assert current_revision(db_url) == head_revision()


def test_queue_call_handling_settings_reach_the_acd(db_url: str) -> None:
    """Wrap-up, ring timeout, auto-pause, recording and callback attempts come from the CRM
    (before migration 0002 every queue ran the ACD's 10 s default wrap-up)."""
    from crm_core.db import Database
    from crm_core.models.contact_center import Queue
    from crm_core.services import contact_center as cc
    from cti.crm_link import queue_config

    db = Database(db_url)
    try:
        cc.create_queue(db, name="proba", display_name="Próba")
        with db.writing() as session:
            queue = session.scalars(sa.select(Queue).where(Queue.name == "proba")).one()
            queue.wrapup_s, queue.ring_timeout_s, queue.autopause_after = 90, 20, 0
            queue.record_calls, queue.callback_attempts, queue.callback_retry_s = True, 2, 120
        config = queue_config(cc.get_queue(db, "proba"), frozenset())
    finally:
        db.dispose()
    assert (config.wrapup_s, config.ring_timeout_s, config.autopause_after, config.record,
            config.callback_attempts, config.callback_retry_s) == (90, 20, 0, True, 2, 120)

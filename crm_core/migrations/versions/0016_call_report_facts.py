"""call_facts (PostgreSQL): each phone call as the contact-center report reads it — its queue,
language and consultant, its durations in whole milliseconds, its yes/no figures and the
moment (whole seconds since the epoch) of each kind of figure it has, NULL where it has none —
kept by the database itself at every write of a call or of its IVR steps (statement-level
triggers, so a batch of the recorder's writes or a bulk insert refreshes its calls once), and
filled here for the calls already recorded.

Why: reports_calls_sql read the month's calls from interactions and worked all of that out per
call at every report: ~40 ms of the ~135 ms statement for November's 34k calls on
bench.reports_bench's year (the IVR steps probed for self-service alone ~17 ms), which kept a
month by 15 minutes over its 300 ms at p99. Why triggers and not the recorder's code: every
writer of a call (the outbox writer's batches, the desk's wrap-up, a bulk load) keeps the
facts without knowing of them, and the definitions stay in one place, SQL, as before. SQLite
has no call_facts: its report folds the calls in Python (reports_calls.fold_calls).

The definitions are reports_calls' (its docstring): an offer when the call joined a queue, an
answer at connecting unless it was a callback, an abandon when the caller hung up in the queue
(not after asking for a callback), a callback made at its last attempt if reached or failed,
IVR self-service at the start of a call that never queued and went through a node named
`status_…` or `info_…` (reports_calls.SELF_SERVICE_PREFIXES; tests/crm/test_reports_calls.py
compares the report with the fold, which reads the steps themselves).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# round() of a float8 is half to even, as reports_calls.ms; floor of the epoch: the whole
# second a moment falls in (its bucket is worked out per report, by the filter's hours).
REFRESH = """
CREATE FUNCTION refresh_call_facts(ids integer[]) RETURNS void LANGUAGE sql AS $$
INSERT INTO call_facts
SELECT i.id, i.started_at, NULLIF(i.queue, ''), COALESCE(NULLIF(i.language, ''), '?'),
       i.agent_username, COALESCE(i.wait_s, 0), round(COALESCE(i.wait_s, 0) * 1000)::bigint,
       round(greatest(0, COALESCE(i.talk_s, 0) - COALESCE(i.hold_s, 0)) * 1000)::bigint,
       round(COALESCE(i.hold_s, 0) * 1000)::bigint,
       CASE WHEN i.wrapped_up_at IS NOT NULL AND i.ended_at IS NOT NULL
            THEN round(greatest(0, extract(epoch FROM i.wrapped_up_at - i.ended_at)::float8)
                       * 1000)::bigint
            ELSE 0 END,
       round(COALESCE(i.talk_s, 0) * 1000)::bigint,
       i.ended_at IS NOT NULL, i.transferred_to IS NOT NULL,
       COALESCE(i.callback_status = 'reached', false),
       CASE WHEN i.queue <> '' THEN floor(date_part('epoch', i.queued_at))::bigint END,
       CASE WHEN i.callback_requested_at IS NULL
            THEN floor(date_part('epoch', i.connected_at))::bigint END,
       CASE WHEN i.left_queue_reason = 'abandoned' AND i.callback_requested_at IS NULL
            THEN floor(date_part('epoch', i.left_queue_at))::bigint END,
       floor(date_part('epoch', i.callback_requested_at))::bigint,
       CASE WHEN i.callback_requested_at IS NOT NULL
                 AND i.callback_status IN ('reached', 'failed')
            THEN floor(date_part('epoch', i.callback_done_at))::bigint END,
       CASE WHEN i.queued_at IS NULL AND EXISTS (
                SELECT 1 FROM interaction_ivr_steps s
                WHERE s.interaction_id = i.id
                  AND (starts_with(s.node, 'status_') OR starts_with(s.node, 'info_')))
            THEN floor(date_part('epoch', i.started_at))::bigint END
FROM interactions i
WHERE i.id = ANY(ids) AND i.channel = 'phone'
ON CONFLICT (interaction_id) DO UPDATE SET
    started_at = EXCLUDED.started_at, queue = EXCLUDED.queue, language = EXCLUDED.language,
    agent = EXCLUDED.agent, wait = EXCLUDED.wait, wait_ms = EXCLUDED.wait_ms,
    talk_ms = EXCLUDED.talk_ms, hold_ms = EXCLUDED.hold_ms, wrapup_ms = EXCLUDED.wrapup_ms,
    agent_talk_ms = EXCLUDED.agent_talk_ms, ended = EXCLUDED.ended,
    transferred = EXCLUDED.transferred, reached = EXCLUDED.reached,
    offered_s = EXCLUDED.offered_s, answered_s = EXCLUDED.answered_s,
    abandoned_s = EXCLUDED.abandoned_s, requested_s = EXCLUDED.requested_s,
    made_s = EXCLUDED.made_s, served_s = EXCLUDED.served_s
$$
"""

TRIGGERS = """
CREATE FUNCTION call_facts_of_calls() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_call_facts(ARRAY(SELECT id FROM changed));
    RETURN NULL;
END $$;
CREATE FUNCTION call_facts_of_steps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_call_facts(ARRAY(SELECT DISTINCT interaction_id FROM changed));
    RETURN NULL;
END $$;
CREATE TRIGGER call_facts_on_insert AFTER INSERT ON interactions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION call_facts_of_calls();
CREATE TRIGGER call_facts_on_update AFTER UPDATE ON interactions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION call_facts_of_calls();
CREATE TRIGGER call_facts_on_steps AFTER INSERT ON interaction_ivr_steps
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION call_facts_of_steps();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE TABLE call_facts (
            interaction_id integer PRIMARY KEY REFERENCES interactions (id) ON DELETE CASCADE,
            started_at timestamptz NOT NULL,
            queue varchar(40),
            language varchar(8) NOT NULL,
            agent varchar(64),
            wait float8 NOT NULL,
            wait_ms bigint NOT NULL,
            talk_ms bigint NOT NULL,  -- connect to hang-up less hold
            hold_ms bigint NOT NULL,
            wrapup_ms bigint NOT NULL,
            agent_talk_ms bigint NOT NULL,  -- with hold (a consultant's AHT)
            ended boolean NOT NULL,
            transferred boolean NOT NULL,
            reached boolean NOT NULL,
            offered_s bigint, answered_s bigint, abandoned_s bigint, requested_s bigint,
            made_s bigint, served_s bigint
        )""")
    op.execute("CREATE INDEX ix_call_facts_started ON call_facts (started_at)")
    op.execute(REFRESH)
    op.execute(TRIGGERS)
    op.execute("SELECT refresh_call_facts(ARRAY(SELECT id FROM interactions WHERE channel = 'phone'))")
    op.execute("ANALYZE call_facts")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER call_facts_on_steps ON interaction_ivr_steps")
    op.execute("DROP TRIGGER call_facts_on_update ON interactions")
    op.execute("DROP TRIGGER call_facts_on_insert ON interactions")
    op.execute("DROP FUNCTION call_facts_of_steps()")
    op.execute("DROP FUNCTION call_facts_of_calls()")
    op.execute("DROP FUNCTION refresh_call_facts(integer[])")
    op.execute("DROP TABLE call_facts")

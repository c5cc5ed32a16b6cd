"""the department inbox's search served by two GIN indexes, one over the open cases and one over
the finished ones: the department and the case's searchable text (number, address, description,
place, joined by a unit separator) as trigrams (PostgreSQL: btree_gin, a trusted extension like
pg_trgm, puts the department's id into the GIN index), with statistics on that text so that the
planner knows a common word from a rare one; migration 0009's per-column trigram indexes, which
only this search used, are dropped; SQLite keeps scanning

bench.dept_inbox (500k cases, EXPLAIN ANALYZE): a search read every open case of the department
(~7.5k for ZDM) and ran four ILIKEs on each, twice per view (tab counts, page): 'Testowa 17'
33-48 ms per statement; now 1.2 ms ('Testowa 17') and 3.6-6 ms ('latarnia', 1.5k matches). In
the finished cases the planner, which had no estimate for the text, chose one plan for every
word; with the statistics a common word ('latarnia', a fifth of them) walks the department's
cases by latest change (2.7 ms for a page), a rare one ('Testowa 17') reads its matches from
the index (12 ms, before 40).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# the same expression as crm_core.services.department.SEARCH_TEXT: PostgreSQL uses an
# expression index (and expression statistics) only for a query with the same expression
TEXT = ("coalesce(number, '') || E'\\x1f' || coalesce(address, '') || E'\\x1f' || "
        "coalesce(description, '') || E'\\x1f' || coalesce(location_text, '')")
PARTS = {"ix_cases_open_search": "status IN ('forwarded', 'in_progress')",
         "ix_cases_done_search": "status IN ('resolved', 'rejected', 'closed')"}
OLD_COLUMNS = ("number", "address", "description", "location_text")  # migration 0009's


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    for name, where in PARTS.items():
        op.execute(f"CREATE INDEX {name} ON cases USING gin "
                   f"(department_id, ({TEXT}) gin_trgm_ops) WHERE {where}")
    op.execute(f"CREATE STATISTICS st_cases_search_text ON (({TEXT})) FROM cases")
    for column in OLD_COLUMNS:
        op.drop_index(f"ix_cases_{column}_trgm", table_name="cases")
    op.execute("ANALYZE cases")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in OLD_COLUMNS:
        op.create_index(f"ix_cases_{column}_trgm", "cases", [column], postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"})
    op.execute("DROP STATISTICS st_cases_search_text")
    for name in reversed(PARTS):
        op.execute(f"DROP INDEX {name}")

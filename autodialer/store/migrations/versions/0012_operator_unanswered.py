"""A click-to-call whose operator never answered did not reach the callee (issue 14 item 3):

outcomes.FailureKind gets `operator_unanswered` (the operator's leg, dialed first, ended without
an answer, so dialer-callback never dialed the client), and outcomes.NOT_REACHING_FAILURES has
it: such an attempt keeps its operator leg's status (NO_ANSWER, BUSY...) for analysts but counts
against none of the client's contact-frequency limits and in none of the compliance figures.

- contact_attempts (0007's, the attempts that reached the callee's phone) excludes it;
- compliance_daily, which reads contact_attempts, is recreated as 0011 has it (PostgreSQL does
  not let a view be replaced under a view that reads it);
- attempts.failure's comment lists the new kind (PostgreSQL; SQLite has no comments).

The lists are literals (a migration is frozen); tests/test_compliance.py checks the views
against autodialer.telephony.outcomes.

Revision ID: 0012
Revises: 0015
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None

NOT_REACHING_STATUSES = "'BLOCKED', 'NOT_SENT'"
NOT_REACHING_FAILURES = "'not_sent', 'operator_unanswered', 'refused'"
FAILURE_COMMENT = ("Why it failed: not_sent, refused, link_lost, unknown, stopped_ringing, no_report, run_died, "
                   "operator_unanswered (click-to-call: the client was never dialed) (NULL: it did not).")
OLD_FAILURE_COMMENT = ("Why it failed: not_sent, refused, link_lost, unknown, stopped_ringing, no_report, run_died "
                       "(NULL: it did not).")
CONTACT_ATTEMPTS_COMMENT = ("The attempts that reached the callee's phone (not: never sent, refused, blocked, a "
                            "click-to-call whose operator never answered), with the callee-local day, ISO week and month.")


def _module(file_name: str, name: str):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file_name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _contact_attempts(sql, not_reaching_failures: str) -> str:
    day = f"substr(COALESCE(a.local_start, {sql['utc_start']}), 1, 10)"
    return f"""CREATE VIEW contact_attempts AS
SELECT a.attempt_id, a.campaign_id, a.contact_id, a.number, a.started_at, a.status, a.failure,
       a.callee_zones, a.outside_window,
       {day} AS local_day,
       {sql['monday'](day)} AS local_week,
       substr({day}, 1, 7) AS local_month
FROM attempts a
WHERE a.status NOT IN ({NOT_REACHING_STATUSES})
  AND (a.failure IS NULL OR a.failure NOT IN ({not_reaching_failures}))"""


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rebuild(not_reaching_failures: str, failure_comment: str, view_comment: str | None) -> None:
    dialect = op.get_bind().dialect.name
    m11 = _module("0011_abandonment_one_definition.py", "m0011")
    sql = m11._sql(dialect)
    op.execute("DROP VIEW IF EXISTS compliance_daily")
    op.execute("DROP VIEW IF EXISTS contact_attempts")
    op.execute(_contact_attempts(sql, not_reaching_failures))
    op.execute(m11._compliance_daily(sql))
    if dialect == "postgresql":
        if view_comment:
            op.execute(f"COMMENT ON VIEW contact_attempts IS {_lit(view_comment)}")
        op.execute(f"COMMENT ON VIEW compliance_daily IS {_lit(m11.VIEW_COMMENTS['compliance_daily'])}")
        op.execute(f'COMMENT ON COLUMN "attempts"."failure" IS {_lit(failure_comment)}')


def upgrade() -> None:
    _rebuild(NOT_REACHING_FAILURES, FAILURE_COMMENT, CONTACT_ATTEMPTS_COMMENT)


def downgrade() -> None:
    _rebuild("'not_sent', 'refused'", OLD_FAILURE_COMMENT, None)  # 0007's view had no comment

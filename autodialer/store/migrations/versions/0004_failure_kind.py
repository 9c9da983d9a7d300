"""attempts.failure: why an attempt failed, as a column (outcomes.FailureKind: not_sent, refused,
link_lost, unknown, stopped_ringing, no_report, run_died) instead of prefixes of the error text;
campaign_summary counts the UNKNOWN outcome (ended during an AMI outage, no CDR to say how).

Rows written before this revision get their kind from the error texts the code wrote then.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_STATUSES = ["ANSWERED", "BUSY", "NO_ANSWER", "CONGESTION", "REJECTED", "INVALID_NUMBER", "FAILED", "ABANDONED",
                "MACHINE", "BLOCKED"]
STATUSES = OLD_STATUSES + ["UNKNOWN"]

# (kind, condition on the old error text) in order; the first that matches wins.
BACKFILL = [
    ("stopped_ringing", "status = 'NO_ANSWER' AND error LIKE 'stopped ringing after %'"),
    ("refused", "error LIKE 'Originate refused%'"),
    ("not_sent", "error LIKE 'AmiConnectionError%' OR error LIKE 'AmiConnectionLost%' OR error LIKE 'refused before sending%'"),
    ("link_lost", "error = 'connection lost'"),
    ("run_died", "error = 'run died; outcome unknown'"),
    ("no_report", "error LIKE 'no OriginateResponse%' OR error LIKE 'no hangup reported%' OR error LIKE 'legs still up%'"
                  " OR error LIKE 'no response to Originate%'"),
]


def _campaign_summary(statuses) -> str:
    by_status = ",\n".join(
        f"    SUM(CASE WHEN k.last_status = '{s}' THEN 1 ELSE 0 END) AS {s.lower()}" for s in statuses
    )
    return f"""CREATE VIEW campaign_summary AS
SELECT
    c.name AS campaign,
    c.kind AS kind,
    COUNT(k.id) AS contacts,
    SUM(CASE WHEN k.state = 'done' THEN 1 ELSE 0 END) AS done,
    SUM(CASE WHEN k.last_status = 'ANSWERED' THEN 1 ELSE 0 END) AS successful,
    SUM(CASE WHEN k.state = 'pending' THEN 1 ELSE 0 END) AS pending,
    SUM(CASE WHEN k.state = 'dialing' THEN 1 ELSE 0 END) AS dialing,
    SUM(CASE WHEN k.id IS NOT NULL AND k.last_status IS NULL THEN 1 ELSE 0 END) AS not_called,
    COALESCE(SUM(k.attempts), 0) AS attempts,
{by_status}
FROM campaigns c
LEFT JOIN contacts k ON k.campaign_id = c.id
GROUP BY c.id, c.name, c.kind"""


def upgrade() -> None:
    op.add_column("attempts", sa.Column("failure", sa.String(20), nullable=True))
    for kind, condition in BACKFILL:
        op.execute(f"UPDATE attempts SET failure = '{kind}' WHERE failure IS NULL AND error IS NOT NULL AND ({condition})")
    op.execute("DROP VIEW IF EXISTS campaign_summary")
    op.execute(_campaign_summary(STATUSES))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS campaign_summary")
    op.execute(_campaign_summary(OLD_STATUSES))
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("failure")

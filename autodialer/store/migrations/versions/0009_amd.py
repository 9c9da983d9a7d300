"""Answering-machine detection: attempts.amd_status / amd_cause / amd_action / amd_seconds (what
AMD said, why, what the dialplan did, seconds from the answer to the verdict); the outcome
MACHINE_MESSAGE (a voicemail message left) gets its column in campaign_summary.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_STATUSES = ["ANSWERED", "BUSY", "NO_ANSWER", "CONGESTION", "REJECTED", "INVALID_NUMBER", "FAILED", "ABANDONED",
                "MACHINE", "BLOCKED", "UNKNOWN"]
STATUSES = OLD_STATUSES + ["MACHINE_MESSAGE"]


def _campaign_summary(statuses) -> str:
    # As revision 0004 made it, with one column per status.
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
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("amd_status", sa.String(10), nullable=True))
        batch.add_column(sa.Column("amd_cause", sa.String(60), nullable=True))
        batch.add_column(sa.Column("amd_action", sa.String(10), nullable=True))
        batch.add_column(sa.Column("amd_seconds", sa.Float, nullable=True))
    op.execute("DROP VIEW IF EXISTS campaign_summary")
    op.execute(_campaign_summary(STATUSES))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS campaign_summary")
    op.execute(_campaign_summary(OLD_STATUSES))
    with op.batch_alter_table("attempts") as batch:
        for name in ("amd_seconds", "amd_action", "amd_cause", "amd_status"):
            batch.drop_column(name)

"""Runs and their leases (runs): a run holds a lease in the outcome database, renewed by a
heartbeat and timed by the database's clock, so the next run closes only the attempts of a run
that is really gone (issue 13), never those of a live one whose worker clock runs behind. The row
is also the run's record: campaign, deployment, start, end, settings snapshot and counts.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from autodialer.store.types import BigId, Json, UtcDateTime

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(100), primary_key=True),
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("deployment", sa.String(200), nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("heartbeat_at", UtcDateTime, nullable=False),
        sa.Column("lease_expires_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("end_reason", sa.String(40), nullable=True),
        sa.Column("settings", Json, nullable=True),
        sa.Column("counts", Json, nullable=True),
        sa.Index("ix_runs_campaign_started", "campaign_id", "started_at"),
    )


def downgrade() -> None:
    op.drop_table("runs")

"""What a campaign's predictive pacer learned (pacing_state), so the next run starts from it
rather than from the cautious default: the gain, the measured attempt ends and handle times.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa

from autodialer.store.types import BigId, Json, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pacing_state",
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), primary_key=True, autoincrement=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("state", Json, nullable=False),
        sa.Column("saved_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pacing_state")

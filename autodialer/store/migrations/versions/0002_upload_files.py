"""Keep each uploaded file as it was (upload_files) and how it was read (uploads.read_options);
the per-row copy of the cells (contact_sources.data) goes: export re-reads the file itself.
The due-contacts index gets `id`, so both halves of due_contacts are index scans.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa

from autodialer.store.types import BigId, Json

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_files",
        sa.Column("upload_id", BigId, sa.ForeignKey("uploads.id"), primary_key=True, autoincrement=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("read_options", Json, nullable=True))
    with op.batch_alter_table("contact_sources") as batch:
        batch.drop_column("data")
    # due_contacts reads never-tried contacts by id and due retries by time, id: both in index order.
    op.drop_index("ix_contacts_due", table_name="contacts")
    op.create_index("ix_contacts_due", "contacts", ["campaign_id", "state", "next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_contacts_due", table_name="contacts")
    op.create_index("ix_contacts_due", "contacts", ["campaign_id", "state", "next_attempt_at"])
    with op.batch_alter_table("contact_sources") as batch:
        batch.add_column(sa.Column("data", sa.Text, nullable=False, server_default="{}"))
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("read_options")
    op.drop_table("upload_files")

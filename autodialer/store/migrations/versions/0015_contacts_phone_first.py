"""contacts: one index for "this number", not two. The unique (campaign_id, phone) becomes
(phone, campaign_id) and 0008's ix_contacts_phone goes: a phone-first unique index answers both
"this number in this campaign" (the import, click-to-call) and "this number in every campaign"
(analysts, the contact-frequency limits), and a campaign's own scans use ix_contacts_due
(campaign_id first). Each index on contacts costs the million-row import ~6 s of PostgreSQL time
(bench/list_ingest.py; bench/README.md).

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None


def _unique(columns: list[str]) -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("uq_contacts_campaign_phone", type_="unique")
        batch.create_unique_constraint("uq_contacts_campaign_phone", columns)


def upgrade() -> None:
    op.drop_index("ix_contacts_phone", "contacts")
    _unique(["phone", "campaign_id"])


def downgrade() -> None:
    _unique(["campaign_id", "phone"])
    op.create_index("ix_contacts_phone", "contacts", ["phone"])

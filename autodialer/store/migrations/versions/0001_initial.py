"""Initial outcome store: campaigns, uploads, contacts, contact_sources, attempts, exclusions,
rejects, and the analyst views campaign_summary and outcomes_by_hour.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa

from autodialer.store.types import BigId, Json, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = ["ANSWERED", "BUSY", "NO_ANSWER", "CONGESTION", "REJECTED", "INVALID_NUMBER", "FAILED", "ABANDONED", "MACHINE", "BLOCKED"]


def _campaign_summary() -> str:
    by_status = ",\n".join(
        f"    SUM(CASE WHEN k.last_status = '{s}' THEN 1 ELSE 0 END) AS {s.lower()}" for s in STATUSES
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


def _outcomes_by_hour(dialect: str) -> str:
    if dialect == "postgresql":
        hour = "date_trunc('hour', a.started_at AT TIME ZONE 'UTC')"
    else:
        hour = "strftime('%Y-%m-%d %H:00:00', a.started_at)"
    return f"""CREATE VIEW outcomes_by_hour AS
SELECT
    c.name AS campaign,
    {hour} AS hour,
    a.status AS status,
    COUNT(*) AS attempts,
    COALESCE(SUM(a.talk_seconds), 0) AS talk_seconds
FROM attempts a
JOIN campaigns c ON c.id = a.campaign_id
GROUP BY c.name, {hour}, a.status"""


def upgrade() -> None:

    op.create_table(
        "campaigns",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("settings", Json, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )

    op.create_table(
        "uploads",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=True),  # NULL: global do-not-call
        sa.Column("kind", sa.String(20), nullable=False),  # 'list' | 'exclusions'
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("columns", Json, nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("blank", sa.Integer, nullable=False, server_default="0"),
        sa.Column("accepted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicate", sa.Integer, nullable=False, server_default="0"),
        sa.Column("excluded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("imported_at", UtcDateTime, nullable=False),
        sa.Index("ix_uploads_campaign_sha256", "campaign_id", "kind", "sha256"),
    )

    op.create_table(
        "contacts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        # No foreign keys on the bulk-loaded tables (contacts, contact_sources, rejects): a per-row
        # FK check costs a third of a million-row COPY. Their rows are written only by the import,
        # in the same transaction as their upload, against a campaign row it has locked.
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("phone", sa.String(24), nullable=False),
        sa.Column("alternates", Json, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),  # first of the candidate zones phonenumbers gives
        sa.Column("variables", Json, nullable=False),
        sa.Column("state", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_attempt_at", UtcDateTime, nullable=True),
        sa.Column("next_attempt_at", UtcDateTime, nullable=True),
        sa.Column("last_status", sa.String(20), nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("upload_id", BigId, nullable=False),  # the upload that brought the number first
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("campaign_id", "phone", name="uq_contacts_campaign_phone"),
        sa.Index("ix_contacts_due", "campaign_id", "state", "next_attempt_at"),
    )

    op.create_table(
        "contact_sources",
        # (upload_id, row_number) is the key: one source row links to one contact (no FKs: see contacts).
        sa.Column("upload_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("row_number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("data", sa.Text, nullable=False),  # JSON text of the row's cells: {"column": "text", ...} (cast to jsonb to query)
        sa.Index("ix_contact_sources_contact", "contact_id"),
    )

    op.create_table(
        "attempts",
        sa.Column("attempt_id", sa.String(100), primary_key=True),
        sa.Column("contact_id", BigId, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("run_id", sa.String(100), nullable=True),
        sa.Column("number", sa.String(24), nullable=False),
        sa.Column("caller_id", sa.String(100), nullable=True),
        sa.Column("trunk", sa.String(100), nullable=True),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Integer, nullable=True),
        sa.Column("cause", sa.Integer, nullable=True),
        sa.Column("cause_txt", sa.Text, nullable=True),
        sa.Column("dial_status", sa.String(40), nullable=True),
        sa.Column("channel_id", sa.String(150), nullable=True),
        sa.Column("other_channel_id", sa.String(150), nullable=True),
        sa.Column("channel", sa.Text, nullable=True),
        sa.Column("action_id", sa.String(150), nullable=True),
        sa.Column("queued_at", UtcDateTime, nullable=True),
        sa.Column("answered_at", UtcDateTime, nullable=True),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("talk_seconds", sa.Float, nullable=True),
        sa.Column("events", Json, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Index("ix_attempts_contact", "contact_id"),
        sa.Index("ix_attempts_campaign_status", "campaign_id", "status"),
        sa.Index("ix_attempts_campaign_started", "campaign_id", "started_at"),
    )

    op.create_table(
        "exclusions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=True),  # NULL: global do-not-call
        sa.Column("phone", sa.String(24), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("upload_id", BigId, sa.ForeignKey("uploads.id"), nullable=True),
        sa.Column("added_at", UtcDateTime, nullable=False),
        sa.Index("ix_exclusions_phone", "phone", "campaign_id"),
    )

    op.create_table(
        "rejects",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("upload_id", BigId, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("column", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Index("ix_rejects_upload", "upload_id", "row_number"),
    )
    dialect = op.get_bind().dialect.name
    op.execute(_campaign_summary())
    op.execute(_outcomes_by_hour(dialect))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS outcomes_by_hour")
    op.execute("DROP VIEW IF EXISTS campaign_summary")
    for table in ["rejects", "exclusions", "attempts", "contact_sources", "contacts", "uploads", "campaigns"]:
        op.drop_table(table)

"""The outcome tables (SQLAlchemy Core). The DDL itself lives in migrations/versions/; these
definitions must match it (tests/test_store_migrations.py compares them)."""

from __future__ import annotations

import sqlalchemy as sa

from autodialer.store.types import BigId, Json, UtcDateTime

metadata = sa.MetaData()

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(80), nullable=False),
    sa.Column("settings", Json, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

NO_UPLOAD = 0  # contacts.upload_id (and row_number) of a contact that came from no file (adhoc_contacts.py)

# What a campaign's predictive pacer learned, for its next run (migration 0003).
pacing_state = sa.Table(
    "pacing_state",
    metadata,
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), primary_key=True, autoincrement=False),
    sa.Column("queue", sa.String(100), nullable=False),
    sa.Column("state", Json, nullable=False),
    sa.Column("saved_at", UtcDateTime, nullable=False),
)

# A run of a campaign and its lease (migration 0005). The lease is renewed by the run's heartbeat
# and read against the database's clock: the next run closes the attempts of a run whose lease
# expired, never of one that is alive. end_reason: "finished", "failed", or "expired" when a later
# run found the lease lapsed and took over the run's attempts.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(100), primary_key=True),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("deployment", sa.String(200), nullable=True),
    sa.Column("worker", sa.String(200), nullable=True),  # host:pid
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
    sa.Column("lease_expires_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("end_reason", sa.String(40), nullable=True),
    sa.Column("settings", Json, nullable=True),  # the campaign settings the run used
    sa.Column("counts", Json, nullable=True),  # the run's summary counts, written at its end
    sa.Index("ix_runs_campaign_started", "campaign_id", "started_at"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=True),  # NULL: global do-not-call
    sa.Column("kind", sa.String(20), nullable=False),  # 'list' | 'exclusions'
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("columns", Json, nullable=False),
    sa.Column("read_options", Json, nullable=True),  # how the file was read: encoding, delimiter, header_row, sheet
    sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("blank", sa.Integer, nullable=False, server_default="0"),
    sa.Column("accepted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("duplicate", sa.Integer, nullable=False, server_default="0"),
    sa.Column("excluded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("imported_at", UtcDateTime, nullable=False),
    sa.Index("ix_uploads_campaign_sha256", "campaign_id", "kind", "sha256"),
)

# The file as uploaded, so an export can give the data team back their own rows and columns.
upload_files = sa.Table(
    "upload_files",
    metadata,
    sa.Column("upload_id", BigId, sa.ForeignKey("uploads.id"), primary_key=True, autoincrement=False),
    sa.Column("content", sa.LargeBinary, nullable=False),  # compressed as uploads.read_options says ("zlib")
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # No foreign keys on the bulk-loaded tables (contacts, contact_sources, rejects): a per-row
    # FK check costs a third of a million-row COPY. Their rows are written only by the import,
    # in the same transaction as their upload, against a campaign row it has locked.
    sa.Column("campaign_id", BigId, nullable=False),
    sa.Column("phone", sa.String(24), nullable=False),
    sa.Column("alternates", Json, nullable=False),
    # The zones the calling window must be open in, space-separated (autodialer.zones, migration 0006);
    # NULL: none known (the campaign's own zone is used). timezone_source: registry, area_code, phonenumbers, country.
    sa.Column("timezone", sa.Text, nullable=True),
    sa.Column("timezone_source", sa.String(20), nullable=True),
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
    sa.Index("ix_contacts_due", "campaign_id", "state", "next_attempt_at", "id"),
)

contact_sources = sa.Table(
    "contact_sources",
    metadata,
    # (upload_id, row_number) is the key: one source row links to one contact (no FKs: see contacts).
    sa.Column("upload_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("row_number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Index("ix_contact_sources_contact", "contact_id"),
)

attempts = sa.Table(
    "attempts",
    metadata,
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
    sa.Column("failure", sa.String(20), nullable=True),  # outcomes.FailureKind: why it failed (migration 0004)
    # answering-machine detection (autodialer/amd.py, migration 0009)
    sa.Column("amd_status", sa.String(10), nullable=True),  # HUMAN, MACHINE, NOTSURE, HANGUP
    sa.Column("amd_cause", sa.String(60), nullable=True),  # e.g. MAXWORDS-3-2
    sa.Column("amd_action", sa.String(10), nullable=True),  # connect, hangup, message
    sa.Column("amd_seconds", sa.Float, nullable=True),  # from the answer to the verdict
    # The callee as the claim saw it (migration 0007): the zones the window and the limits were
    # read in (space-separated), the local start in the first of them ('YYYY-MM-DD HH:MM:SS', the
    # compliance view's calendar), and 1 if the window was not open in every zone at the start.
    sa.Column("callee_zones", sa.Text, nullable=True),
    sa.Column("local_start", sa.String(19), nullable=True),
    sa.Column("outside_window", sa.SmallInteger, nullable=True),
    sa.Index("ix_attempts_contact", "contact_id"),
    sa.Index("ix_attempts_number_started", "number", "started_at"),  # the frequency limits, across campaigns
    sa.Index("ix_attempts_campaign_status", "campaign_id", "status"),
    sa.Index("ix_attempts_campaign_started", "campaign_id", "started_at"),
)

exclusions = sa.Table(
    "exclusions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=True),  # NULL: global do-not-call
    sa.Column("phone", sa.String(24), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("upload_id", BigId, sa.ForeignKey("uploads.id"), nullable=True),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.Index("ix_exclusions_phone", "phone", "campaign_id"),
)

rejects = sa.Table(
    "rejects",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("upload_id", BigId, nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("column", sa.Text, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_rejects_upload", "upload_id", "row_number"),
)

"""The outcome tables (SQLAlchemy Core). The DDL itself lives in migrations/versions/; these
definitions must match it (tests/test_store_migrations.py compares them)."""

from __future__ import annotations

import enum

import sqlalchemy as sa

from autodialer.store.types import BigId, Json, UtcDateTime

metadata = sa.MetaData()

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True, comment='Campaign id.'),
    sa.Column("name", sa.String(200), nullable=False, unique=True, comment="The campaign's name (campaign file `name`)."),
    sa.Column("kind", sa.String(80), nullable=False, comment='order_confirmation, bot, recall, conference or callback.'),
    sa.Column("settings", Json, nullable=True, comment='The campaign file as last loaded (JSON): windows, retry policy, caller IDs, script...'),
    sa.Column("created_at", UtcDateTime, nullable=False, comment='When the campaign row was created (UTC).'),
    comment='One row per campaign (campaigns/<name>.yaml), created by its first import or run.',
)



class ContactState(str, enum.Enum):
    """contacts.state: the contact's place in the dialing state machine. pending (due when
    next_attempt_at passes) -> dialing (claim_attempt, before the Originate) -> pending again
    (a retry) or done (finish_attempt). SQL gets `.value`."""

    PENDING = "pending"
    DIALING = "dialing"
    DONE = "done"

    def __str__(self) -> str:
        return self.value


NO_UPLOAD = 0  # contacts.upload_id (and row_number) of a contact that came from no file (store/adhoc.py)

# What a campaign's predictive pacer learned, for its next run (migration 0003).
pacing_state = sa.Table(
    "pacing_state",
    metadata,
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), primary_key=True, autoincrement=False, comment='The campaign.'),
    sa.Column("queue", sa.String(100), nullable=False, comment="The operators' queue the pacer watched."),
    sa.Column("state", Json, nullable=False, comment='What it learned (JSON): gain, recent attempt ends, handle times.'),
    sa.Column("saved_at", UtcDateTime, nullable=False, comment='When it was saved (UTC).'),
    comment="What a campaign's predictive pacer learned, for its next run on the same queue.",
)

# A run of a campaign and its lease (migration 0005). The lease is renewed by the run's heartbeat
# and read against the database's clock: the next run closes the attempts of a run whose lease
# expired, never of one that is alive. end_reason: "finished", "failed", or "expired" when a later
# run found the lease lapsed and took over the run's attempts.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(100), primary_key=True, comment='The Prefect flow run id.'),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False, comment='The campaign run.'),
    sa.Column("deployment", sa.String(200), nullable=True, comment='The Prefect deployment that started it (NULL: started by hand).'),
    sa.Column("worker", sa.String(200), nullable=True, comment='host:pid of the process that ran it.'),  # host:pid
    sa.Column("started_at", UtcDateTime, nullable=False, comment='When the run started (database clock, UTC).'),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False, comment="The run's last heartbeat."),
    sa.Column("lease_expires_at", UtcDateTime, nullable=False, comment="Until when the run's lease holds; a later run takes over its attempts only after this."),
    sa.Column("ended_at", UtcDateTime, nullable=True, comment='When the run ended (NULL: running, or died before its lease lapsed).'),
    sa.Column("end_reason", sa.String(40), nullable=True, comment='finished, failed, or expired (a later run found the lease lapsed).'),
    sa.Column("settings", Json, nullable=True, comment='Snapshot of the campaign settings in force for this run (caller IDs, retry policy...).'),  # the campaign settings the run used
    sa.Column("counts", Json, nullable=True, comment="The run's counts (JSON): dialled by status, skipped by reason..."),  # the run's summary counts, written at its end
    sa.Index("ix_runs_campaign_started", "campaign_id", "started_at"),
    comment="One row per run of a campaign: its lease (renewed by a heartbeat, timed by the database's clock), the settings it ran with and its counts.",
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True, comment='Upload id.'),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=True, comment='The campaign (NULL: a global do-not-call file).'),  # NULL: global do-not-call
    sa.Column("kind", sa.String(20), nullable=False, comment='list or exclusions.'),  # 'list' | 'exclusions'
    sa.Column("file_name", sa.Text, nullable=False, comment="The file's name as uploaded."),
    sa.Column("sha256", sa.String(64), nullable=False, comment="The file's sha256: the same file again adds nothing."),
    sa.Column("columns", Json, nullable=False, comment='The header as read (JSON list).'),
    sa.Column("read_options", Json, nullable=True, comment='How the file was read (JSON): encoding, delimiter, header row, sheet.'),  # how the file was read: encoding, delimiter, header_row, sheet
    sa.Column("rows_read", sa.Integer, nullable=False, server_default="0", comment='Non-blank rows read.'),
    sa.Column("blank", sa.Integer, nullable=False, server_default="0", comment='Blank rows skipped.'),
    sa.Column("accepted", sa.Integer, nullable=False, server_default="0", comment='Rows that became new contacts (or exclusion entries).'),
    sa.Column("duplicate", sa.Integer, nullable=False, server_default="0", comment='Rows whose number was already a contact.'),
    sa.Column("excluded", sa.Integer, nullable=False, server_default="0", comment='Rows on a do-not-call list.'),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0", comment='Rows rejected (see rejects).'),
    sa.Column("imported_at", UtcDateTime, nullable=False, comment='When it was loaded (UTC).'),
    sa.Index("ix_uploads_campaign_sha256", "campaign_id", "kind", "sha256"),
    comment='One row per file loaded: a contact list of a campaign or a do-not-call file.',
)

# The file as uploaded, so an export can give the data team back their own rows and columns.
upload_files = sa.Table(
    "upload_files",
    metadata,
    sa.Column("upload_id", BigId, sa.ForeignKey("uploads.id"), primary_key=True, autoincrement=False, comment='The upload.'),
    sa.Column("content", sa.LargeBinary, nullable=False, comment="The file's bytes, compressed as uploads.read_options says."),  # compressed as uploads.read_options says ("zlib")
    comment="The file of each upload as uploaded (compressed), so exports return the data team's own rows.",
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True, comment='Contact id.'),
    # No foreign keys on the bulk-loaded tables (contacts, contact_sources, rejects): a per-row
    # FK check costs a third of a million-row COPY. Their rows are written only by the import,
    # in the same transaction as their upload, against a campaign row it has locked.
    sa.Column("campaign_id", BigId, nullable=False, comment='The campaign.'),
    sa.Column("phone", sa.String(24), nullable=False, comment='The number dialled, E.164 (+79061234567).'),
    sa.Column("alternates", Json, nullable=False, comment='Further valid numbers of the row (JSON list).'),
    # The zones the calling window must be open in, space-separated (autodialer.zones, migration 0006);
    # NULL: none known (the campaign's own zone is used). timezone_source: registry, area_code, phonenumbers, country.
    sa.Column("timezone", sa.Text, nullable=True, comment="The callee's zones the calling window must be open in, space-separated (NULL: the campaign's zone)."),
    sa.Column("timezone_source", sa.String(20), nullable=True, comment='Where the zone came from: registry, area_code, phonenumbers, country.'),
    sa.Column("variables", Json, nullable=False, comment="The row's channel variables (JSON)."),
    sa.Column("state", sa.String(10), nullable=False, server_default=ContactState.PENDING.value, comment='pending, dialing or done.'),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0", comment='Attempts made (calls that never left are given back).'),
    sa.Column("last_attempt_at", UtcDateTime, nullable=True, comment='When the last attempt started (UTC).'),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True, comment='When it may be dialled next (UTC; NULL: at once or never).'),
    sa.Column("last_status", sa.String(20), nullable=True, comment="The last attempt's status."),
    sa.Column("result", sa.Text, nullable=True, comment='The business result: confirmed, cancelled, operator, q1=3;q2=1, joined...'),
    sa.Column("upload_id", BigId, nullable=False, comment='The upload that brought the number first (0: none, e.g. click-to-call).'),  # the upload that brought the number first
    sa.Column("row_number", sa.Integer, nullable=False, comment='Its row in that file (spreadsheet numbering, header included).'),
    sa.Column("created_at", UtcDateTime, nullable=False, comment='When the contact was created (UTC).'),
    # Phone first (migration 0015): this number in this campaign, and in every campaign, from one index.
    sa.UniqueConstraint("phone", "campaign_id", name="uq_contacts_campaign_phone"),
    sa.Index("ix_contacts_due", "campaign_id", "state", "next_attempt_at", "id"),
    comment='One row per person to call in a campaign (unique by campaign and E.164 number).',
)

contact_sources = sa.Table(
    "contact_sources",
    metadata,
    # (upload_id, row_number) is the key: one source row links to one contact (no FKs: see contacts).
    sa.Column("upload_id", BigId, primary_key=True, autoincrement=False, comment='The upload.'),
    sa.Column("row_number", sa.Integer, primary_key=True, autoincrement=False, comment='The row in the file (spreadsheet numbering).'),
    sa.Column("contact_id", BigId, nullable=False, comment='The contact the row became or joined.'),
    sa.Index("ix_contact_sources_contact", "contact_id"),
    comment='Every list row a contact came from, duplicates included.',
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("attempt_id", sa.String(100), primary_key=True, comment="Attempt id (also the call's ChannelId and Linkedid at the PBX)."),
    sa.Column("contact_id", BigId, sa.ForeignKey("contacts.id"), nullable=False, comment='The contact.'),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False, comment='The campaign.'),
    sa.Column("run_id", sa.String(100), nullable=True, comment='The run that placed it (runs.run_id).'),
    sa.Column("number", sa.String(24), nullable=False, comment='The number dialled, E.164.'),
    sa.Column("caller_id", sa.String(100), nullable=True, comment='The caller ID sent.'),
    sa.Column("trunk", sa.String(100), nullable=True, comment='The trunk used.'),
    sa.Column("started_at", UtcDateTime, nullable=False, comment='When it was claimed, before the Originate (UTC).'),
    sa.Column("status", sa.String(20), nullable=False, comment='Outcome: ANSWERED, BUSY, NO_ANSWER, CONGESTION, REJECTED, INVALID_NUMBER, FAILED, ABANDONED, MACHINE, BLOCKED, UNKNOWN, NOT_SENT; DIALING in flight.'),
    sa.Column("reason", sa.Integer, nullable=True, comment="Asterisk's OriginateResponse Reason code."),
    sa.Column("cause", sa.Integer, nullable=True, comment='The Q.850 hangup cause.'),
    sa.Column("cause_txt", sa.Text, nullable=True, comment="The hangup cause's text."),
    sa.Column("dial_status", sa.String(40), nullable=True, comment="Asterisk's DIALSTATUS."),
    sa.Column("channel_id", sa.String(150), nullable=True, comment="The callee leg's channel uniqueid."),
    sa.Column("other_channel_id", sa.String(150), nullable=True, comment="The other leg's uniqueid."),
    sa.Column("channel", sa.Text, nullable=True, comment="The callee leg's channel name."),
    sa.Column("action_id", sa.String(150), nullable=True, comment="The Originate's ActionID."),
    sa.Column("queued_at", UtcDateTime, nullable=True, comment="When the callee entered the operators' queue (UTC)."),
    sa.Column("answered_at", UtcDateTime, nullable=True, comment='When the callee answered (UTC).'),
    sa.Column("ended_at", UtcDateTime, nullable=True, comment='When the call ended (UTC).'),
    sa.Column("talk_seconds", sa.Float, nullable=True, comment='Seconds from answer to hangup.'),
    sa.Column("events", Json, nullable=True, comment="The call's AMI events (JSON), survey answers included."),
    sa.Column("error", sa.Text, nullable=True, comment='What went wrong, for people (code reads failure).'),
    sa.Column("failure", sa.String(20), nullable=True, comment="Why it failed: not_sent, refused, link_lost, unknown, stopped_ringing, no_report, run_died, operator_unanswered (click-to-call: the client was never dialed) (NULL: it did not).", info={"revision": "0012"}),  # outcomes.FailureKind: why it failed (migration 0004; comment 0012)
    # answering-machine detection (autodialer/telephony/amd.py, migration 0009)
    sa.Column("amd_status", sa.String(10), nullable=True, comment="AMD's verdict: HUMAN, MACHINE, NOTSURE, HANGUP (NULL: AMD off)."),
    sa.Column("amd_cause", sa.String(60), nullable=True, comment="AMD's cause, e.g. MAXWORDS-3-2."),
    sa.Column("amd_action", sa.String(10), nullable=True, comment="What the dialer did on the verdict: connect, hangup, message."),
    sa.Column("amd_seconds", sa.Float, nullable=True, comment="Seconds from the answer to AMD's verdict."),
    # The callee as the claim saw it (migration 0007): the zones the window and the limits were
    # read in (space-separated), the local start in the first of them ('YYYY-MM-DD HH:MM:SS', the
    # compliance view's calendar), and 1 if the window was not open in every zone at the start.
    sa.Column("callee_zones", sa.Text, nullable=True, comment="The callee's zones the window and the limits were read in at the claim, space-separated."),
    sa.Column("local_start", sa.String(19), nullable=True, comment="The start in the callee's local time (first zone), 'YYYY-MM-DD HH:MM:SS': the compliance calendar."),
    sa.Column("outside_window", sa.SmallInteger, nullable=True, comment="1 if the calling window was not open in every callee zone at the start."),
    # The start in the campaign's own zone (migration 0010: info's revision tells 0008, which
    # comments every column, that a later revision adds this one).
    sa.Column("campaign_local_start", sa.String(19), nullable=True, comment="The start in the campaign's own time zone (schedule.timezone when the attempt was claimed), 'YYYY-MM-DD HH:MM:SS': the analyst views' local hour and day.", info={"revision": "0010"}),
    sa.Column("stopped_by_pacing", sa.Boolean, nullable=False, server_default=sa.false(), comment="True when predictive pacing hung the call up while it rang (no operator free): a NO_ANSWER that is not the callee's."),  # migration 0008
    sa.Index("ix_attempts_contact", "contact_id"),
    sa.Index("ix_attempts_number_started", "number", "started_at"),  # the frequency limits; what happened to this number
    sa.Index("ix_attempts_run", "run_id"),  # per-run analysis (migration 0008)
    sa.Index("ix_attempts_campaign_status", "campaign_id", "status"),
    sa.Index("ix_attempts_campaign_started", "campaign_id", "started_at"),
    comment='One row per call attempt (Originate), written DIALING before the call and completed when it ends.',
)

exclusions = sa.Table(
    "exclusions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True, comment='Entry id.'),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=True, comment='The campaign (NULL: global).'),  # NULL: global do-not-call
    sa.Column("phone", sa.String(24), nullable=False, comment='The number, E.164.'),
    sa.Column("source", sa.Text, nullable=False, comment='The file it came from.'),
    sa.Column("upload_id", BigId, sa.ForeignKey("uploads.id"), nullable=True, comment='The upload.'),
    sa.Column("added_at", UtcDateTime, nullable=False, comment='When it was added (UTC).'),
    sa.Index("ix_exclusions_phone", "phone", "campaign_id"),
    comment='Do-not-call numbers, per campaign or global.',
)

rejects = sa.Table(
    "rejects",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True, comment='Reject id.'),
    sa.Column("upload_id", BigId, nullable=False, comment='The upload.'),
    sa.Column("row_number", sa.Integer, nullable=False, comment='The row in the file (spreadsheet numbering).'),
    sa.Column("column", sa.Text, nullable=False, comment='The column at fault.'),
    sa.Column("value", sa.Text, nullable=False, comment='The refused cell as written (cut at 1,000 characters).'),
    sa.Column("reason", sa.Text, nullable=False, comment="Why: the rule it broke; 'excluded: <file>' for do-not-call rows, 'alternate ignored: ...' for a bad extra number of an accepted row."),
    sa.Index("ix_rejects_upload", "upload_id", "row_number"),
    comment='List rows that did not become contacts (and bad extra numbers of rows that did), with the reason.',
)

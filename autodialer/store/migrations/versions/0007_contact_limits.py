"""Contact-frequency limits and the compliance view (issue 14, items 3-4).

attempts gets the callee as the claim saw it: callee_zones (the zones honoured), local_start (the
local start in the first of them) and outside_window (1 if the window was not open in every zone
at the start); an index on (number, started_at) for the per-number count of every campaign's
attempts inside the claim. Existing attempts get callee_zones and local_start from their contact's
zones (outside_window stays NULL: not known).

Views (the same on PostgreSQL and SQLite):
- contact_attempts: the attempts that reached the callee's phone (outcomes.reached_callee), with
  their local day, ISO week (its Monday) and month;
- live_answers: live-answered attempts and whether each was abandoned (outcomes.ABANDONED_STATUSES,
  the one definition of abandoned; the analyst views read this view), and the MACHINE hang-ups
  (machine_hangup = 1: AMD may have hung up on a person; weighted by amd.false_machine_rate);
- compliance_daily: per campaign and callee-local day: calls, calls outside the window, calls to
  numbers on a do-not-call list when called, the highest calls per number that day / week /
  month across all campaigns, live-answered and abandoned that day and over 30 days, numbers by
  zone source.

The status and failure lists below are literals (a migration is frozen); tests/test_compliance.py
checks them against autodialer.telephony.outcomes, so a change there needs a new revision of these views.

Revision ID: 0007
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0009"
branch_labels = None
depends_on = None

NOT_REACHING_STATUSES = "'BLOCKED', 'NOT_SENT'"
NOT_REACHING_FAILURES = "'not_sent', 'refused'"
LIVE_ANSWERED = "'ABANDONED', 'ANSWERED'"
ABANDONED = "'ABANDONED'"
MACHINE_HANGUP = "a.status = 'MACHINE' AND a.amd_action = 'hangup'"  # outcomes.is_machine_hangup
ZONE_SOURCES = ("registry", "area_code", "phonenumbers", "country")
BATCH = 10_000


def _sql(dialect: str) -> dict[str, str]:
    """The date arithmetic the views need, per dialect (text dates 'YYYY-MM-DD' in and out)."""
    if dialect == "postgresql":
        return {
            "utc_start": "to_char(a.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
            "monday": lambda d: f"to_char(CAST({d} AS date) - (CAST(EXTRACT(ISODOW FROM CAST({d} AS date)) AS integer) - 1), 'YYYY-MM-DD')",
            "minus_days": lambda d, n: f"to_char(CAST({d} AS date) - {n}, 'YYYY-MM-DD')",
        }
    return {
        "utc_start": "substr(a.started_at, 1, 19)",
        "monday": lambda d: f"date({d}, '-6 days', 'weekday 1')",
        "minus_days": lambda d, n: f"date({d}, '-{n} days')",
    }


def _local_day(sql) -> str:
    return f"substr(COALESCE(a.local_start, {sql['utc_start']}), 1, 10)"


def _contact_attempts(sql) -> str:
    day = _local_day(sql)
    return f"""CREATE VIEW contact_attempts AS
SELECT a.attempt_id, a.campaign_id, a.contact_id, a.number, a.started_at, a.status, a.failure,
       a.callee_zones, a.outside_window,
       {day} AS local_day,
       {sql['monday'](day)} AS local_week,
       substr({day}, 1, 7) AS local_month
FROM attempts a
WHERE a.status NOT IN ({NOT_REACHING_STATUSES})
  AND (a.failure IS NULL OR a.failure NOT IN ({NOT_REACHING_FAILURES}))"""


def _live_answers(sql) -> str:
    return f"""CREATE VIEW live_answers AS
SELECT a.attempt_id, a.campaign_id, a.contact_id, a.number, a.status,
       COALESCE(a.answered_at, a.started_at) AS answered_at,
       {_local_day(sql)} AS local_day,
       CASE WHEN a.status IN ({ABANDONED}) THEN 1 ELSE 0 END AS abandoned,
       CASE WHEN {MACHINE_HANGUP} THEN 1 ELSE 0 END AS machine_hangup
FROM attempts a
WHERE a.status IN ({LIVE_ANSWERED}) OR ({MACHINE_HANGUP})"""


def _compliance_daily(sql) -> str:
    by_source = ",\n       ".join(
        f"SUM(CASE WHEN k.timezone_source = '{s}' THEN 1 ELSE 0 END) AS zone_{s}" for s in ZONE_SOURCES)
    return f"""CREATE VIEW compliance_daily AS
WITH per_day AS (SELECT number, local_day, COUNT(*) AS n FROM contact_attempts GROUP BY number, local_day),
per_week AS (SELECT number, local_week, COUNT(*) AS n FROM contact_attempts GROUP BY number, local_week),
per_month AS (SELECT number, local_month, COUNT(*) AS n FROM contact_attempts GROUP BY number, local_month),
called AS (SELECT DISTINCT campaign_id, number, local_day, local_week, local_month FROM contact_attempts),
peaks AS (
  SELECT c.campaign_id, c.local_day, COUNT(*) AS numbers,
         MAX(d.n) AS max_per_number_day, MAX(w.n) AS max_per_number_week, MAX(m.n) AS max_per_number_month
  FROM called c
  JOIN per_day d ON d.number = c.number AND d.local_day = c.local_day
  JOIN per_week w ON w.number = c.number AND w.local_week = c.local_week
  JOIN per_month m ON m.number = c.number AND m.local_month = c.local_month
  GROUP BY c.campaign_id, c.local_day),
zones AS (
  SELECT c.campaign_id, c.local_day,
       {by_source},
       SUM(CASE WHEN k.timezone_source IS NULL THEN 1 ELSE 0 END) AS zone_campaign_fallback
  FROM called c
  LEFT JOIN contacts k ON k.campaign_id = c.campaign_id AND k.phone = c.number
  GROUP BY c.campaign_id, c.local_day),
calls AS (
  SELECT ca.campaign_id, ca.local_day, COUNT(*) AS calls,
         SUM(CASE WHEN ca.outside_window = 1 THEN 1 ELSE 0 END) AS outside_window,
         SUM(CASE WHEN ca.outside_window IS NULL THEN 1 ELSE 0 END) AS window_unknown,
         SUM(CASE WHEN EXISTS (SELECT 1 FROM exclusions e WHERE e.phone = ca.number
                               AND (e.campaign_id IS NULL OR e.campaign_id = ca.campaign_id)
                               AND e.added_at <= ca.started_at) THEN 1 ELSE 0 END) AS dnc_calls
  FROM contact_attempts ca
  GROUP BY ca.campaign_id, ca.local_day),
answers AS (
  SELECT campaign_id, local_day, SUM(1 - machine_hangup) AS live_answered, SUM(abandoned) AS abandoned,
         SUM(machine_hangup) AS machine_hangups
  FROM live_answers GROUP BY campaign_id, local_day)
SELECT cp.name AS campaign, calls.local_day AS day, calls.calls, calls.outside_window, calls.window_unknown,
       calls.dnc_calls, peaks.numbers, peaks.max_per_number_day, peaks.max_per_number_week,
       peaks.max_per_number_month,
       COALESCE(answers.live_answered, 0) AS live_answered, COALESCE(answers.abandoned, 0) AS abandoned,
       COALESCE(answers.machine_hangups, 0) AS machine_hangups,
       (SELECT COALESCE(SUM(1 - l.machine_hangup), 0) FROM live_answers l WHERE l.campaign_id = calls.campaign_id
          AND l.local_day <= calls.local_day AND l.local_day > {sql['minus_days']('calls.local_day', 30)}) AS live_answered_30d,
       (SELECT COALESCE(SUM(l.abandoned), 0) FROM live_answers l WHERE l.campaign_id = calls.campaign_id
          AND l.local_day <= calls.local_day AND l.local_day > {sql['minus_days']('calls.local_day', 30)}) AS abandoned_30d,
       {", ".join(f"zones.zone_{s}" for s in ZONE_SOURCES)}, zones.zone_campaign_fallback
FROM calls
JOIN campaigns cp ON cp.id = calls.campaign_id
JOIN peaks ON peaks.campaign_id = calls.campaign_id AND peaks.local_day = calls.local_day
JOIN zones ON zones.campaign_id = calls.campaign_id AND zones.local_day = calls.local_day
LEFT JOIN answers ON answers.campaign_id = calls.campaign_id AND answers.local_day = calls.local_day"""


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("callee_zones", sa.Text, nullable=True))
        batch.add_column(sa.Column("local_start", sa.String(19), nullable=True))
        batch.add_column(sa.Column("outside_window", sa.SmallInteger, nullable=True))
    op.create_index("ix_attempts_number_started", "attempts", ["number", "started_at"])
    _backfill(op.get_bind())
    sql = _sql(op.get_bind().dialect.name)
    op.execute(_contact_attempts(sql))
    op.execute(_live_answers(sql))
    op.execute(_compliance_daily(sql))


def _backfill(conn) -> None:
    """Existing attempts: their contact's zones and the local start in the first of them."""
    from datetime import timezone
    from zoneinfo import ZoneInfo

    from autodialer.store.types import UtcDateTime

    a = sa.table("attempts", sa.column("attempt_id", sa.String), sa.column("contact_id", sa.BigInteger),
                 sa.column("started_at", UtcDateTime), sa.column("callee_zones", sa.Text),
                 sa.column("local_start", sa.String))
    c = sa.table("contacts", sa.column("id", sa.BigInteger), sa.column("timezone", sa.Text))
    update = (a.update().where(a.c.attempt_id == sa.bindparam("aid"))
              .values(callee_zones=sa.bindparam("zones"), local_start=sa.bindparam("local")))
    last = ""
    while True:
        rows = conn.execute(sa.select(a.c.attempt_id, a.c.started_at, c.c.timezone)
                            .join(c, c.c.id == a.c.contact_id)
                            .where(a.c.attempt_id > last, c.c.timezone.is_not(None))
                            .order_by(a.c.attempt_id).limit(BATCH)).all()
        if not rows:
            return
        params = []
        for aid, started, zones in rows:
            try:
                tz = ZoneInfo(zones.split()[0])
            except Exception:
                continue
            local = started.astimezone(timezone.utc).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
            params.append({"aid": aid, "zones": zones, "local": local})
        if params:
            conn.execute(update, params)
        last = rows[-1][0]


def downgrade() -> None:
    for view in ("compliance_daily", "live_answers", "contact_attempts"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_index("ix_attempts_number_started", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("outside_window")
        batch.drop_column("local_start")
        batch.drop_column("callee_zones")

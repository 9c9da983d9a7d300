"""The analysts' views in the campaign's local time, on PostgreSQL and SQLite alike (issue 15 item
5): attempts.campaign_local_start, the start in the campaign's own zone (schedule.timezone) as
'YYYY-MM-DD HH:MM:SS', written by the claim (Store.claim_attempt, facts.campaign_local_start)
and here for the attempts already stored. SQLite has no time zone database, so a stored column is
what lets every tool that opens the file read the same local hour as PostgreSQL.

- attempts_hourly.local_hour: the campaign-local hour (it was NULL on SQLite);
- abandonment_daily.day and caller_id_daily.day: the campaign's local day (they were UTC days:
  an analyst, and the regulations' "per campaign" rates, mean the campaign's day).

A row written without the column (by hand, by an older dialer) falls back to its UTC start.
The backfill: on PostgreSQL one UPDATE a campaign (AT TIME ZONE, for the zones its time zone
database has), on SQLite (and for any other zone) in Python, 10,000 rows a batch.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

ABANDONED = "'ABANDONED'"
LIVE_ANSWERED = "'ABANDONED', 'ANSWERED'"
BATCH = 10_000
VIEWS = ("attempts_hourly", "abandonment_daily", "caller_id_daily")


def _sql(dialect: str) -> dict:
    """Per dialect: the local start (text), its hour and day, and the arithmetic the views need."""
    if dialect == "postgresql":
        local = "COALESCE(a.campaign_local_start, to_char(a.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))"
        return {
            "hour": lambda ts: f"(date_trunc('hour', {ts} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
            "local_hour": f"CAST(substr({local}, 1, 13) || ':00:00' AS timestamp)",
            "local_day": f"CAST(substr({local}, 1, 10) AS date)",
            "seconds": lambda a, b: f"EXTRACT(EPOCH FROM ({b} - {a}))",
            "days_before": lambda d, n: f"{d} - {n}",
            "rate": lambda num, den: f"CAST({num} AS double precision) / NULLIF({den}, 0)",
        }
    local = "COALESCE(a.campaign_local_start, substr(a.started_at, 1, 19))"
    return {
        "hour": lambda ts: f"strftime('%Y-%m-%d %H:00:00+00:00', {ts})",
        "local_hour": f"substr({local}, 1, 13) || ':00:00'",
        "local_day": f"substr({local}, 1, 10)",
        "seconds": lambda a, b: f"((julianday({b}) - julianday({a})) * 86400.0)",
        "days_before": lambda d, n: f"date({d}, '-{n} days')",
        "rate": lambda num, den: f"CAST({num} AS REAL) / NULLIF({den}, 0)",
    }


def _attempts_hourly(q) -> str:
    hour = q["hour"]("a.started_at")
    local = q["local_hour"]
    return f"""CREATE VIEW attempts_hourly AS
SELECT
    c.name AS campaign,
    {hour} AS hour,
    {local} AS local_hour,
    a.caller_id AS caller_id,
    a.trunk AS trunk,
    COUNT(*) AS attempts,
    SUM(CASE WHEN a.status = 'ANSWERED' THEN 1 ELSE 0 END) AS answered,
    SUM(CASE WHEN a.status IN ({ABANDONED}) THEN 1 ELSE 0 END) AS abandoned,
    SUM(CASE WHEN a.status IN ({LIVE_ANSWERED}) THEN 1 ELSE 0 END) AS live_answered,
    SUM(CASE WHEN a.stopped_by_pacing THEN 1 ELSE 0 END) AS stopped_by_pacing,
    SUM(CASE WHEN a.status IN ('FAILED', 'CONGESTION', 'UNKNOWN', 'NOT_SENT') THEN 1 ELSE 0 END) AS failed,
    COALESCE(SUM(a.talk_seconds), 0) AS talk_seconds,
    AVG(CASE WHEN a.answered_at IS NOT NULL THEN {q['seconds']('a.started_at', 'a.answered_at')} END) AS mean_ring_seconds
FROM attempts a
JOIN campaigns c ON c.id = a.campaign_id
GROUP BY c.name, {hour}, {local}, a.caller_id, a.trunk"""


def _abandonment_daily(q) -> str:
    day = q["local_day"]
    in_30d = f"p.campaign_id = l.campaign_id AND p.day <= l.day AND p.day > {q['days_before']('l.day', 30)}"
    return f"""CREATE VIEW abandonment_daily AS
WITH live AS (
    SELECT a.campaign_id, {day} AS day, COUNT(*) AS live_answered,
           SUM(CASE WHEN a.status IN ({ABANDONED}) THEN 1 ELSE 0 END) AS abandoned
    FROM attempts a WHERE a.status IN ({LIVE_ANSWERED})
    GROUP BY a.campaign_id, {day}
)
SELECT
    c.name AS campaign,
    l.day AS day,
    l.live_answered AS live_answered,
    l.abandoned AS abandoned,
    {q['rate']('l.abandoned', 'l.live_answered')} AS abandon_rate_24h,
    (SELECT SUM(p.live_answered) FROM live p WHERE {in_30d}) AS live_answered_30d,
    (SELECT SUM(p.abandoned) FROM live p WHERE {in_30d}) AS abandoned_30d,
    {q['rate'](f"(SELECT SUM(p.abandoned) FROM live p WHERE {in_30d})",
               f"(SELECT SUM(p.live_answered) FROM live p WHERE {in_30d})")} AS abandon_rate_30d
FROM live l
JOIN campaigns c ON c.id = l.campaign_id"""


def _caller_id_daily(q) -> str:
    day = q["local_day"]
    return f"""CREATE VIEW caller_id_daily AS
SELECT
    c.name AS campaign,
    a.caller_id AS caller_id,
    {day} AS day,
    COUNT(*) AS attempts,
    SUM(CASE WHEN a.status IN ({LIVE_ANSWERED}) THEN 1 ELSE 0 END) AS answered,
    SUM(CASE WHEN a.status = 'REJECTED' THEN 1 ELSE 0 END) AS rejected,
    {q['rate'](f"SUM(CASE WHEN a.status IN ({LIVE_ANSWERED}) THEN 1 ELSE 0 END)",
               "SUM(CASE WHEN a.status NOT IN ('NOT_SENT', 'BLOCKED', 'DIALING') THEN 1 ELSE 0 END)")} AS answer_rate
FROM attempts a
JOIN campaigns c ON c.id = a.campaign_id
GROUP BY c.name, a.caller_id, {day}"""


VIEW_COMMENTS = {
    "attempts_hourly": "Per campaign, UTC hour, campaign-local hour (schedule.timezone), caller ID and trunk: attempts, answered, abandoned, live-answered, stopped by pacing, failed, talk seconds, mean ring time.",
    "abandonment_daily": "Per campaign and campaign-local day (schedule.timezone): live-answered and abandoned calls, the day's rate and the rolling 30-day rate regulations use.",
    "caller_id_daily": "Answer rate per caller ID per campaign-local day (schedule.timezone): a number labelled as spam shows as a falling rate.",
}
COLUMN_COMMENT = ("The start in the campaign's own time zone (schedule.timezone when the attempt was claimed), "
                  "'YYYY-MM-DD HH:MM:SS': the analyst views' local hour and day.")


def _backfill(conn) -> None:
    """The attempts already stored: their start in their campaign's zone as its row has it now
    (an attempt's zone at the time is not known; the zone of a campaign rarely changes)."""
    from datetime import timezone
    from zoneinfo import ZoneInfo

    from autodialer.store.types import Json, UtcDateTime

    c = sa.table("campaigns", sa.column("id", sa.BigInteger), sa.column("settings", Json))
    zones = {}
    for cid, settings in conn.execute(sa.select(c.c.id, c.c.settings)):
        name = ((settings or {}).get("schedule") or {}).get("timezone") if isinstance(settings, dict) else None
        try:
            zones[cid] = ZoneInfo(name) if name and name != "Etc/Unknown" else ZoneInfo("UTC")
        except Exception:
            zones[cid] = ZoneInfo("UTC")
    a = sa.table("attempts", sa.column("attempt_id", sa.String), sa.column("campaign_id", sa.BigInteger),
                 sa.column("started_at", UtcDateTime), sa.column("campaign_local_start", sa.String))
    if conn.dialect.name == "postgresql":
        # One UPDATE a campaign (a row at a time costs minutes a million attempts), in the zones
        # PostgreSQL's time zone database has; any other campaign's rows below, in Python.
        known = {r[0] for r in conn.execute(sa.select(sa.column("name")).select_from(sa.table("pg_timezone_names")))}
        for cid, tz in list(zones.items()):
            name = getattr(tz, "key", "UTC")
            if name in known:
                conn.execute(sa.text("UPDATE attempts SET campaign_local_start = "
                                     "to_char(started_at AT TIME ZONE :z, 'YYYY-MM-DD HH24:MI:SS') WHERE campaign_id = :c"),
                             {"z": name, "c": cid})
                del zones[cid]
        if not zones:
            return
    update = (a.update().where(a.c.attempt_id == sa.bindparam("aid"))
              .values(campaign_local_start=sa.bindparam("local")))
    last = ""
    while True:
        rows = conn.execute(sa.select(a.c.attempt_id, a.c.campaign_id, a.c.started_at)
                            .where(a.c.attempt_id > last, a.c.campaign_id.in_(list(zones)))
                            .order_by(a.c.attempt_id).limit(BATCH)).all()
        if not rows:
            return
        conn.execute(update, [
            {"aid": aid, "local": started.astimezone(timezone.utc).astimezone(zones.get(cid, timezone.utc))
             .strftime("%Y-%m-%d %H:%M:%S")}
            for aid, cid, started in rows])
        last = rows[-1][0]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    q = _sql(dialect)
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("campaign_local_start", sa.String(19), nullable=True, comment=COLUMN_COMMENT))
    _backfill(op.get_bind())
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.execute(_attempts_hourly(q))
    op.execute(_abandonment_daily(q))
    op.execute(_caller_id_daily(q))
    if dialect == "postgresql":
        for view, comment in VIEW_COMMENTS.items():
            op.execute(f"COMMENT ON VIEW {view} IS {_lit(comment)}")


def _previous():
    """Migration 0008, whose views these were."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("m0008", Path(__file__).with_name("0008_analyst_tables.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("campaign_local_start")
    m = _previous()
    q = m._sql(dialect)
    for sql in (m._attempts_hourly(q), m._abandonment_daily(q), m._caller_id_daily(q)):
        op.execute(sql)
    if dialect == "postgresql":
        for view in VIEWS:
            op.execute(f"COMMENT ON VIEW {view} IS {_lit(m.VIEW_COMMENTS[view])}")

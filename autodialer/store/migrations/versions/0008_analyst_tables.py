"""The analysts' tables (issue 15): attempts.stopped_by_pacing as a column, indexes for "what
happened to this number" (contacts.phone; attempts(number, started_at) is 0007's) and per-run analysis
(attempts.run_id), COMMENT ON every table, view and column (PostgreSQL: Metabase, Superset and
DBeaver show them), and the views attempts_hourly, abandonment_daily, caller_id_daily,
results_by_campaign, survey_answers, rejects_by_upload; outcomes_by_hour's hour becomes a
timestamptz (it was a timestamp without time zone: "the last day" shifted by the session zone).

Abandoned = status ABANDONED, live-answered = ANSWERED or ABANDONED, as the pacer and
Store.live_answers count them (the abandonment cap): ABANDONED and LIVE_ANSWERED below are that
definition's SQL form, the one place the views take it from.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ABANDONED = "'ABANDONED'"
LIVE_ANSWERED = "'ABANDONED', 'ANSWERED'"
VIEWS = ("attempts_hourly", "abandonment_daily", "caller_id_daily", "results_by_campaign", "survey_answers", "rejects_by_upload")


def _sql(dialect: str) -> dict:
    """The expressions that differ between PostgreSQL and SQLite (timestamps are timestamptz on
    PostgreSQL, ISO text '2026-11-28 09:00:00.000000+00:00' on SQLite)."""
    if dialect == "postgresql":
        return {
            "hour": lambda ts: f"(date_trunc('hour', {ts} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
            "local_hour": lambda ts, tz: f"date_trunc('hour', {ts} AT TIME ZONE {tz})",
            "zone": "COALESCE(c.settings -> 'schedule' ->> 'timezone', 'UTC')",
            "day": lambda ts: f"CAST({ts} AT TIME ZONE 'UTC' AS date)",
            "seconds": lambda a, b: f"EXTRACT(EPOCH FROM ({b} - {a}))",
            "days_before": lambda d, n: f"{d} - {n}",
            "rate": lambda num, den: f"CAST({num} AS double precision) / NULLIF({den}, 0)",
            "true": "true",
        }
    return {
        "hour": lambda ts: f"strftime('%Y-%m-%d %H:00:00+00:00', {ts})",
        "local_hour": lambda ts, tz: "NULL",  # SQLite has no time zone database
        "zone": "COALESCE(json_extract(c.settings, '$.schedule.timezone'), 'UTC')",
        "day": lambda ts: f"date({ts})",
        "seconds": lambda a, b: f"((julianday({b}) - julianday({a})) * 86400.0)",
        "days_before": lambda d, n: f"date({d}, '-{n} days')",
        "rate": lambda num, den: f"CAST({num} AS REAL) / NULLIF({den}, 0)",
        "true": "1",
    }


def _outcomes_by_hour(q) -> str:
    return f"""CREATE VIEW outcomes_by_hour AS
SELECT
    c.name AS campaign,
    {q['hour']('a.started_at')} AS hour,
    a.status AS status,
    COUNT(*) AS attempts,
    COALESCE(SUM(a.talk_seconds), 0) AS talk_seconds
FROM attempts a
JOIN campaigns c ON c.id = a.campaign_id
GROUP BY c.name, {q['hour']('a.started_at')}, a.status"""


def _attempts_hourly(q) -> str:
    hour = q["hour"]("a.started_at")
    local = q["local_hour"]("a.started_at", q["zone"])
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
    day = q["day"]("COALESCE(a.answered_at, a.started_at)")
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
    (SELECT SUM(p.live_answered) FROM live p WHERE p.campaign_id = l.campaign_id
        AND p.day <= l.day AND p.day > {q['days_before']('l.day', 30)}) AS live_answered_30d,
    (SELECT SUM(p.abandoned) FROM live p WHERE p.campaign_id = l.campaign_id
        AND p.day <= l.day AND p.day > {q['days_before']('l.day', 30)}) AS abandoned_30d,
    {q['rate'](f"(SELECT SUM(p.abandoned) FROM live p WHERE p.campaign_id = l.campaign_id AND p.day <= l.day AND p.day > {q['days_before']('l.day', 30)})",
               f"(SELECT SUM(p.live_answered) FROM live p WHERE p.campaign_id = l.campaign_id AND p.day <= l.day AND p.day > {q['days_before']('l.day', 30)})")} AS abandon_rate_30d
FROM live l
JOIN campaigns c ON c.id = l.campaign_id"""


def _caller_id_daily(q) -> str:
    day = q["day"]("a.started_at")
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


def _results_by_campaign(q) -> str:
    return f"""CREATE VIEW results_by_campaign AS
SELECT
    c.name AS campaign,
    COALESCE(k.result, '') AS result,
    COUNT(*) AS contacts,
    SUM(k.attempts) AS attempts,
    {q['rate']('COUNT(*)', '(SELECT COUNT(*) FROM contacts t WHERE t.campaign_id = c.id)')} AS share
FROM contacts k
JOIN campaigns c ON c.id = k.campaign_id
GROUP BY c.id, c.name, COALESCE(k.result, '')"""


def _survey_answers(dialect: str) -> str:
    if dialect == "postgresql":
        return """CREATE VIEW survey_answers AS
SELECT
    c.name AS campaign,
    k.phone AS phone,
    a.attempt_id AS attempt_id,
    a.answered_at AS answered_at,
    CAST(e ->> 'Question' AS integer) AS question,
    COALESCE(c.settings -> 'script' -> 'questions' -> (CAST(e ->> 'Question' AS integer) - 1) ->> 'name',
             'q' || (e ->> 'Question')) AS question_name,
    e ->> 'Key' AS key,
    c.settings -> 'script' -> 'questions' -> (CAST(e ->> 'Question' AS integer) - 1) -> 'labels' ->> (e ->> 'Key') AS label
FROM attempts a
JOIN campaigns c ON c.id = a.campaign_id
JOIN contacts k ON k.id = a.contact_id
CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(a.events) = 'array' THEN a.events ELSE '[]'::jsonb END) AS e
WHERE e ->> 'UserEvent' = 'DialerAnswer' AND (e ->> 'Question') ~ '^[1-9]$' AND COALESCE(e ->> 'Key', '') <> ''"""
    return """CREATE VIEW survey_answers AS
SELECT
    c.name AS campaign,
    k.phone AS phone,
    a.attempt_id AS attempt_id,
    a.answered_at AS answered_at,
    CAST(json_extract(e.value, '$.Question') AS INTEGER) AS question,
    COALESCE(json_extract(c.settings, '$.script.questions[' || (CAST(json_extract(e.value, '$.Question') AS INTEGER) - 1) || '].name'),
             'q' || json_extract(e.value, '$.Question')) AS question_name,
    json_extract(e.value, '$.Key') AS key,
    json_extract(c.settings, '$.script.questions[' || (CAST(json_extract(e.value, '$.Question') AS INTEGER) - 1) || '].labels."'
                 || json_extract(e.value, '$.Key') || '"') AS label
FROM attempts a
JOIN campaigns c ON c.id = a.campaign_id
JOIN contacts k ON k.id = a.contact_id
JOIN json_each(CASE WHEN json_type(a.events) = 'array' THEN a.events ELSE '[]' END) AS e
WHERE json_extract(e.value, '$.UserEvent') = 'DialerAnswer'
  AND json_extract(e.value, '$.Question') GLOB '[1-9]' AND COALESCE(json_extract(e.value, '$.Key'), '') GLOB '[0-9*#]*'
  AND COALESCE(json_extract(e.value, '$.Key'), '') <> ''"""


def _rejects_by_upload() -> str:
    return """CREATE VIEW rejects_by_upload AS
SELECT
    u.id AS upload_id,
    c.name AS campaign,
    u.kind AS kind,
    u.file_name AS file_name,
    u.imported_at AS imported_at,
    r."column" AS "column",
    CASE WHEN r.reason LIKE 'excluded:%' THEN 'excluded'
         WHEN r.reason LIKE 'alternate ignored:%' THEN 'alternate ignored'
         ELSE 'rejected' END AS outcome,
    r.reason AS reason,
    COUNT(*) AS rows,
    MIN(r.row_number) AS first_row
FROM rejects r
JOIN uploads u ON u.id = r.upload_id
LEFT JOIN campaigns c ON c.id = u.campaign_id
GROUP BY u.id, c.name, u.kind, u.file_name, u.imported_at, r."column", r.reason"""


VIEW_COMMENTS = {
    "campaign_summary": "Per campaign: contacts, done, successful, pending, dialing, not called, attempts, and contacts by last status.",
    "outcomes_by_hour": "Attempts per campaign, UTC hour (timestamptz) and status, with talk seconds.",
    "attempts_hourly": "Per campaign, UTC hour, campaign-local hour, caller ID and trunk: attempts, answered, abandoned, live-answered, stopped by pacing, failed, talk seconds, mean ring time.",
    "abandonment_daily": "Per campaign and UTC day: live-answered and abandoned calls, the day's (24 h) rate and the rolling 30-day rate regulations use.",
    "caller_id_daily": "Answer rate per caller ID per UTC day: a number labelled as spam shows as a falling rate.",
    "results_by_campaign": "Contacts per campaign and business result (confirmed, cancelled, q1=3;q2=1...), with their share.",
    "survey_answers": "One row per survey question answered, with the script's question name and the key's label.",
    "rejects_by_upload": "Rejected, excluded and ignored rows per upload, column and reason.",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    q = _sql(dialect)
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("stopped_by_pacing", sa.Boolean, nullable=False, server_default=sa.false()))
    op.execute(f"UPDATE attempts SET stopped_by_pacing = {q['true']} WHERE failure = 'stopped_ringing'")
    op.create_index("ix_attempts_run", "attempts", ["run_id"])
    op.create_index("ix_contacts_phone", "contacts", ["phone"])
    op.execute("DROP VIEW IF EXISTS outcomes_by_hour")
    op.execute(_outcomes_by_hour(q))
    for sql in (_attempts_hourly(q), _abandonment_daily(q), _caller_id_daily(q), _results_by_campaign(q),
                _survey_answers(dialect), _rejects_by_upload()):
        op.execute(sql)
    if dialect == "postgresql":
        _comment_everything()


def _comment_everything() -> None:
    """COMMENT ON every table and column the schema describes (schema.py's comment=), and on the
    views. PostgreSQL only: SQLite has no comments."""
    from autodialer.store.schema import metadata

    def lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    for table in metadata.sorted_tables:
        if table.comment:
            op.execute(f'COMMENT ON TABLE "{table.name}" IS {lit(table.comment)}')
        for column in table.columns:
            # schema.py also has the columns later revisions add (info={"revision": ...}): each
            # of those adds its column with its comment.
            if column.comment and column.info.get("revision", "0000") <= "0008":
                op.execute(f'COMMENT ON COLUMN "{table.name}"."{column.name}" IS {lit(column.comment)}')
    for view, comment in VIEW_COMMENTS.items():
        op.execute(f"COMMENT ON VIEW {view} IS {lit(comment)}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.execute("DROP VIEW IF EXISTS outcomes_by_hour")
    if dialect == "postgresql":
        hour = "date_trunc('hour', a.started_at AT TIME ZONE 'UTC')"
    else:
        hour = "strftime('%Y-%m-%d %H:00:00', a.started_at)"
    op.execute(f"""CREATE VIEW outcomes_by_hour AS
SELECT c.name AS campaign, {hour} AS hour, a.status AS status, COUNT(*) AS attempts,
       COALESCE(SUM(a.talk_seconds), 0) AS talk_seconds
FROM attempts a JOIN campaigns c ON c.id = a.campaign_id
GROUP BY c.name, {hour}, a.status""")
    op.drop_index("ix_contacts_phone", "contacts")
    op.drop_index("ix_attempts_run", "attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("stopped_by_pacing")

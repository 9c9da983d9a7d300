"""Abandonment, one figure in one place (issue 15 item 5, issue 14 item 4, issue 17 item 3):

- live_answers (0007's, the one SQL definition of live-answered, abandoned and AMD hang-ups)
  gets `campaign_day`, the campaign's local day of the call (attempts.campaign_local_start, 0010);
- abandonment_daily now reads live_answers: per campaign and campaign-local day, people
  live-answered, abandoned, MACHINE hang-ups (outcomes.is_machine_hangup: AMD may have hung up on
  a person) and the campaign's amd.false_machine_rate (campaigns.settings; 0 without AMD); every
  rate counts a MACHINE hang-up as that share of an abandoned live call, as the pacer and the
  compliance report do: (abandoned + f x machine) / (live + f x machine). Rates: the day's; the
  rolling 24 h (Ofcom's "any 24 hours", the pacer's window): at each live answer of the day, the
  calls of the 24 h up to it, the highest of the day with its counts; the rolling 30 days (TCPA)
  ending that day;
- compliance_daily takes its abandonment figures from abandonment_daily (its day: the campaign's
  local day; its other figures stay per callee-local day), with the 24 h and 30-day ones, and has
  a row for a day that had answers but no call in callee time. Its calls per number per day /
  week / month are counted with window functions (0007's self-joins of the per-number counts
  were planned as a cross product by SQLite: 28 s for 20,000 attempts, over 10 min for 200,000),
  and the 30-day sums with a window over the days (correlated subqueries made PostgreSQL's
  estimate large enough to JIT-compile the query: 1.8 s of 2.1).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# As in 0007 (tests/test_compliance.py checks them against autodialer.telephony.outcomes).
NOT_REACHING_STATUSES = "'BLOCKED', 'NOT_SENT'"
NOT_REACHING_FAILURES = "'not_sent', 'refused'"
LIVE_ANSWERED = "'ABANDONED', 'ANSWERED'"
ABANDONED = "'ABANDONED'"
MACHINE_HANGUP = "a.status = 'MACHINE' AND a.amd_action = 'hangup'"  # outcomes.is_machine_hangup
ZONE_SOURCES = ("registry", "area_code", "phonenumbers", "country")


def _sql(dialect: str) -> dict:
    if dialect == "postgresql":
        return {
            "utc_start": "to_char(a.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
            # (monday, minus_days: 0012 builds contact_attempts with this dict)
            "monday": lambda d: f"to_char(CAST({d} AS date) - (CAST(EXTRACT(ISODOW FROM CAST({d} AS date)) AS integer) - 1), 'YYYY-MM-DD')",
            "minus_days": lambda d, n: f"to_char(CAST({d} AS date) - {n}, 'YYYY-MM-DD')",
            "day_out": lambda d: f"CAST({d} AS date)",  # abandonment_daily.day: a date, as 0010 made it
            "real": "double precision",
            "fmr": "COALESCE(CAST(c.settings -> 'amd' ->> 'false_machine_rate' AS double precision), 0)",
            "last_24h": "PARTITION BY l.campaign_id ORDER BY l.answered_at RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW",
            "last_30_days": lambda key, day: f"PARTITION BY {key} ORDER BY CAST({day} AS date) RANGE BETWEEN INTERVAL '29 days' PRECEDING AND CURRENT ROW",
        }
    return {
        "utc_start": "substr(a.started_at, 1, 19)",
        "monday": lambda d: f"date({d}, '-6 days', 'weekday 1')",
        "minus_days": lambda d, n: f"date({d}, '-{n} days')",
        "day_out": lambda d: d,
        "real": "REAL",
        "fmr": "COALESCE(CAST(json_extract(c.settings, '$.amd.false_machine_rate') AS REAL), 0)",
        "last_24h": "PARTITION BY l.campaign_id ORDER BY julianday(l.answered_at) RANGE BETWEEN 1.0 PRECEDING AND CURRENT ROW",
        "last_30_days": lambda key, day: f"PARTITION BY {key} ORDER BY julianday({day}) RANGE BETWEEN 29 PRECEDING AND CURRENT ROW",
    }


def _rate(sql, abandoned: str, live: str, machine: str, fmr: str) -> str:
    """The weighted abandonment rate: a MACHINE hang-up is `fmr` of an abandoned live call."""
    return (f"CAST({abandoned} + {fmr} * {machine} AS {sql['real']}) / "
            f"NULLIF({live} + {fmr} * {machine}, 0)")


def _live_answers(sql) -> str:
    return f"""CREATE VIEW live_answers AS
SELECT a.attempt_id, a.campaign_id, a.contact_id, a.number, a.status,
       COALESCE(a.answered_at, a.started_at) AS answered_at,
       substr(COALESCE(a.local_start, {sql['utc_start']}), 1, 10) AS local_day,
       substr(COALESCE(a.campaign_local_start, {sql['utc_start']}), 1, 10) AS campaign_day,
       CASE WHEN a.status IN ({ABANDONED}) THEN 1 ELSE 0 END AS abandoned,
       CASE WHEN {MACHINE_HANGUP} THEN 1 ELSE 0 END AS machine_hangup
FROM attempts a
WHERE a.status IN ({LIVE_ANSWERED}) OR ({MACHINE_HANGUP})"""


def _abandonment_daily(sql) -> str:
    s30 = lambda col: f"SUM(d.{col}) OVER w30"  # noqa: E731  (window functions: linear, and planned as such)
    return f"""CREATE VIEW abandonment_daily AS
WITH rolling AS (
    SELECT l.campaign_id, l.campaign_day AS day,
           SUM(1 - l.machine_hangup) OVER w AS live_answered,
           SUM(l.abandoned) OVER w AS abandoned,
           SUM(l.machine_hangup) OVER w AS machine_hangups
    FROM live_answers l
    WINDOW w AS ({sql['last_24h']})
),
peak AS (
    SELECT r.*, ROW_NUMBER() OVER (
               PARTITION BY r.campaign_id, r.day
               ORDER BY COALESCE({_rate(sql, 'r.abandoned', 'r.live_answered', 'r.machine_hangups', 'f.fmr')}, -1) DESC,
                        r.live_answered + r.machine_hangups DESC) AS n
    FROM rolling r
    JOIN (SELECT c.id, {sql['fmr']} AS fmr FROM campaigns c) f ON f.id = r.campaign_id
),
daily AS (
    SELECT l.campaign_id, l.campaign_day AS day, SUM(1 - l.machine_hangup) AS live_answered,
           SUM(l.abandoned) AS abandoned, SUM(l.machine_hangup) AS machine_hangups
    FROM live_answers l
    GROUP BY l.campaign_id, l.campaign_day
),
figures AS (
    SELECT d.campaign_id, d.day, d.live_answered, d.abandoned, d.machine_hangups,
           k.live_answered AS live_answered_24h, k.abandoned AS abandoned_24h, k.machine_hangups AS machine_hangups_24h,
           {s30('live_answered')} AS live_answered_30d, {s30('abandoned')} AS abandoned_30d,
           {s30('machine_hangups')} AS machine_hangups_30d
    FROM daily d
    JOIN peak k ON k.campaign_id = d.campaign_id AND k.day = d.day AND k.n = 1
    WINDOW w30 AS ({sql['last_30_days']('d.campaign_id', 'd.day')})
)
SELECT
    c.name AS campaign,
    {sql['day_out']('x.day')} AS day,
    {sql['fmr']} AS false_machine_rate,
    x.live_answered, x.abandoned, x.machine_hangups,
    {_rate(sql, 'x.abandoned', 'x.live_answered', 'x.machine_hangups', sql['fmr'])} AS abandon_rate,
    x.live_answered_24h, x.abandoned_24h, x.machine_hangups_24h,
    {_rate(sql, 'x.abandoned_24h', 'x.live_answered_24h', 'x.machine_hangups_24h', sql['fmr'])} AS abandon_rate_24h,
    x.live_answered_30d, x.abandoned_30d, x.machine_hangups_30d,
    {_rate(sql, 'x.abandoned_30d', 'x.live_answered_30d', 'x.machine_hangups_30d', sql['fmr'])} AS abandon_rate_30d
FROM figures x
JOIN campaigns c ON c.id = x.campaign_id"""


def _compliance_daily(sql) -> str:
    by_source = ",\n       ".join(
        f"SUM(CASE WHEN k.timezone_source = '{s}' THEN 1 ELSE 0 END) AS zone_{s}" for s in ZONE_SOURCES)
    s30 = lambda col: f"SUM(COALESCE(ab.{col}, 0)) OVER w30"  # noqa: E731
    day_text = "to_char(ad.day, 'YYYY-MM-DD')" if sql["real"] == "double precision" else "ad.day"
    return f"""CREATE VIEW compliance_daily AS
WITH counted AS (
  SELECT campaign_id, number, local_day,
         COUNT(*) OVER (PARTITION BY number, local_day) AS n_day,
         COUNT(*) OVER (PARTITION BY number, local_week) AS n_week,
         COUNT(*) OVER (PARTITION BY number, local_month) AS n_month
  FROM contact_attempts),
called AS (SELECT DISTINCT campaign_id, number, local_day FROM contact_attempts),
peaks AS (
  SELECT campaign_id, local_day, COUNT(DISTINCT number) AS numbers,
         MAX(n_day) AS max_per_number_day, MAX(n_week) AS max_per_number_week, MAX(n_month) AS max_per_number_month
  FROM counted
  GROUP BY campaign_id, local_day),
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
ab AS (
  SELECT c.id AS campaign_id, {day_text} AS local_day, ad.*
  FROM abandonment_daily ad JOIN campaigns c ON c.name = ad.campaign),
days AS (SELECT campaign_id, local_day FROM calls UNION SELECT campaign_id, local_day FROM ab),
ab30 AS (
  SELECT days.campaign_id, days.local_day, {s30('live_answered')} AS live_answered_30d,
         {s30('abandoned')} AS abandoned_30d, {s30('machine_hangups')} AS machine_hangups_30d
  FROM days LEFT JOIN ab ON ab.campaign_id = days.campaign_id AND ab.local_day = days.local_day
  WINDOW w30 AS ({sql['last_30_days']('days.campaign_id', 'days.local_day')}))
SELECT cp.name AS campaign, days.local_day AS day,
       COALESCE(calls.calls, 0) AS calls, COALESCE(calls.outside_window, 0) AS outside_window,
       COALESCE(calls.window_unknown, 0) AS window_unknown, COALESCE(calls.dnc_calls, 0) AS dnc_calls,
       COALESCE(peaks.numbers, 0) AS numbers, COALESCE(peaks.max_per_number_day, 0) AS max_per_number_day,
       COALESCE(peaks.max_per_number_week, 0) AS max_per_number_week,
       COALESCE(peaks.max_per_number_month, 0) AS max_per_number_month,
       COALESCE(ab.live_answered, 0) AS live_answered, COALESCE(ab.abandoned, 0) AS abandoned,
       COALESCE(ab.machine_hangups, 0) AS machine_hangups,
       COALESCE(ab.live_answered_24h, 0) AS live_answered_24h, COALESCE(ab.abandoned_24h, 0) AS abandoned_24h,
       COALESCE(ab.machine_hangups_24h, 0) AS machine_hangups_24h, ab.abandon_rate_24h AS abandon_rate_24h,
       ab30.live_answered_30d, ab30.abandoned_30d, ab30.machine_hangups_30d,
       {_rate(sql, 'ab30.abandoned_30d', 'ab30.live_answered_30d', 'ab30.machine_hangups_30d', 'f.fmr')} AS abandon_rate_30d,
       {", ".join(f"COALESCE(zones.zone_{s}, 0) AS zone_{s}" for s in ZONE_SOURCES)},
       COALESCE(zones.zone_campaign_fallback, 0) AS zone_campaign_fallback
FROM days
JOIN campaigns cp ON cp.id = days.campaign_id
JOIN (SELECT c.id, {sql['fmr']} AS fmr FROM campaigns c) f ON f.id = days.campaign_id
LEFT JOIN calls ON calls.campaign_id = days.campaign_id AND calls.local_day = days.local_day
LEFT JOIN peaks ON peaks.campaign_id = days.campaign_id AND peaks.local_day = days.local_day
LEFT JOIN zones ON zones.campaign_id = days.campaign_id AND zones.local_day = days.local_day
LEFT JOIN ab ON ab.campaign_id = days.campaign_id AND ab.local_day = days.local_day
JOIN ab30 ON ab30.campaign_id = days.campaign_id AND ab30.local_day = days.local_day"""


VIEW_COMMENTS = {
    "live_answers": "Live-answered attempts (abandoned 1 or 0) and AMD hang-ups (machine_hangup 1): the one SQL definition of abandoned; callee-local and campaign-local day.",
    "abandonment_daily": "Per campaign and campaign-local day: people live-answered, abandoned, AMD hang-ups (weighted by amd.false_machine_rate); the day's rate, the highest rolling 24 h rate (at each live answer) and the rolling 30-day rate.",
    "compliance_daily": "Per campaign and callee-local day: calls, outside the window, DNC calls, the highest calls per number per day/week/month, zone sources; abandonment (24 h, 30 days) from abandonment_daily.",
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    sql = _sql(dialect)
    for view in ("compliance_daily", "abandonment_daily", "live_answers"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.execute(_live_answers(sql))
    op.execute(_abandonment_daily(sql))
    op.execute(_compliance_daily(sql))
    if dialect == "postgresql":
        for view, comment in VIEW_COMMENTS.items():
            op.execute(f"COMMENT ON VIEW {view} IS {_lit(comment)}")


def _module(file_name: str, name: str):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file_name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for view in ("compliance_daily", "abandonment_daily", "live_answers"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    m7 = _module("0007_contact_limits.py", "m0007")
    s7 = m7._sql(dialect)
    op.execute(m7._live_answers(s7))
    op.execute(m7._compliance_daily(s7))
    m10 = _module("0010_campaign_local_time.py", "m0010")
    op.execute(m10._abandonment_daily(m10._sql(dialect)))

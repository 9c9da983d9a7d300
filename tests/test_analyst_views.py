"""The analysts' views in the campaign's local time (migration 0010), on PostgreSQL and SQLite,
against a hand-built attempts table: attempts_hourly.local_hour, abandonment_daily.day and
caller_id_daily.day are the campaign's own hour and day (schedule.timezone), the same on both
databases; the migration fills them in for attempts stored before it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from autodialer.telephony.outcomes import CallResult, CallStatus
from autodialer.store import Store
from autodialer.store import schema as t
from autodialer.store.types import UtcDateTime

UTC = timezone.utc
C1, C2 = "+74950000001", "+74950000002"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def text(value) -> str:
    """A view's hour or day as text, whatever the database returns (timestamp/date on PostgreSQL,
    ISO text on SQLite)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _contact(conn, cid, phone, n):
    return conn.execute(t.contacts.insert().values(
        campaign_id=cid, phone=phone, alternates=[], timezone="Asia/Vladivostok", timezone_source="registry",
        variables={}, upload_id=0, row_number=n, created_at=at(2026, 11, 1)).returning(t.contacts.c.id)).scalar_one()


# A campaign in Vladivostok (UTC+10, no summer time) and its attempts, claimed and finished as a
# run does: (attempt, started, status, caller ID). UTC days: the first three on 1 December, the
# last on the 2nd; Vladivostok days: the first on the 1st (23:30), the others on the 2nd.
PLAN = [
    ("a1", at(2026, 12, 1, 13, 30), CallStatus.ANSWERED, C1),   # 23:30 local, 1 Dec
    ("a2", at(2026, 12, 1, 14, 10), CallStatus.ABANDONED, C1),  # 00:10 local, 2 Dec
    ("a3", at(2026, 12, 1, 14, 20), CallStatus.BUSY, C2),       # 00:20 local, 2 Dec
    ("a4", at(2026, 12, 2, 2, 0), CallStatus.ANSWERED, C1),     # 12:00 local, 2 Dec
]


def _vladivostok(store: Store) -> None:
    cid = store.ensure_campaign("vvo", kind="bot", settings={"schedule": {"cron": "0 9 * * *", "timezone": "Asia/Vladivostok"}})
    with store.engine.begin() as conn:
        ids = [_contact(conn, cid, f"+7423200000{i}", i) for i in range(len(PLAN))]
    for k, (aid, started, status, caller) in zip(ids, PLAN):
        phone = f"+7423200000{ids.index(k)}"
        assert store.claim_attempt(k, attempt_id=aid, number=phone, now=started, max_attempts=3, caller_id=caller)
        answered = started + timedelta(seconds=6) if status in (CallStatus.ANSWERED, CallStatus.ABANDONED) else None
        store.finish_attempt(CallResult(attempt_id=aid, number=phone, status=status, answered_at=answered,
                                        talk_seconds=20.0 if status == CallStatus.ANSWERED else None),
                             contact_state="done", next_attempt_at=None)


def _rows(store, sql):
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]


def test_local_hour_and_day_are_the_campaigns_on_both_databases(db_url):
    store = Store(db_url)
    store.migrate()
    _vladivostok(store)
    starts = {r["attempt_id"]: r["campaign_local_start"] for r in _rows(store, "SELECT attempt_id, campaign_local_start FROM attempts")}
    assert starts == {"a1": "2026-12-01 23:30:00", "a2": "2026-12-02 00:10:00", "a3": "2026-12-02 00:20:00",
                      "a4": "2026-12-02 12:00:00"}
    hourly = sorted((text(r["local_hour"]), text(r["hour"])[:19], r["caller_id"], r["attempts"], r["answered"], r["abandoned"])
                    for r in _rows(store, "SELECT * FROM attempts_hourly WHERE campaign = 'vvo'"))
    assert hourly == [
        ("2026-12-01 23:00:00", "2026-12-01 13:00:00", C1, 1, 1, 0),
        ("2026-12-02 00:00:00", "2026-12-01 14:00:00", C1, 1, 0, 1),
        ("2026-12-02 00:00:00", "2026-12-01 14:00:00", C2, 1, 0, 0),
        ("2026-12-02 12:00:00", "2026-12-02 02:00:00", C1, 1, 1, 0),
    ]
    daily = [(text(r["day"]), r["live_answered"], r["abandoned"], r["live_answered_30d"], r["abandoned_30d"])
             for r in _rows(store, "SELECT * FROM abandonment_daily WHERE campaign = 'vvo' ORDER BY day")]
    assert daily == [("2026-12-01", 1, 0, 1, 0), ("2026-12-02", 2, 1, 3, 1)]  # UTC days would be 3/1 and 1/0
    callers = [(r["caller_id"], text(r["day"]), r["attempts"], r["answered"])
               for r in _rows(store, "SELECT * FROM caller_id_daily WHERE campaign = 'vvo' ORDER BY caller_id, day")]
    assert callers == [(C1, "2026-12-01", 1, 1), (C1, "2026-12-02", 2, 2), (C2, "2026-12-02", 1, 0)]
    store.close()


def test_migration_0010_fills_in_the_local_start_of_attempts_stored_before(db_url):
    """PostgreSQL converts in SQL (one UPDATE a campaign), SQLite in Python: the same text."""
    store = Store(db_url)
    store.migrate_to("0008")
    cid = store.ensure_campaign("vvo", kind="bot", settings={"schedule": {"timezone": "Asia/Vladivostok"}})
    other = store.ensure_campaign("bare", kind="bot")  # no settings: UTC
    london = store.ensure_campaign("lon", kind="bot", settings={"schedule": {"timezone": "Europe/London"}})  # summer time
    with store.engine.begin() as conn:
        k = _contact(conn, cid, "+74232000001", 1)
        a = sa.table("attempts", *(sa.column(n) for n in ("attempt_id", "contact_id", "campaign_id", "number", "status")),
                     sa.column("started_at", UtcDateTime))
        for aid, campaign, started in (("old1", cid, "2026-12-01 14:10:00"), ("old2", other, "2026-12-01 14:10:00"),
                                       ("old3", london, "2026-07-01 12:00:00"), ("old4", london, "2026-12-01 12:00:00")):
            started = datetime.fromisoformat(started).replace(tzinfo=UTC)
            conn.execute(a.insert().values(attempt_id=aid, contact_id=k, campaign_id=campaign, number="+74232000001",
                                           started_at=started,
                                           status="ANSWERED"))
    store.migrate()
    got = {r["attempt_id"]: r["campaign_local_start"] for r in _rows(store, "SELECT attempt_id, campaign_local_start FROM attempts")}
    assert got == {"old1": "2026-12-02 00:10:00", "old2": "2026-12-01 14:10:00",
                   "old3": "2026-07-01 13:00:00", "old4": "2026-12-01 12:00:00"}
    [hour] = _rows(store, "SELECT local_hour FROM attempts_hourly WHERE campaign = 'vvo'")
    assert text(hour["local_hour"]) == "2026-12-02 00:00:00"
    store.close()

"""Every SQL snippet of the README runs, on PostgreSQL and SQLite, against a store holding what
the analysts' views are about: the shipped order-confirmation and survey campaigns, their sample
lists imported, and attempts of every kind (answered, abandoned, busy, stopped by pacing, survey
answers reported by UserEvents); the views give the numbers those attempts mean."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from autodialer.campaigns.campaign import load_campaign
from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind
from autodialer.store import Store, runs

ROOT = Path(__file__).resolve().parents[1]


def readme_snippets() -> list[tuple[str, bool]]:
    """(statement, PostgreSQL only) for every statement of every ```sql block of the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```sql\n(.*?)```", text, flags=re.S):
        pg_only = block.lstrip().startswith("-- PostgreSQL")
        for statement in re.split(r";\s*\n", block):
            lines = [line for line in statement.splitlines() if line.strip() and not line.strip().startswith("--")]
            if lines:
                out.append(("\n".join(lines).rstrip(";"), pg_only))
    return out


SEEDED = {"order-confirmation", "customer-survey"}


def seed(store: Store) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for name, listfile in (("order_confirmation.yaml", "order_confirmation_sample.csv"), ("survey.yaml", "survey_sample.csv")):
        campaign = load_campaign(ROOT / "campaigns" / name)
        cid = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())
        store.import_list(cid, ROOT / "campaigns" / listfile, campaign.list_settings())
        contacts = store.due_contacts(cid, now=now)
        run_id = "run-s" if campaign.kind == "bot" else "run-o"
        runs.start_run(store, run_id, cid, lease_seconds=60, deployment=f"{campaign.kind}/{campaign.name}",
                       settings=campaign.settings_snapshot())
        runs.end_run(store, run_id, counts={"dialled": 1 if campaign.kind == "bot" else 5})
        if campaign.kind == "bot":
            events = [{"UserEvent": "DialerAnswer", "Question": "1", "Key": "3"},
                      {"UserEvent": "DialerAnswer", "Question": "2", "Key": "1"}]
            k = contacts[0]
            assert store.claim_attempt(k.id, attempt_id="s1", number=k.phone, now=now, max_attempts=3, run_id="run-s")
            store.finish_attempt(CallResult(attempt_id="s1", number=k.phone, status=CallStatus.ANSWERED, answered_at=now,
                                            ended_at=now + timedelta(seconds=30), talk_seconds=30.0, events=events),
                                 contact_state="done", next_attempt_at=None, contact_result="q1=3;q2=1;q3=")
            continue
        plan = [  # (status, failure, result)
            (CallStatus.ANSWERED, None, "confirmed"),
            (CallStatus.ANSWERED, None, "cancelled"),
            (CallStatus.ABANDONED, None, None),
            (CallStatus.BUSY, None, None),
            (CallStatus.NO_ANSWER, FailureKind.STOPPED_RINGING, None),
        ]
        for i, (k, (status, failure, result)) in enumerate(zip(contacts, plan)):
            started = now - timedelta(minutes=i)
            assert store.claim_attempt(k.id, attempt_id=f"o{i}", number=k.phone, now=started, max_attempts=5,
                                       run_id="run-o", caller_id=campaign.caller_ids[i % 2], trunk=campaign.trunk)
            answered = started + timedelta(seconds=6) if status in (CallStatus.ANSWERED, CallStatus.ABANDONED) else None
            store.finish_attempt(
                CallResult(attempt_id=f"o{i}", number=k.phone, status=status, answered_at=answered,
                           cause=17 if status == CallStatus.BUSY else 16, cause_txt="User busy" if status == CallStatus.BUSY else "Normal Clearing",
                           talk_seconds=20.0 if status == CallStatus.ANSWERED else None, failure=failure,
                           stopped=failure == FailureKind.STOPPED_RINGING),
                contact_state="done" if result else "pending", next_attempt_at=None if result else now + timedelta(hours=1),
                contact_result=result)


@pytest.fixture
def seeded(db_url):
    store = Store(db_url)
    store.migrate()
    seed(store)
    yield store
    store.close()


def rows(store: Store, sql: str) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]


def test_every_readme_snippet_runs(seeded):
    snippets = readme_snippets()
    assert len(snippets) >= 12
    for sql, pg_only in snippets:
        if pg_only and seeded.dialect != "postgresql":
            continue
        result = rows(seeded, sql)
        named = set(re.findall(r"(?:campaign|name) = '([^']+)'", sql))
        if named <= SEEDED:  # an example about the seeded campaigns shows their data
            assert result, f"no rows from:\n{sql}"


def test_the_views_count_what_the_attempts_mean(seeded):
    hourly = rows(seeded, "SELECT * FROM attempts_hourly WHERE campaign = 'order-confirmation'")
    total = {k: sum(r[k] for r in hourly) for k in ("attempts", "answered", "abandoned", "live_answered", "stopped_by_pacing")}
    assert total == {"attempts": 5, "answered": 2, "abandoned": 1, "live_answered": 3, "stopped_by_pacing": 1}
    assert {r["caller_id"] for r in hourly} == {"+74950000001", "+74950000002"}
    rings = [r["mean_ring_seconds"] for r in hourly if r["mean_ring_seconds"] is not None]
    assert rings and all(abs(float(x) - 6.0) < 0.01 for x in rings)
    for r in hourly:  # the campaign's own zone (Europe/Moscow, UTC+3), on both databases
        hour, local = r["hour"], r["local_hour"]
        if isinstance(hour, str):  # SQLite: ISO text
            hour, local = datetime.fromisoformat(hour), datetime.fromisoformat(local)
        assert local - hour.replace(tzinfo=None) == timedelta(hours=3)
    [day] = rows(seeded, "SELECT * FROM abandonment_daily WHERE campaign = 'order-confirmation'")
    assert (day["live_answered"], day["abandoned"]) == (3, 1)
    assert abs(day["abandon_rate"] - 1 / 3) < 1e-9 and abs(day["abandon_rate_30d"] - 1 / 3) < 1e-9
    # The rolling 24 h's highest: at the abandoned call, the first answer, it was 1 of 1.
    assert (day["live_answered_24h"], day["abandoned_24h"], day["abandon_rate_24h"]) == (1, 1, 1.0)
    answers = rows(seeded, "SELECT question, question_name, key, label FROM survey_answers ORDER BY question")
    assert answers == [{"question": 1, "question_name": "satisfaction", "key": "3", "label": "neutral"},
                       {"question": 2, "question_name": "on_time", "key": "1", "label": "yes"}]
    results = {r["result"]: r["contacts"] for r in rows(seeded, "SELECT * FROM results_by_campaign WHERE campaign = 'order-confirmation'")}
    assert results["confirmed"] == 1 and results["cancelled"] == 1
    rejects = rows(seeded, "SELECT outcome, rows FROM rejects_by_upload WHERE campaign = 'order-confirmation'")
    assert {r["outcome"] for r in rejects} == {"rejected", "excluded"}
    [stopped] = rows(seeded, "SELECT status, failure FROM attempts WHERE stopped_by_pacing")
    assert stopped == {"status": "NO_ANSWER", "failure": "stopped_ringing"}


@pytest.mark.postgres
def test_outcomes_by_hour_is_a_timestamptz_whatever_the_session_zone(pg_url):
    store = Store(pg_url)
    store.migrate()
    seed(store)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("SET TIME ZONE 'Asia/Vladivostok'")
        n = conn.execute(sa.text("SELECT SUM(attempts) FROM outcomes_by_hour WHERE campaign = 'order-confirmation' "
                                 "AND hour > now() - interval '1 day'")).scalar()
        comments = conn.execute(sa.text("SELECT obj_description('attempts'::regclass), "
                                        "col_description('attempts'::regclass, 1), obj_description('attempts_hourly'::regclass)")).one()
        missing = conn.execute(sa.text(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN pg_class k ON k.relname = c.table_name AND k.relkind IN ('r', 'v') "
            "WHERE c.table_schema = 'public' AND c.table_name <> 'alembic_version' AND c.table_name NOT IN "
            "(SELECT table_name FROM information_schema.views WHERE table_schema = 'public') "
            "AND col_description(k.oid, c.ordinal_position) IS NULL")).all()
    store.close()
    assert n == 5  # all five attempts of the last minutes, in a session 10 hours east of UTC
    assert all(comments) and missing == []

"""The local journal: results the database could not take are fsync'd to disk and replayed, by
the run itself once the database is back, or by the campaign's next run if the run died; a live
run's journal is never touched by another."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone

import sqlalchemy as sa

from autodialer.campaign import Campaign
from autodialer.dialing import ContactDialer
from autodialer.journal import Journal, read_entries
from autodialer.outcomes import CallResult, CallStatus
from tests.test_store_dialing import claim, loaded  # noqa: F401  (the fixture)

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


def campaign() -> Campaign:
    return Campaign(name="c", kind="bot", schedule={"cron": "0 9 * * *", "timezone": "Europe/Moscow"},
                    destination={"type": "context", "context": "from-dialer"},
                    windows={"windows": [{"days": "daily", "start": "00:00", "end": "23:59:59"}]})


def answered(attempt_id: str, phone: str) -> CallResult:
    return CallResult(attempt_id=attempt_id, number=phone, status=CallStatus.ANSWERED, reason=4,
                      answered_at=NOW, ended_at=NOW, talk_seconds=21.5, events=[{"UserEvent": "DialerResult", "Result": "confirmed"}])


def test_a_dead_runs_journal_is_replayed_by_the_next_run_and_a_live_ones_is_left_alone(loaded, journal_dir):
    store, cid = loaded
    a, b, _ = store.due_contacts(cid, now=NOW)
    assert claim(store, a, "dead-1") and claim(store, b, "live-1")
    dead = Journal("c", "run-dead")
    dead.append(a.id, answered("dead-1", a.phone))
    dead.append(a.id, answered("dead-1", a.phone))  # a line written twice replays once
    os.close(dead._fd)  # the worker dies: its lock goes with it, the file stays
    live = Journal("c", "run-live")
    live.append(b.id, answered("live-1", b.phone))
    assert [e.result.talk_seconds for e in read_entries(dead.path)] == [21.5]

    replayer = ContactDialer(campaign(), store, None, None, campaign_id=cid, journal=Journal("c", "run-next"))
    outcomes = asyncio.run(replayer.replay_dead_runs_journals())
    assert [(o.contact_id, o.result.status, o.contact_result) for o in outcomes] == [(a.id, CallStatus.ANSWERED, "confirmed")]
    with store.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, talk_seconds FROM attempts WHERE attempt_id = 'dead-1'")).one()
    assert tuple(row) == ("ANSWERED", 21.5)
    assert store.contact(a.id).state == "done"
    assert not dead.path.exists()
    # The live run's file is locked: untouched, its attempt still DIALING.
    assert live.path.exists() and store.contact(b.id).state == "dialing"
    live.close()
    assert live.path.exists()  # closed with a result pending: kept for the next run

"""The local journal: results the database could not take are fsync'd to disk and replayed, by
the run itself once the database is back, or by the campaign's next run if the run died; a live
run's journal is never touched by another."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from autodialer.campaigns.campaign import Campaign
from autodialer.dialer.dialing import ContactDialer
from autodialer.dialer.journal import Journal, read_entries
from autodialer.telephony.outcomes import CallResult, CallStatus
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


def test_a_click_to_call_result_journaled_is_replayed_done_with_its_result_no_retry_decided(loaded, journal_dir):
    """ContactDialer.call_once writes its result as final (one request, one call): a BUSY that a
    campaign's policy would retry stays done with click-to-call's result, also when it went
    through the journal."""
    store, cid = loaded
    a, *_ = store.due_contacts(cid, now=NOW)
    assert claim(store, a, "req-1")
    dead = Journal("c", "run-dead")
    busy = CallResult(attempt_id="req-1", number=a.phone, status=CallStatus.BUSY, ended_at=NOW)
    dead.append(a.id, busy, final="client_busy")
    dead.close()
    assert [e.final for e in read_entries(dead.path)] == ["client_busy"]
    replayer = ContactDialer(campaign(), store, None, None, campaign_id=cid, journal=Journal("c", "run-next"))
    outcomes = asyncio.run(replayer.replay_dead_runs_journals())
    assert [(o.result.status, o.contact_result, o.next_attempt_at) for o in outcomes] == [(CallStatus.BUSY, "client_busy", None)]
    contact = store.contact(a.id)
    assert (contact.state, contact.result) == ("done", "client_busy")


def test_a_journal_replayed_after_another_run_resolved_its_attempts_corrects_them_counted_once(tmp_path, pg_url):
    """Run A wrote three results to its journal (the database was away) and died. Run B, on
    another machine, took A's attempts over (lease lapsed) and resolved them UNKNOWN; one of A's
    journals (run Y's) had been replayed just before B's write. Then A's machine replays A's
    journal. Against real PostgreSQL, by phone number over all attempts:
    - x: the journal's NO_ANSWER replaces B's UNKNOWN and is counted once: with at most 2
      attempts a contact, x is due again in 10 minutes (counted twice, it would be done);
    - y: run Y's ANSWERED, replayed first, is kept (B knew less: it writes only DIALING attempts);
    - z: the journal says the Originate never left: given back once, even when replayed twice."""
    from autodialer.lab import running_lab
    from autodialer.dialer.leases import LEASE_SECONDS
    from autodialer.telephony.outcomes import FailureKind
    from autodialer.pacing.limits import CallLimiter
    from autodialer.dialer.recovery import recover_orphans
    from autodialer.store import runs
    from autodialer.telephony.engine import DialEngine
    from tests.faultkit import load_into_store, numbers, rows, session_for, write_campaign

    x, y, z = numbers(3, digits="3")
    retry = {"max_attempts": 2, "outcomes": {"NO_ANSWER": {"interval": "10m", "max_attempts": 2}}}
    camp, store, cid = load_into_store(write_campaign(tmp_path, [x, y, z], retry=retry), pg_url)
    contacts = {c.phone: c for c in store.due_contacts(cid, now=datetime.now(timezone.utc))}
    now = datetime.now(timezone.utc)
    for run_id, phone in (("run-A", x), ("run-Y", y), ("run-A", z)):
        if phone != z:
            runs.start_run(store, run_id, cid, lease_seconds=LEASE_SECONDS)
        assert store.claim_attempt(contacts[phone].id, attempt_id=f"a-{phone[-4:]}", number=phone, now=now,
                                   max_attempts=2, run_id=run_id)
    ax, ay, az = (f"a-{p[-4:]}" for p in (x, y, z))
    with store.engine.begin() as conn:  # 90 s later: both runs' leases have lapsed
        conn.execute(sa.text("UPDATE runs SET lease_expires_at = clock_timestamp() - interval '1 second'"))

    def dead_journal(run_id, entries):
        journal = Journal(camp.name, run_id)
        for phone, result in entries:
            journal.append(contacts[phone].id, result)
        os.close(journal._fd)  # the worker dies: the lock goes, the file stays
        return journal

    def replay_dead():
        replayer = ContactDialer(camp, store, None, None, campaign_id=cid, journal=Journal(camp.name, "run-C"))
        return asyncio.run(replayer.replay_dead_runs_journals())

    ended = datetime.now(timezone.utc)
    no_answer = CallResult(attempt_id=ax, number=x, status=CallStatus.NO_ANSWER, reason=3, ended_at=ended)
    not_sent = CallResult(attempt_id=az, number=z, status=CallStatus.FAILED, ended_at=ended, failure=FailureKind.NOT_SENT,
                          error="AmiConnectionError: not connected")
    orphans = runs.take_over_orphans(store, cid, legacy_after_seconds=3600)  # run B takes A's and Y's attempts
    assert sorted(o.attempt_id for o in orphans) == sorted([ax, ay, az])
    dead_journal("run-Y", [(y, answered(ay, y))])
    assert [o.result.status for o in replay_dead()] == [CallStatus.ANSWERED]  # Y's journal, just before B writes

    async def run_b(lab):
        async with session_for(lab.url) as ami:
            engine = DialEngine(ami, outbound_context=camp.outbound_context)  # no CDR: gone means UNKNOWN
            dialer = ContactDialer(camp, store, engine, CallLimiter(1, 10), campaign_id=cid, run_id="run-B")
            return (await recover_orphans(dialer, engine, orphans)).closed

    with running_lab(time_scale=0.05) as lab:
        closed = asyncio.run(asyncio.wait_for(run_b(lab), 60))
        assert lab.originates == 0
    by_attempt = {o.result.attempt_id if o.result else None: o for o in closed}
    assert {by_attempt[ax].result.status, by_attempt[az].result.status} == {CallStatus.UNKNOWN}
    assert [o.skipped for o in closed if o.result is None] == ["already recorded by its own run"]  # y: kept

    journal_a = dead_journal("run-A", [(x, no_answer), (z, not_sent)])
    entries = read_entries(journal_a.path)
    replayed = {o.result.attempt_id: o for o in replay_dead()}
    assert replayed[ax].decision.retry and replayed[ax].next_attempt_at is not None, replayed[ax].decision
    # A's journal replayed once more (a crash after the write, before its lines were marked done).
    again = ContactDialer(camp, store, None, None, campaign_id=cid)
    for entry in entries:
        asyncio.run(again.replay(entry))

    attempts = {r["number"]: r for r in rows(pg_url, "SELECT number, status, failure FROM attempts")}
    assert len(attempts) == 3  # one attempt row per number over all runs
    assert (attempts[x]["status"], attempts[y]["status"], attempts[z]["status"]) == ("NO_ANSWER", "ANSWERED", "NOT_SENT")
    table = {r["phone"]: r for r in rows(pg_url, "SELECT phone, state, attempts, last_status, next_attempt_at FROM contacts")}
    assert (table[x]["state"], table[x]["attempts"], table[x]["last_status"]) == ("pending", 1, "NO_ANSWER")
    assert table[x]["next_attempt_at"] - ended < timedelta(minutes=11)  # NO_ANSWER's 10 min, not UNKNOWN's day
    assert (table[y]["state"], table[y]["attempts"], table[y]["last_status"]) == ("done", 1, "ANSWERED")
    assert (table[z]["state"], table[z]["attempts"]) == ("pending", 0)  # given back once, not twice
    store.close()


def test_results_journaled_at_the_same_moment_all_reach_the_disk(journal_dir):
    """Ten calls that end together while the database is away are appended from ten executor
    threads at once (autodialer.dialer.dialing.ContactDialer.record). The first append opens and locks
    the file; none may open a second descriptor and wait forever for the run's own lock (the
    3-minute PostgreSQL outage test hung that way on a busy machine)."""
    import threading

    for n in range(40):
        journal = Journal("c", f"run-{n}")
        start = threading.Barrier(10)

        def append(i: int) -> None:
            start.wait()
            journal.append(i, answered(f"{n}-{i}", f"+7906000{i:04d}"))

        threads = [threading.Thread(target=append, args=(i,), daemon=True) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        stuck = [t for t in threads if t.is_alive()]
        assert not stuck, f"journal {n}: {len(stuck)} append(s) waiting for the run's own lock"
        assert len(read_entries(journal.path)) == 10
        journal.close()

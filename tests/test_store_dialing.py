"""Dialing state on both stores: due contacts, claim (compare-and-set before the originate),
finish (every CallResult field), a dead run's attempt closed and claimed again, the analyst views."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind
from autodialer.store import STALE_ERROR, Store, StoreError

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def loaded(db_url, tmp_path):
    store = Store(db_url)
    store.migrate()
    path = tmp_path / "list.csv"
    path.write_text("phone,name\n89061234561,A\n89061234562,B\n89061234563,C\n", encoding="utf-8")
    from autodialer.lists.mapping import ListSettings

    settings = ListSettings.model_validate({"name": "c", "kind": "k", "list": {"variables": {"NAME": "name"}}})
    cid = store.ensure_campaign("c", kind="k")
    store.import_list(cid, path, settings)
    yield store, cid
    store.close()


def claim(store, contact, attempt_id, *, now=NOW, max_attempts=3, **kw):
    return store.claim_attempt(contact.id, attempt_id=attempt_id, number=contact.phone, now=now, max_attempts=max_attempts, **kw)


def test_claim_then_finish_records_every_field(loaded):
    store, cid = loaded
    first = store.due_contacts(cid, now=NOW, limit=1)[0]
    assert first.phone == "+79061234561" and first.variables == {"NAME": "A"}
    assert claim(store, first, "a-1", run_id="run-1", caller_id="74950000000", trunk="sip-1")
    assert not claim(store, first, "a-2")  # already dialing: a second claim writes nothing
    assert [c.phone for c in store.due_contacts(cid, now=NOW)] == ["+79061234562", "+79061234563"]
    assert store.status_counts(first.id) == {"DIALING": 1}
    t0 = NOW + timedelta(seconds=1)
    result = CallResult(
        attempt_id="a-1", number=first.phone, status=CallStatus.BUSY, reason=5, cause=17, cause_txt="User busy",
        dial_status="BUSY", channel_id="a-1-1", other_channel_id="a-1-2", channel="Local/79061234561@sim;1",
        action_id="act-1", queued_at=t0, answered_at=None, ended_at=t0 + timedelta(seconds=3), talk_seconds=0.0,
        events=[{"UserEvent": "Confirm", "Digit": "1"}], error=None,
    )
    retry_at = NOW + timedelta(minutes=5)
    store.finish_attempt(result, contact_state="pending", next_attempt_at=retry_at, contact_result=None)
    with store.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM attempts WHERE attempt_id = 'a-1'")).mappings().one()
    assert (row["status"], row["reason"], row["cause"], row["cause_txt"], row["dial_status"]) == ("BUSY", 5, 17, "User busy", "BUSY")
    assert (row["channel_id"], row["other_channel_id"], row["channel"], row["action_id"]) == ("a-1-1", "a-1-2", "Local/79061234561@sim;1", "act-1")
    assert (row["run_id"], row["caller_id"], row["trunk"], row["number"]) == ("run-1", "74950000000", "sip-1", "+79061234561")
    from autodialer.store import schema

    with store.engine.connect() as conn:
        typed = conn.execute(sa.select(schema.attempts).where(schema.attempts.c.attempt_id == "a-1")).mappings().one()
    assert typed["queued_at"] == t0 and typed["queued_at"].tzinfo is not None
    assert typed["ended_at"] == t0 + timedelta(seconds=3) and typed["started_at"] == NOW
    assert typed["events"] == [{"UserEvent": "Confirm", "Digit": "1"}]
    contact = store.contact(first.id)
    assert (contact.state, contact.attempts, contact.last_status, contact.next_attempt_at) == ("pending", 1, "BUSY", retry_at)
    # Not due before its retry time; due after.
    assert first.id not in {c.id for c in store.due_contacts(cid, now=NOW)}
    assert store.due_contacts(cid, now=retry_at)[-1].id == first.id


def test_attempt_cap_and_done(loaded):
    store, cid = loaded
    c = store.due_contacts(cid, now=NOW, limit=1)[0]
    for i in range(2):
        assert claim(store, c, f"x-{i}", max_attempts=2)
        store.finish_attempt(CallResult(attempt_id=f"x-{i}", number=c.phone, status=CallStatus.NO_ANSWER), contact_state="pending", next_attempt_at=None)
    assert not claim(store, c, "x-2", max_attempts=2)  # the cap: nothing written
    assert store.status_counts(c.id) == {"NO_ANSWER": 2}
    other = next(x for x in store.due_contacts(cid, now=NOW) if x.id != c.id)
    assert claim(store, other, "y-0")
    store.finish_attempt(CallResult(attempt_id="y-0", number=other.phone, status=CallStatus.ANSWERED, talk_seconds=12.5),
                         contact_state="done", next_attempt_at=None, contact_result="confirmed")
    assert not claim(store, other, "y-1")
    (summary,) = store.summary("c")
    assert (summary["contacts"], summary["done"], summary["successful"], summary["pending"], summary["dialing"]) == (3, 1, 1, 2, 0)
    assert (summary["answered"], summary["no_answer"], summary["not_called"], summary["attempts"]) == (1, 1, 1, 3)
    with store.engine.connect() as conn:
        hours = conn.execute(sa.text("SELECT campaign, status, attempts, talk_seconds FROM outcomes_by_hour ORDER BY status")).all()
        hour = conn.execute(sa.text("SELECT DISTINCT hour FROM outcomes_by_hour")).scalar_one()
    assert [tuple(h) for h in hours] == [("c", "ANSWERED", 1, 12.5), ("c", "NO_ANSWER", 2, 0)]
    assert str(hour).startswith("2026-11-28 09:00:00")


def test_bulk_finish_and_errors(loaded):
    store, cid = loaded
    contacts = store.due_contacts(cid, now=NOW)
    for i, c in enumerate(contacts):
        assert claim(store, c, f"b-{i}")
    items = [(CallResult(attempt_id=f"b-{i}", number=c.phone, status=CallStatus.CONGESTION, cause=34), "pending", NOW + timedelta(minutes=1), None)
             for i, c in enumerate(contacts)]
    store.finish_attempts(items)
    assert {store.contact(c.id).last_status for c in contacts} == {"CONGESTION"}
    with pytest.raises(StoreError, match="no attempt row for attempt_id"):
        store.finish_attempt(CallResult(attempt_id="nope", number="+79061234561", status=CallStatus.BUSY), contact_state="pending", next_attempt_at=None)
    with pytest.raises(StoreError, match="contact_state"):
        store.finish_attempt(items[0][0], contact_state="dialing", next_attempt_at=None)
    with pytest.raises(ValueError, match="naive datetime"):
        store.due_contacts(cid, now=datetime(2026, 1, 1))
    from autodialer.errors import UnsafeValueError

    with pytest.raises(UnsafeValueError):
        store.claim_attempt(contacts[0].id, attempt_id="z", number="7906\r\nAction: x", now=NOW, max_attempts=9)


def test_a_late_result_of_a_dead_runs_attempt_does_not_undo_the_next_claim(loaded):
    """A dead run's attempt is closed (UNKNOWN, as autodialer.dialer.recovery does, only while still
    DIALING); its contact is claimed again; a late result for the dead attempt leaves that claim."""
    store, cid = loaded
    a, b, _ = store.due_contacts(cid, now=NOW)
    assert claim(store, a, "old", now=NOW)
    assert claim(store, b, "new", now=NOW + timedelta(minutes=10))
    closed = CallResult(attempt_id="old", number=a.phone, status=CallStatus.UNKNOWN, error=STALE_ERROR,
                        failure=FailureKind.RUN_DIED)
    assert store.finish_attempt(closed, contact_state="pending", next_attempt_at=None, only_if_dialing=True)
    a2 = store.contact(a.id)
    assert (a2.state, a2.attempts, a2.last_status) == ("pending", 1, "UNKNOWN")  # the count is not given back
    assert store.contact(b.id).state == "dialing"
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status, error FROM attempts WHERE attempt_id = 'old'")).one() == ("UNKNOWN", STALE_ERROR)
    assert not store.finish_attempt(closed, contact_state="pending", next_attempt_at=None, only_if_dialing=True)
    assert claim(store, a2, "retry", now=NOW + timedelta(minutes=20))
    store.finish_attempt(CallResult(attempt_id="old", number=a.phone, status=CallStatus.ANSWERED), contact_state="done", next_attempt_at=None)
    assert store.contact(a.id).state == "dialing"


def test_two_concurrent_claimers_only_one_wins(db_url):
    """Two stores (two connection pools), many threads, the same contacts: each contact is claimed
    exactly once and exactly one attempt row exists for it."""
    stores = [Store(db_url), Store(db_url)]
    stores[0].migrate()
    cid = stores[0].ensure_campaign("race", kind="k")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "l.csv"
        path.write_text("phone\n" + "\n".join(f"8906555{i:04d}" for i in range(20)) + "\n", encoding="utf-8")
        from autodialer.lists.mapping import ListSettings

        stores[0].import_list(cid, path, ListSettings(name="race", kind="k"))
    contacts = stores[0].due_contacts(cid, now=NOW)
    wins: list[tuple[int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def worker(n):
        store = stores[n % 2]
        barrier.wait()
        for c in contacts:
            if store.claim_attempt(c.id, attempt_id=f"w{n}-{c.id}", number=c.phone, now=NOW, max_attempts=5):
                with lock:
                    wins.append((c.id, f"w{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(cid_ for cid_, _ in wins) == sorted(c.id for c in contacts)
    with stores[0].engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT contact_id) FROM attempts")).one() == (20, 20)
        assert conn.execute(sa.text("SELECT MAX(attempts) FROM contacts")).scalar() == 1
    for s in stores:
        s.close()


def test_ensure_campaign_upserts_and_repr_hides_the_password(db_url):
    store = Store(db_url)
    store.migrate()
    first = store.ensure_campaign("c1", kind="order_confirmation", settings={"max_attempts": 3})
    assert store.ensure_campaign("c1", kind="survey", settings={"max_attempts": 5}) == first
    assert store.ensure_campaign("c2", kind="survey") != first
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT kind FROM campaigns WHERE id = :i"), {"i": first}).scalar() == "survey"
    assert [r["campaign"] for r in store.summary()] == ["c1", "c2"]
    with pytest.raises(StoreError, match="no campaign named 'nope'"):
        store.campaign_id("nope")
    password = sa.engine.make_url(db_url).password
    if password:
        assert f":{password}@" not in repr(store) and ":***@" in repr(store)
    store.close()


def test_live_answers_of_a_campaign_over_a_window_for_the_abandonment_cap(loaded):
    """What the predictive pacer's window starts from: this campaign's ANSWERED and ABANDONED
    attempts and AMD hang-ups since a time, oldest first, with when they were answered; nothing
    else (a MACHINE put through is not one)."""
    store, cid = loaded
    a, b, c = store.due_contacts(cid, now=NOW)
    plan = [(a, "old", NOW - timedelta(hours=30), CallStatus.ANSWERED, None),
            (b, "ab", NOW - timedelta(hours=2), CallStatus.ABANDONED, None),
            (c, "busy", NOW - timedelta(hours=1), CallStatus.BUSY, None),
            (b, "mh", NOW - timedelta(minutes=30), CallStatus.MACHINE, "hangup"),  # AMD hung up: maybe a person
            (c, "mc", NOW - timedelta(minutes=20), CallStatus.MACHINE, "connect"),  # put through: not abandoned
            (a, "ok", NOW - timedelta(minutes=5), CallStatus.ANSWERED, None)]
    for contact, attempt, at, status, amd_action in plan:
        assert claim(store, contact, attempt, now=at)
        answered = at + timedelta(seconds=20) if status != CallStatus.BUSY else None
        store.finish_attempt(CallResult(attempt_id=attempt, number=contact.phone, status=status, queued_at=at,
                                        answered_at=answered, ended_at=at + timedelta(seconds=60), amd_action=amd_action),
                             contact_state="pending", next_attempt_at=None, contact_result=None)
    other = store.ensure_campaign("other", kind="k")
    assert store.live_answers(other, since=NOW - timedelta(days=2)) == []
    assert store.live_answers(cid, since=NOW - timedelta(hours=24)) == [  # (answered, abandoned, AMD hang-up)
        (NOW - timedelta(hours=2) + timedelta(seconds=20), True, False),
        (NOW - timedelta(minutes=30) + timedelta(seconds=20), False, True),
        (NOW - timedelta(minutes=5) + timedelta(seconds=20), False, False),
    ]


def test_pacing_state_is_kept_per_campaign_and_replaced(loaded):
    store, cid = loaded
    assert store.load_pacing_state(cid) is None
    store.save_pacing_state(cid, "support", {"gain": 0.2, "ends": [[20.5, "answered"]], "handles": [90.0]}, now=NOW)
    store.save_pacing_state(cid, "support", {"gain": 0.3, "ends": [], "handles": []}, now=NOW + timedelta(hours=1))
    assert store.load_pacing_state(cid) == ("support", {"gain": 0.3, "ends": [], "handles": []}, NOW + timedelta(hours=1))
    other = store.ensure_campaign("other", kind="k")
    assert store.load_pacing_state(other) is None


def test_no_answers_that_pacing_stopped_are_counted_apart(loaded):
    """By the failure column, not by the wording of the error: a NO_ANSWER whose error merely
    reads like a stop is a no-answer."""
    from autodialer.telephony.outcomes import FailureKind

    store, cid = loaded
    c = store.due_contacts(cid, now=NOW)[0]
    stopped = FailureKind.STOPPED_RINGING
    for i, (error, failure) in enumerate((("stopped ringing after 9 s: looks like one", None),
                                          ("16.2 s: no operator free", stopped), (None, stopped))):
        assert claim(store, c, f"s-{i}", now=NOW + timedelta(hours=i))
        store.finish_attempt(CallResult(attempt_id=f"s-{i}", number=c.phone, status=CallStatus.NO_ANSWER, error=error,
                                        stopped=failure is not None, failure=failure),
                             contact_state="pending", next_attempt_at=None, contact_result=None)
    assert store.status_counts(c.id) == {"NO_ANSWER": 1, "STOPPED": 2}
    rows = store.engine.connect().execute(sa.text("SELECT attempt_id, failure FROM attempts ORDER BY attempt_id")).all()
    assert [tuple(r) for r in rows] == [("s-0", None), ("s-1", "stopped_ringing"), ("s-2", "stopped_ringing")]

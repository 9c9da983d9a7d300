"""Run leases on both stores, by the database's clock: only the attempts of a run that ended or
let its lease lapse are orphaned, however old the attempts of a live run are."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from autodialer.store import Store
from autodialer.store import runs
from tests.test_store_dialing import claim, loaded  # noqa: F401  (the fixture)

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


def test_a_live_runs_attempts_are_never_orphaned_however_old(loaded):
    store, cid = loaded
    a, b, c = store.due_contacts(cid, now=NOW)
    runs.start_run(store, "live", cid, lease_seconds=60)
    runs.start_run(store, "dead", cid, lease_seconds=1)
    runs.start_run(store, "done", cid, lease_seconds=60)
    # A worker clock two hours behind (or a call of two hours): started_at says nothing here.
    assert claim(store, a, "a-live", run_id="live", now=NOW - timedelta(hours=2))
    assert claim(store, b, "b-dead", run_id="dead", now=NOW + timedelta(hours=2))
    assert claim(store, c, "c-done", run_id="done", now=NOW + timedelta(hours=2))
    runs.end_run(store, "done", counts={"dialled": {"ANSWERED": 1}})
    assert [o.attempt_id for o in runs.take_over_orphans(store, cid, legacy_after_seconds=3600)] == ["c-done"]
    time.sleep(1.2)  # the database's clock passes the dead run's lease
    assert runs.renew_lease(store, "live", lease_seconds=60)
    orphans = runs.take_over_orphans(store, cid, legacy_after_seconds=3600)
    assert sorted(o.attempt_id for o in orphans) == ["b-dead", "c-done"]
    assert {o.attempt_id: o.contact_id for o in orphans} == {"b-dead": b.id, "c-done": c.id}
    # The lapsed run was marked taken over: it learns so at its next heartbeat (no new calls).
    assert not runs.renew_lease(store, "dead", lease_seconds=60)
    with store.engine.connect() as conn:
        rows = {r.run_id: r for r in conn.execute(sa.text("SELECT run_id, end_reason, ended_at, counts FROM runs"))}
    assert rows["dead"].end_reason == "expired" and rows["live"].ended_at is None
    assert rows["done"].end_reason == "finished"
    # Orphaned contacts stay `dialing` until their attempt is resolved: nobody can claim them.
    assert store.contact(b.id).state == "dialing" and not claim(store, store.contact(b.id), "again")


def test_an_attempt_of_a_run_without_a_lease_row_is_orphaned_once_older_than_an_attempt_lives(loaded):
    store, cid = loaded
    a, b, _ = store.due_contacts(cid, now=NOW)
    with store.engine.connect() as conn:
        now = runs.db_now(conn)
    assert abs((now - datetime.now(timezone.utc)).total_seconds()) < 5
    assert claim(store, a, "old", run_id=None, now=now - timedelta(minutes=20))
    assert claim(store, b, "young", run_id="no-row", now=now - timedelta(minutes=2))
    assert [o.attempt_id for o in runs.take_over_orphans(store, cid, legacy_after_seconds=600)] == ["old"]

"""Run leases, timed by the database's clock (see schema.runs).

A run starts by writing its row with a lease (`lease_seconds` from the database's now) and renews
it from a heartbeat. A later run treats an attempt still DIALING as orphaned only when the run
that claimed it ended or let its lease lapse: worker clocks never enter into it, and a live run's
calls are never closed under it, however long they last. An attempt of a run that has no row (a
run from before leases, or a tool dialing without one) is orphaned once it is older than the
longest an attempt can live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from autodialer.store import schema as t
from autodialer.store.types import to_utc


@dataclass(frozen=True)
class Orphan:
    """An attempt left DIALING by a run that is gone."""

    attempt_id: str
    contact_id: int
    number: str
    run_id: str | None
    started_at: datetime


def db_now(conn) -> datetime:
    """The database's clock (the one every worker shares), as an aware UTC datetime."""
    if conn.dialect.name == "postgresql":
        return to_utc(conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one())
    text = conn.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def start_run(store, run_id: str, campaign_id: int, *, lease_seconds: float, deployment: str | None = None,
              worker: str | None = None, settings: dict | None = None) -> datetime:
    """Write the run's row with a fresh lease; returns its start (the database's now)."""
    r = t.runs
    with store.engine.begin() as conn:
        now = db_now(conn)
        conn.execute(r.insert().values(
            run_id=run_id, campaign_id=campaign_id, deployment=deployment, worker=worker, started_at=now,
            heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds), settings=settings,
        ))
    return now


def renew_lease(store, run_id: str, *, lease_seconds: float) -> bool:
    """Extend the run's lease from the database's now. False when the run was ended or taken over
    (another run found its lease lapsed): it must start no new call."""
    r = t.runs
    with store.engine.begin() as conn:
        now = db_now(conn)
        done = conn.execute(
            r.update().where(r.c.run_id == run_id, r.c.ended_at.is_(None))
            .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds))
        )
        return done.rowcount == 1


def end_run(store, run_id: str, *, reason: str = "finished", counts: dict | None = None) -> None:
    """Close the run's row: its lease ends now, so its leftovers (if any) are the next run's."""
    r = t.runs
    with store.engine.begin() as conn:
        now = db_now(conn)
        values = {"ended_at": now, "lease_expires_at": now, "end_reason": reason}
        if counts is not None:
            values["counts"] = counts
        conn.execute(r.update().where(r.c.run_id == run_id, r.c.ended_at.is_(None)).values(**values))
        if counts is not None:  # a run taken over still gets its counts
            conn.execute(r.update().where(r.c.run_id == run_id).values(counts=counts))


def take_over_orphans(store, campaign_id: int, *, legacy_after_seconds: float) -> list[Orphan]:
    """The campaign's attempts still DIALING whose run is gone: ended, lease lapsed (by the
    database's clock), or with no run row and older than `legacy_after_seconds`. Runs found
    lapsed are marked ended ("expired") in the same transaction, so a run that comes back
    from a long pause learns at its next heartbeat that it must start no new call."""
    a, r = t.attempts, t.runs
    with store.engine.begin() as conn:
        now = db_now(conn)
        lapsed = [row.run_id for row in conn.execute(
            sa.select(r.c.run_id).where(r.c.campaign_id == campaign_id, r.c.ended_at.is_(None), r.c.lease_expires_at < now)
        )]
        for i in range(0, len(lapsed), 5000):
            conn.execute(r.update().where(r.c.run_id.in_(lapsed[i : i + 5000]), r.c.ended_at.is_(None))
                         .values(ended_at=now, end_reason="expired"))
        live = sa.select(r.c.run_id).where(r.c.run_id == a.c.run_id, r.c.ended_at.is_(None))
        known = sa.select(r.c.run_id).where(r.c.run_id == a.c.run_id)
        legacy_cutoff = now - timedelta(seconds=legacy_after_seconds)
        rows = conn.execute(
            sa.select(a.c.attempt_id, a.c.contact_id, a.c.number, a.c.run_id, a.c.started_at)
            .where(a.c.campaign_id == campaign_id, a.c.status == "DIALING", ~sa.exists(live),
                   sa.or_(sa.exists(known), a.c.started_at < legacy_cutoff))
            .order_by(a.c.started_at)
        ).all()
    return [Orphan(r.attempt_id, int(r.contact_id), r.number, r.run_id, to_utc(r.started_at)) for r in rows]

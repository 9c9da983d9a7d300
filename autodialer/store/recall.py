"""The recall planner's reads and writes of its contacts (autodialer/recall/planner.py).

A recall is a contact with no upload whose variables carry the miss (QUEUE, MISSED_AT,
MISSED_SOURCE; created through autodialer/store/adhoc.py). The planner decides what a miss or a
got-through call means; these are the statements it runs, here so that SQL of our tables stays
inside the store. Closing and reopening are compare-and-set on the contact's state, so they never
race a claim.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import sqlalchemy as sa

from autodialer.store import schema as t
from autodialer.store.schema import ContactState

PENDING, DIALING, DONE = ContactState.PENDING.value, ContactState.DIALING.value, ContactState.DONE.value


def recall_contact(store, campaign_id: int, phone: str):
    """The campaign's contact for `phone` (id, state, variables), or None."""
    c = t.contacts
    with store.engine.connect() as conn:
        return conn.execute(sa.select(c.c.id, c.c.state, c.c.variables)
                            .where(c.c.campaign_id == campaign_id, c.c.phone == phone)).first()


def pending_recalls(store, campaign_id: int) -> list:
    """The campaign's pending contacts: (phone, variables) each."""
    c = t.contacts
    with store.engine.connect() as conn:
        return conn.execute(sa.select(c.c.phone, c.c.variables).where(
            c.c.campaign_id == campaign_id, c.c.state == PENDING)).all()


def reopen_recall(store, contact_id: int, *, variables: dict, next_attempt_at: datetime) -> None:
    """The contact pending again for a new miss (attempts from 0, result cleared), unless a call
    is in flight."""
    c = t.contacts
    with store.engine.begin() as conn:
        conn.execute(c.update().where(c.c.id == contact_id, c.c.state != DIALING).values(
            state=PENDING, attempts=0, variables=variables, next_attempt_at=next_attempt_at, result=None))


def close_pending_contact(store, contact_id: int, result: str) -> int:
    """The contact `done` with `result` and no next attempt, if it is pending; the rows changed."""
    c = t.contacts
    with store.engine.begin() as conn:
        return conn.execute(c.update().where(c.c.id == contact_id, c.c.state == PENDING)
                            .values(state=DONE, result=result, next_attempt_at=None)).rowcount


def close_pending_recall(store, campaign_id: int, phone: str, result: str, *,
                         keep: Callable[[dict], bool] | None = None) -> int:
    """The campaign's pending contact for `phone` `done` with `result`, unless `keep(variables)`
    says to leave it; read and closed in one transaction. Returns the rows closed (0 or 1)."""
    c = t.contacts
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(c.c.id, c.c.variables).where(
            c.c.campaign_id == campaign_id, c.c.phone == phone, c.c.state == PENDING)).first()
        if row is None:
            return 0
        if keep is not None and keep(row.variables or {}):
            return 0
        done = conn.execute(c.update().where(c.c.id == row.id, c.c.state == PENDING)
                            .values(state=DONE, result=result, next_attempt_at=None))
        return done.rowcount

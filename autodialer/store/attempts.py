"""Attempts and finishing them: every CallResult field on the attempt row, the contact's next state.

finish_attempt(s) write an attempt's outcome and move its contact dialing -> pending | done in
one transaction (a late result never overwrites a newer claim's state; a NOT_SENT result gives
the attempt back); the retry policy reads a contact's attempts back (status_counts,
attempt_starts). The claim that writes the DIALING row is autodialer/store/contacts.py.
"""

from __future__ import annotations

import functools
from datetime import datetime

import sqlalchemy as sa

from autodialer.telephony.outcomes import STOPPED_KEY, CallResult, CallStatus, FailureKind, stopped_by_pacing
from autodialer.store import schema as t
from autodialer.store.errors import StoreError
from autodialer.store.schema import ContactState
from autodialer.store.types import UtcDateTime, to_utc

STALE_ERROR = "run died; outcome unknown"


class AttemptsMixin:
    """Store methods on attempts (self.engine: Store's)."""

    def attempt_starts(self, contact_id: int, *, status: str, including: str | None = None) -> list[datetime]:
        """When the contact's attempts that ended with `status` began (and the attempt
        `including`, whatever it is recorded as yet: the one being decided)."""
        a = t.attempts
        which = a.c.status == status
        if including is not None:
            which = sa.or_(which, a.c.attempt_id == including)
        with self.engine.connect() as conn:
            return [to_utc(s, field="started_at") for (s,) in conn.execute(
                sa.select(a.c.started_at).where(a.c.contact_id == contact_id, which))]

    def finish_attempt(self, result: CallResult, *, contact_state: str, next_attempt_at: datetime | None,
                       contact_result: str | None = None, only_if_dialing: bool = False) -> bool:
        """Record a finished call: every CallResult field on the attempt row; the contact's state,
        last status, result and next attempt time, in one transaction. False when nothing was
        written (`only_if_dialing` and the attempt was already recorded)."""
        return self.finish_attempts([(result, contact_state, next_attempt_at, contact_result)],
                                    only_if_dialing=only_if_dialing) == 1

    def finish_attempts(self, items: list[tuple[CallResult, str, datetime | None, str | None]], *,
                        only_if_dialing: bool = False) -> int:
        """Bulk finish_attempt: one SELECT and two executemany statements in one transaction.
        Returns how many attempts were written.

        A result may overwrite an attempt already recorded (a journal replayed after another run
        resolved the attempt UNKNOWN: the journal knows better), and writing the same result twice
        changes nothing. `only_if_dialing` (a run resolving a dead run's attempts, which knows
        less) writes only attempts still DIALING. A contact is updated only if no *other* attempt
        of it is still DIALING or started later (a late result must not overwrite the state of a
        newer claim). A NOT_SENT result (the Originate never left, or Asterisk refused it: nothing
        rang) gives the attempt back: the contact's attempt counter goes down again, once, and its
        last status stays what it was."""
        if not items:
            return 0
        attempt_rows, contact_rows = [], []
        for result, state, next_at, contact_result in items:
            if state not in (ContactState.PENDING, ContactState.DONE):
                raise StoreError(f"contact_state must be 'pending' or 'done', got {state!r}")
            status = CallStatus(result.status).value
            attempt_rows.append(
                {
                    "b_attempt_id": result.attempt_id,
                    "status": status,
                    "reason": result.reason,
                    "cause": result.cause,
                    "cause_txt": result.cause_txt,
                    "dial_status": result.dial_status,
                    "channel_id": result.channel_id,
                    "other_channel_id": result.other_channel_id,
                    "channel": result.channel,
                    "action_id": result.action_id,
                    "queued_at": result.queued_at and to_utc(result.queued_at, field="queued_at"),
                    "answered_at": result.answered_at and to_utc(result.answered_at, field="answered_at"),
                    "ended_at": result.ended_at and to_utc(result.ended_at, field="ended_at"),
                    "talk_seconds": result.talk_seconds,
                    "events": list(result.events or []),
                    "error": result.error,
                    "failure": FailureKind(result.failure).value if result.failure is not None else None,
                    "amd_status": result.amd_status,
                    "amd_cause": result.amd_cause,
                    "amd_action": result.amd_action,
                    "amd_seconds": result.amd_seconds,
                    "stopped_by_pacing": stopped_by_pacing(result),
                }
            )
            contact_rows.append(
                {
                    "b_attempt_id": result.attempt_id,
                    "b_given_back": int(status == CallStatus.NOT_SENT.value),  # once: see below
                    "state": ContactState(state).value,
                    "last_status": status,
                    "result": contact_result,
                    "next_attempt_at": next_at and to_utc(next_at, field="next_attempt_at"),
                }
            )
        ids = [r["b_attempt_id"] for r in attempt_rows]
        update_attempt, update_contact = _finish_statements(tuple(k for k in attempt_rows[0] if k != "b_attempt_id"))
        a = t.attempts
        with self.engine.begin() as conn:
            prior: dict[str, tuple[int, str]] = {}  # attempt id -> (contact id, status before this write)
            for i in range(0, len(ids), 5000):
                query = (sa.select(a.c.attempt_id, a.c.contact_id, a.c.status)
                         .where(a.c.attempt_id.in_(ids[i : i + 5000])).with_for_update())
                prior.update((r.attempt_id, (r.contact_id, r.status)) for r in conn.execute(query))
            missing = [i for i in ids if i not in prior]
            if missing:
                raise StoreError(f"no attempt row for attempt_id(s) {', '.join(missing[:5])} (claim_attempt first)")
            keep = [k for k, i in enumerate(ids) if not only_if_dialing or prior[i][1] == "DIALING"]
            if not keep:
                return 0
            for k in keep:
                row = contact_rows[k]
                contact_id, was = prior[row["b_attempt_id"]]
                row["b_contact_id"] = contact_id
                if was == CallStatus.NOT_SENT.value:  # given back already: a replay does not give it back twice
                    row["b_given_back"] = 0
            conn.execute(update_attempt, [attempt_rows[k] for k in keep])
            conn.execute(update_contact, [contact_rows[k] for k in keep])
        return len(keep)

    def status_counts(self, contact_id: int, *, excluding: str | None = None) -> dict[str, int]:
        """The contact's attempts by status; NO_ANSWER attempts that pacing stopped while they
        rang are counted apart, under "STOPPED"; NOT_SENT ones (given back) under their status.
        `excluding`: an attempt left out (the one being decided: whatever it was recorded as
        before, it is counted once, as its new result)."""
        a = t.attempts
        stopped = sa.and_(a.c.status == CallStatus.NO_ANSWER.value, a.c.failure == FailureKind.STOPPED_RINGING.value)
        key = sa.case((stopped, STOPPED_KEY), else_=a.c.status)
        query = sa.select(key, sa.func.count()).where(a.c.contact_id == contact_id)
        if excluding is not None:
            query = query.where(a.c.attempt_id != excluding)
        with self.engine.connect() as conn:
            rows = conn.execute(query.group_by(key))
            return {status: int(n) for status, n in rows}


@functools.lru_cache(maxsize=4)
def _finish_statements(attempt_columns: tuple[str, ...]):
    """The two UPDATEs of finish_attempts, built once: building them costs more than running them."""
    a, c = t.attempts, t.contacts
    update_attempt = a.update().where(a.c.attempt_id == sa.bindparam("b_attempt_id")).values(
        **{k: sa.bindparam(k) for k in attempt_columns}
    )
    other, this = sa.alias(a, "other"), sa.alias(a, "this")
    started = sa.select(this.c.started_at).where(this.c.attempt_id == sa.bindparam("b_attempt_id")).scalar_subquery()
    superseded = sa.exists().where(  # another attempt of the contact in flight, or a later one
        other.c.contact_id == c.c.id, other.c.attempt_id != sa.bindparam("b_attempt_id"),
        sa.or_(other.c.status == "DIALING", other.c.started_at > started),
    )
    given_back = sa.bindparam("b_given_back", type_=sa.Integer)
    update_contact = (
        c.update()
        .where(c.c.id == sa.bindparam("b_contact_id"), ~superseded)
        .values(
            state=sa.bindparam("state"),
            attempts=c.c.attempts - given_back,
            last_status=sa.case((given_back == 1, c.c.last_status), else_=sa.bindparam("last_status")),
            result=sa.bindparam("result"),
            next_attempt_at=sa.bindparam("next_attempt_at", type_=UtcDateTime),
        )
    )
    return update_attempt, update_contact

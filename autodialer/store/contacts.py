"""Contacts and their state machine: which are due, and the claim (Store's contact methods).

A contact moves pending -> dialing -> pending | done (ContactState) only by compare-and-set
statements: claim_attempt takes pending -> dialing (attempts + 1) and writes the DIALING attempt
row in one transaction, before the originate, so two runs can never dial the same contact at
once and a crash after the claim can never cause a dial beyond the attempt cap. The
contact-frequency limits are checked inside that transaction, under a per-number lock. Finishing
an attempt (dialing -> pending | done) is autodialer/store/attempts.py.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from autodialer.telephony.safety import check_dial_number
from autodialer.store import schema as t
from autodialer.store.errors import StoreError
from autodialer.store.facts import abandoned, campaign_local_start
from autodialer.store.schema import ContactState
from autodialer.store.types import UtcDateTime, to_utc
from autodialer.zones import parse_stored

PENDING = ContactState.PENDING.value


@dataclass(frozen=True)
class Contact:
    id: int
    campaign_id: int
    phone: str  # E.164 with +
    alternates: list[str]
    # The zones the calling window must be open in (contacts.timezone; autodialer.zones): one
    # where the number says where the callee is, several where it cannot be narrowed (a
    # nationwide range, Yakutia's three zones); empty when none is known.
    timezones: list[str]
    timezone_source: str | None  # registry, area_code, phonenumbers, country (autodialer.zones.ZoneSource)
    variables: dict[str, str]
    attempts: int
    state: str
    last_status: str | None
    result: str | None
    next_attempt_at: datetime | None
    source: tuple[str, ...] = ()  # "file.csv:row" for every source row, duplicates included


@dataclass(frozen=True)
class Claim:
    """What claim_attempt did: `claimed` (truthy) and the attempt row is written; or not, and
    `limited_until` says when a contact-frequency limit lets the contact be called (its next
    attempt time was moved there, nothing counted), `reason` why."""

    claimed: bool
    limited_until: datetime | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.claimed


@functools.lru_cache(maxsize=1)
def _claim_statements():
    """claim_attempt's compare-and-set UPDATE and its INSERT, built once."""
    c = t.contacts
    claim = (
        c.update()
        .where(c.c.id == sa.bindparam("b_id"), c.c.state == PENDING, c.c.attempts < sa.bindparam("b_max"))
        .values(state=ContactState.DIALING.value, attempts=c.c.attempts + 1, last_attempt_at=sa.bindparam("b_now", type_=UtcDateTime))
        .returning(c.c.campaign_id)
    )
    return claim, t.attempts.insert()


@functools.lru_cache(maxsize=1)
def _campaign_zone_query():
    """The campaign's own time zone (campaigns.settings' schedule.timezone), for the attempt's
    campaign_local_start."""
    c = t.campaigns
    return sa.select(c.c.settings[("schedule", "timezone")].as_string()).where(c.c.id == sa.bindparam("b_campaign"))



class ContactsMixin:
    """Store methods on contacts and claims (self.engine, self.dialect: Store's)."""

    def due_contacts(self, campaign_id: int, *, now: datetime, limit: int | None = None) -> list[Contact]:
        """Pending contacts whose next attempt is due: never-tried ones first (by id), then retries
        by next_attempt_at, id; numbers on an exclusion list (even one loaded after the import) are
        skipped. Two index scans (ix_contacts_due), so a batch is cheap on a million contacts."""
        c, e = t.contacts, t.exclusions
        now = to_utc(now, field="now")
        excluded = sa.exists().where(e.c.phone == c.c.phone, sa.or_(e.c.campaign_id.is_(None), e.c.campaign_id == c.c.campaign_id))
        base = sa.select(c).where(c.c.campaign_id == campaign_id, c.c.state == PENDING, ~excluded)
        fresh = base.where(c.c.next_attempt_at.is_(None)).order_by(c.c.id)
        retries = base.where(c.c.next_attempt_at <= now).order_by(c.c.next_attempt_at, c.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(fresh if limit is None else fresh.limit(limit)).all()
            if limit is None or len(rows) < limit:
                more = retries if limit is None else retries.limit(limit - len(rows))
                rows += conn.execute(more).all()
            return self._contacts(conn, rows)

    def contact(self, contact_id: int) -> Contact:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.contacts).where(t.contacts.c.id == contact_id)).all()
            if not rows:
                raise StoreError(f"no contact with id {contact_id}")
            return self._contacts(conn, rows)[0]

    def _contacts(self, conn, rows) -> list[Contact]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        sources: dict[int, list[str]] = {}
        s, u = t.contact_sources, t.uploads
        for i in range(0, len(ids), 5000):
            q = (
                sa.select(s.c.contact_id, u.c.file_name, s.c.row_number)
                .join(u, u.c.id == s.c.upload_id)
                .where(s.c.contact_id.in_(ids[i : i + 5000]))
                .order_by(s.c.contact_id, s.c.upload_id, s.c.row_number)
            )
            for r in conn.execute(q):
                sources.setdefault(r.contact_id, []).append(f"{r.file_name}:{r.row_number}")
        return [
            Contact(
                id=int(r.id),
                campaign_id=int(r.campaign_id),
                phone=r.phone,
                alternates=list(r.alternates or []),
                timezones=list(parse_stored(r.timezone)),
                timezone_source=r.timezone_source,
                variables=dict(r.variables or {}),
                attempts=int(r.attempts),
                state=r.state,
                last_status=r.last_status,
                result=r.result,
                next_attempt_at=r.next_attempt_at,
                source=tuple(sources.get(r.id, ())),
            )
            for r in rows
        ]

    def claim_attempt(
        self,
        contact_id: int,
        *,
        attempt_id: str,
        number: str,
        now: datetime,
        max_attempts: int,
        run_id: str | None = None,
        caller_id: str | None = None,
        trunk: str | None = None,
        rule=None,
    ) -> Claim:
        """Compare-and-set pending -> dialing (attempts += 1) and write the DIALING attempt row, in one
        transaction, before the originate. Falsy (nothing written) if claimed elsewhere or capped.

        `rule` (autodialer.rules.frequency.FrequencyRule): the contact-frequency limits are checked in
        the same transaction, against every campaign's attempts to `number`, under a per-number
        lock (PostgreSQL: a transaction advisory lock; SQLite: BEGIN IMMEDIATE, one writer), so
        two campaigns sharing a number cannot both pass the check. Over a limit: the contact's
        next attempt time moves to when it is allowed, nothing is counted. The attempt row keeps
        the rule's callee facts (zones, local start, outside the window) and the start in the
        campaign's own zone (campaign_local_start: the analyst views' local hour and day)."""
        check_dial_number(number, field="number")
        now = to_utc(now, field="now")
        claim, insert_attempt = _claim_statements()
        facts = rule.facts(now) if rule is not None else {}
        with self.engine.begin() as conn:
            if rule is not None and rule.limits.any:
                limited = self._frequency_check(conn, contact_id, number, now, rule)
                if limited is not None:
                    return limited
            claimed = conn.execute(claim, {"b_id": contact_id, "b_max": max_attempts, "b_now": now}).first()
            if claimed is None:
                return Claim(False, reason="claimed by another run or attempt cap reached")
            campaign_zone = conn.execute(_campaign_zone_query(), {"b_campaign": claimed.campaign_id}).scalar()
            conn.execute(
                insert_attempt,
                {
                    "attempt_id": attempt_id,
                    "contact_id": contact_id,
                    "campaign_id": claimed.campaign_id,
                    "run_id": run_id,
                    "number": number,
                    "caller_id": caller_id,
                    "trunk": trunk,
                    "started_at": now,
                    "status": "DIALING",
                    "callee_zones": facts.get("callee_zones"),
                    "local_start": facts.get("local_start"),
                    "outside_window": facts.get("outside_window"),
                    "campaign_local_start": campaign_local_start(now, campaign_zone),
                },
            )
        return Claim(True)

    def _frequency_check(self, conn, contact_id: int, number: str, now: datetime, rule) -> Claim | None:
        """Inside the claim's transaction: lock the number, read its counted attempts of every
        campaign, ask the rule. A Claim (not claimed) when over a limit, its contact moved on."""
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                         {"k": "autodialer-number:" + number})
        c = t.contacts
        history = [(s, ab) for _, s, ab in self._counted_calls(conn, number, since=now - rule.limits.lookback())]
        limited = rule.verdict(history, now)
        if limited is None:
            return None
        if limited.until is not None:
            conn.execute(c.update().where(c.c.id == contact_id, c.c.state == PENDING)
                         .values(next_attempt_at=limited.until))
        return Claim(False, limited_until=limited.until, reason=limited.reason)

    @staticmethod
    def _counted_calls(conn, number: str, *, since: datetime) -> list[tuple[str, datetime, bool]]:
        from autodialer.store.facts import reached_callee

        a = t.attempts
        return [(i, to_utc(s, field="started_at"), bool(ab)) for i, s, ab in conn.execute(
            sa.select(a.c.attempt_id, a.c.started_at, abandoned(a)).where(
                a.c.number == number, a.c.started_at >= since, reached_callee(a)))]

    def counted_calls(self, number: str, *, since: datetime) -> list[tuple[str, datetime, bool]]:
        """The calls to `number` that count against the contact-frequency limits (reached the
        callee's phone, in flight included), every campaign, started at or after `since`: (attempt
        id, start, abandoned). What the claim's check reads, for scheduling a retry past them."""
        with self.engine.connect() as conn:
            return self._counted_calls(conn, number, since=to_utc(since, field="since"))

"""Missed inbound calls, from the AMI (live) and from Asterisk's CDR table (PostgreSQL).

AMI: a caller who joins a queue (QueueCallerJoin) and leaves it without reaching an operator
(QueueCallerAbandon, or a Hangup before any AgentConnect/BridgeEnter) is missed; one who reached
an operator got through. The dialer's own calls (channels in `dialer-*` contexts) are ignored.

CDR (standard cdr_pgsql columns): a row whose last application was Queue and that was never
bridged (`dstchannel` empty) is missed; a row that was bridged (Queue or Dial with a
`dstchannel` and billsec > 0) got through.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

log = logging.getLogger("autodialer.recall")
UTC = timezone.utc
_NUMBER = re.compile(r"\+?[0-9]{5,20}")


@dataclass(frozen=True)
class MissedCall:
    number: str  # as the PBX reported the caller (digits, maybe +)
    queue: str
    at: datetime  # UTC, when the caller gave up
    source: str  # "ami" or "cdr"
    uniqueid: str = ""


@dataclass(frozen=True)
class GotThrough:
    number: str
    at: datetime
    source: str


def caller_number(value: str | None) -> str | None:
    """The caller's number if it is one (anonymous, `<unknown>`, extensions are not)."""
    value = (value or "").strip()
    return value if _NUMBER.fullmatch(value) else None


class MissedCallTracker:
    """Follow inbound queue callers on one AMI session. `on_missed(MissedCall)` and
    `on_got_through(GotThrough)` are called from the event loop (keep them quick)."""

    EVENTS = ("QueueCallerJoin", "QueueCallerAbandon", "AgentConnect", "BridgeEnter", "Hangup")

    def __init__(self, session, *, queues: list[str] | None = None, on_missed: Callable[[MissedCall], None],
                 on_got_through: Callable[[GotThrough], None] = lambda g: None, own_prefix: str = "dialer-",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.queues = set(queues or [])
        self.on_missed = on_missed
        self.on_got_through = on_got_through
        self.own_prefix = own_prefix
        self.clock = clock
        self.waiting: dict[str, tuple[str, str]] = {}  # Uniqueid -> (number, queue)
        self.seen_missed = 0
        self._unsubscribe = [session.subscribe(name, self._on_event) for name in self.EVENTS]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_event(self, event) -> None:
        name = event.get("Event")
        uid = event.get("Uniqueid") or ""
        if name == "QueueCallerJoin":
            queue = event.get("Queue") or ""
            if (event.get("Context") or "").startswith(self.own_prefix) or (self.queues and queue not in self.queues):
                return
            number = caller_number(event.get("CallerIDNum"))
            if number:
                self.waiting[uid] = (number, queue)
        elif name in ("AgentConnect", "BridgeEnter"):
            entry = self.waiting.pop(uid, None)
            if entry is not None:
                self.on_got_through(GotThrough(entry[0], self.clock(), "ami"))
        elif name in ("QueueCallerAbandon", "Hangup"):
            entry = self.waiting.pop(uid, None)
            if entry is not None:
                self.seen_missed += 1
                self.on_missed(MissedCall(entry[0], entry[1], self.clock(), "ami", uid))


def cdr_table(name: str = "cdr"):
    import sqlalchemy as sa

    return sa.table(name, sa.column("calldate", sa.DateTime(timezone=True)), sa.column("src", sa.String),
                    sa.column("dst", sa.String), sa.column("dcontext", sa.String), sa.column("dstchannel", sa.String),
                    sa.column("lastapp", sa.String), sa.column("lastdata", sa.String), sa.column("duration", sa.Integer), sa.column("billsec", sa.Integer),
                    sa.column("disposition", sa.String), sa.column("uniqueid", sa.String))


def read_cdr(engine, since: datetime, *, table: str = "cdr", queues: list[str] | None = None,
             contexts: list[str] | None = None) -> tuple[list[MissedCall], list[GotThrough]]:
    """Missed and got-through inbound calls with calldate >= `since`, oldest first. `calldate` is
    the call's start; a missed call's time is calldate + duration is not kept by every backend,
    so calldate stands for it (a recall is due `delay` after it either way)."""
    import sqlalchemy as sa

    cdr = cdr_table(table)
    query = sa.select(cdr).where(cdr.c.calldate >= since).order_by(cdr.c.calldate, cdr.c.uniqueid)
    if contexts:
        query = query.where(cdr.c.dcontext.in_(contexts))
    missed, through = [], []
    with engine.connect() as conn:
        for r in conn.execute(query).mappings():
            number = caller_number(r["src"])
            if number is None:
                continue
            at = r["calldate"]
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            bridged = bool((r["dstchannel"] or "").strip()) and (r["billsec"] or 0) > 0
            if bridged:
                through.append(GotThrough(number, at, "cdr"))
            elif (r["lastapp"] or "").lower() == "queue":
                queue = (r["lastdata"] or "").split(",")[0].strip() or (r["dst"] or "")
                if not queues or queue in queues:
                    missed.append(MissedCall(number, queue, at, "cdr", r["uniqueid"] or ""))
    return missed, through

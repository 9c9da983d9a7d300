"""The long-running recall loop on one AMI session: listen for missed calls, poll the CDR table,
and call back due recall contacts into their queue while it has a free operator.

Free operator = the QueueMonitor's count of free members (QueueSummary `Available`, kept current
from queue events) minus the recall calls already in flight to that queue: a callback never
waits in a queue nobody can answer (progressive, one call per free operator).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from autodialer.dialer.dialing import ContactDialer, retry_store, utcnow
from autodialer.pacing.queue_state import QueueMonitor
from autodialer.recall.missed import GotThrough, MissedCall, MissedCallTracker, read_cdr
from autodialer.recall.planner import RecallPlanner

log = logging.getLogger("autodialer.recall")


class RecallRunner:
    def __init__(self, dialer: ContactDialer, planner: RecallPlanner, session, *, cdr_engine=None,
                 outbound_context: str = "dialer-outbound", poll: float = 1.0, dial=None):
        self.dialer = dialer
        self.planner = planner
        self.session = session
        self.settings = planner.settings
        campaign = dialer.campaign
        self.queues = list(self.settings.queues or ([campaign.destination.queue] if campaign.destination.queue else []))
        if not self.queues:
            raise ValueError(f"{campaign.name}: recall needs recall.queues or destination.queue")
        self.cdr_engine = cdr_engine
        self.outbound_context = outbound_context
        self.poll = poll
        self.dial = dial or (lambda contact: dialer.attempt(contact))
        self.monitors: dict[str, QueueMonitor] = {}
        self.in_flight: dict[str, int] = {q: 0 for q in self.queues}
        self.dialing: set[int] = set()
        self.decisions: list[tuple[str, str, str]] = []  # (number, source, decision) for the report
        self.calls = 0
        self._wake = asyncio.Event()
        self._pending: set[asyncio.Task] = set()
        self._cdr_since: datetime | None = None

    # -- sources ---------------------------------------------------------------------------
    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _on_missed(self, missed: MissedCall) -> None:
        self._spawn(self.add_missed(missed))

    def _on_got_through(self, event: GotThrough) -> None:
        self._spawn(retry_store(self.planner.got_through, event))

    async def add_missed(self, missed: MissedCall) -> str:
        decision = await retry_store(self.planner.add_missed, missed)
        self.decisions.append((missed.number, missed.source, decision))
        log.info("missed call from %s (%s, queue %s): %s", missed.number, missed.source, missed.queue, decision)
        self._wake.set()
        return decision

    async def poll_cdr(self, since: datetime) -> None:
        """Read CDR rows from `since` on (a window that overlaps the last read: the planner's
        per-period rule makes a miss seen twice count once)."""
        missed, through = await asyncio.to_thread(read_cdr, self.cdr_engine, since, table=self.settings.cdr_table,
                                                  queues=self.queues, contexts=self.settings.inbound_contexts or None)
        for m in missed:
            await self.add_missed(m)
        for g in through:
            await retry_store(self.planner.got_through, g)

    async def _cdr_loop(self, start: datetime, until: datetime) -> None:
        since = start
        while utcnow() < until:
            read_at = utcnow()
            try:
                await self.poll_cdr(since)
                since = read_at - timedelta(seconds=self.settings.cdr_poll)  # overlap: late-written rows
            except Exception as exc:  # the CDR database is a second source: keep listening
                log.warning("reading the CDR table failed: %s", exc)
            await asyncio.sleep(self.settings.cdr_poll)

    # -- dialing --------------------------------------------------------------------------
    def free(self, queue: str) -> int:
        monitor = self.monitors.get(queue)
        return (monitor.free if monitor is not None else 0) - self.in_flight.get(queue, 0)

    async def _call(self, contact, queue: str) -> None:
        try:
            await self.dial(contact)
            self.calls += 1
        finally:
            self.in_flight[queue] -= 1
            self.dialing.discard(contact.id)
            self._wake.set()

    async def dial_due(self) -> int:
        """Start a callback for each due contact whose queue has a free operator."""
        now = utcnow()
        await retry_store(self.planner.expire, now)
        due = await retry_store(self.dialer.store.due_contacts, self.dialer.campaign_id, now=now)
        started = 0
        for contact in due:
            if contact.id in self.dialing:
                continue
            queue = (contact.variables or {}).get("QUEUE") or self.queues[0]
            if queue not in self.in_flight:
                continue  # a queue this campaign does not watch
            if self.free(queue) <= 0:
                continue
            reason = await retry_store(self.planner.refuse_due, contact.id, contact.phone)
            if reason is not None:
                self.decisions.append((contact.phone, "due", f"refused: {reason}"))
                log.warning("recall of %s refused: %s", contact.phone, reason)
                continue
            self.in_flight[queue] += 1
            self.dialing.add(contact.id)
            self._spawn(self._call(contact, queue))
            started += 1
        return started

    async def run(self, until: datetime, *, cdr_since: datetime | None = None) -> None:
        for queue in self.queues:
            monitor = QueueMonitor(self.session, queue, outbound_context=self.outbound_context)
            monitor.on_change = self._wake.set
            self.monitors[queue] = await monitor.start()
        tracker = MissedCallTracker(self.session, queues=self.queues, on_missed=self._on_missed,
                                    on_got_through=self._on_got_through)
        cdr_task = None
        if self.cdr_engine is not None and self.settings.cdr:
            cdr_task = asyncio.get_running_loop().create_task(
                self._cdr_loop(cdr_since or utcnow() - timedelta(seconds=self.settings.within), until))
        try:
            while utcnow() < until:
                self._wake.clear()
                await self.dial_due()
                remaining = (until - utcnow()).total_seconds()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, min(self.poll, remaining)))
                except asyncio.TimeoutError:
                    pass
        finally:
            tracker.close()
            if cdr_task is not None:
                cdr_task.cancel()
            # Calls in flight end normally (and are recorded); then the monitors close.
            while self._pending:
                await asyncio.gather(*list(self._pending), return_exceptions=True)
            for monitor in self.monitors.values():
                monitor.close()

"""The pacer a campaign dials through, whatever the mode:

```python
pacer = make_pacer(PacingSettings(mode="predictive", queue="support"), session)
async with pacer.call_slot() as slot:
    slot.attempt_id = attempt_id          # optional: lets the pacer follow this call exactly
    result = await engine.originate(..., attempt_id=attempt_id)
pacer.observe(result)                     # after each call: answer rate, abandonment
await pacer.close()
```

Predictive pacing with `stop_ringing` also ends calls still ringing that no operator could take
if they answered now; it needs `calls=` the engine (or EnginePool) that placed them: something
with `ringing_for(attempt_id)` and `stop_ringing(attempt_id, why)`.

`await pacer.start()` before dialing reads the queue, so a queue the PBX does not have is a
ConfigError naming `pacing.queue` up front rather than on every call (`call_slot` starts the
pacer itself otherwise).

- `fixed`: at most `max_channels` calls at once (the CallLimiter).
- `progressive`: calls not yet at an operator never exceed the queue's free operators.
- `predictive`: more than that, as far as the PredictiveController allows (see predictive.py).

Every mode also keeps calls in flight <= `max_channels` and originates <= `max_originates_per_second`.
A slot is taken before the Originate is sent and given back when the call has ended; a call counts
as "dialing" until the queue reports it answered (QueueCallerJoin / AgentConnect / DialerAbandoned
with its Linkedid), so the pacer needs the AMI events of the queue (QueueMonitor).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from contextlib import asynccontextmanager

from autodialer.telephony.outcomes import LIVE_ANSWERED_STATUSES, CallResult, is_abandoned
from autodialer.pacing.gate import dialing_allowed
from autodialer.pacing.limits import CallLimiter, PacingStats, Slot, TokenBucket  # noqa: F401 (Slot, PacingStats: their home was here)
from autodialer.pacing.peers import QueuePeers, whole
from autodialer.pacing.predictive import PredictiveController
from autodialer.pacing.queue_state import WAITING, QueueMonitor
from autodialer.pacing.settings import PacingSettings

LIVE_ANSWERED = LIVE_ANSWERED_STATUSES  # what counts as abandoned / live-answered: autodialer.telephony.outcomes


class FixedPacer:
    """`fixed`: today's CallLimiter (max_channels at once, max_originates_per_second)."""

    def __init__(self, settings: PacingSettings, *, false_machine_rate: float = 0.0):
        self.settings = settings
        self.limiter = CallLimiter(settings.max_channels, settings.max_originates_per_second)
        self.stats = PacingStats(false_machine_rate)

    @property
    def in_flight(self) -> int:
        return self.limiter.in_flight

    @asynccontextmanager
    async def call_slot(self):
        async with self.limiter.call_slot():
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.limiter.in_flight)
            yield Slot(time.monotonic())

    def observe(self, result: CallResult) -> None:
        self.stats.observe(result)

    async def start(self) -> "FixedPacer":
        return self

    async def close(self) -> None:
        pass


class QueuePacer:
    """`progressive` and `predictive`: paced by the free operators of `settings.queue`."""

    def __init__(self, settings: PacingSettings, session, *, clock: Callable[[], float] = time.monotonic,
                 tick: float = 0.5, calls=None, peers: bool = True, false_machine_rate: float = 0.0):
        self.settings = settings
        self.false_machine_rate = false_machine_rate  # AMD: the share of MACHINE hang-ups that were people
        self.calls = calls  # the engine or pool placing the calls: to end ringing ones (stop_ringing)
        self._stopped: set[str] = set()  # attempt ids we ended while ringing, until observed
        self._stop_checked = float("-inf")
        self._announced_at = float("-inf")
        self._binding = True  # the caller sets slot.attempt_id (as seen on the last slot given back)
        self.mode = settings.mode
        self.session = session
        self._clock = clock
        self.monitor = QueueMonitor(session, settings.queue, outbound_context=settings.outbound_context, clock=clock)
        self.controller = PredictiveController(settings, clock) if self.mode == "predictive" else None
        per_second = settings.max_originates_per_second
        self._bucket = TokenBucket(per_second, burst=min(per_second, settings.max_channels) if per_second >= 1 else 1)
        self._slots: dict[Slot, None] = {}  # insertion order = age order
        self._counted: dict[str, bool] = {}  # attempt id -> abandoned, for calls the controller already has
        self._timed: set[str] = set()  # attempt ids whose time to answer the controller already has
        self._waiters: deque[asyncio.Future] = deque()  # FIFO: callers waiting for a slot
        self._started: asyncio.Task | None = None
        self._ticker: asyncio.Task | None = None
        self._tick = tick
        # Other dialers on this queue (peers.py): their calls dialing claim operators too.
        self.peers = QueuePeers(session, settings.queue, heartbeat=4 * tick, expire=12 * tick,
                                rotate=40 * tick, clock=clock) if peers else None
        if self.peers is not None:
            self.peers.on_change = self._wake
        self._dial_from: float | None = None  # with peers: when we have listened long enough to dial
        self.stats = PacingStats(false_machine_rate)
        self.grants: list[tuple[int, int, int]] = []  # (dialing after the grant, allowed, free operators): for tests
        m = self.monitor
        m.on_change = self._wake
        m.on_join = self._joined
        m.on_connect = lambda attempt: self._answered(attempt, abandoned=False)
        m.on_abandon = lambda attempt: self._answered(attempt, abandoned=True)
        if self.controller is not None:
            m.on_handle = self.controller.on_handle_time

    # -- state ----------------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return len(self._slots)

    def dialing(self) -> list[Slot]:
        """Slots whose call is not yet answered. A slot without attempt_id is matched by age:
        the answered calls are taken to be the oldest ones (they have rung the longest)."""
        ours = self.monitor.ours
        known = [s for s in self._slots if s.attempt_id is None or s.attempt_id not in ours]
        # Answered calls we cannot tell apart: only when the caller does not bind attempt ids.
        # When it does, an anonymous slot is one granted a moment ago, and an answered call we do
        # not know is another dialer's (same outbound context) or one whose slot just ended.
        unknown_answered = 0 if self._binding else \
            len(ours) - sum(1 for s in self._slots if s.attempt_id is not None and s.attempt_id in ours)
        if unknown_answered > 0:
            anonymous = [s for s in known if s.attempt_id is None]
            drop = set(map(id, anonymous[:unknown_answered]))
            known = [s for s in known if id(s) not in drop]
        if self._stopped:  # ended while ringing: no answer to expect from them
            known = [s for s in known if s.attempt_id not in self._stopped]
        return known

    def allowed(self) -> tuple[int, int]:
        """(calls dialing now, calls allowed to be dialing)."""
        m = self.monitor
        dialing = self.dialing()
        now = self._clock()
        predictive = self.controller is not None
        ages = [now - s.taken_at for s in dialing] if predictive else None
        waiting = self._waiting()
        allowed = dialing_allowed(self.mode, free=m.free, busy=m.busy, waiting=waiting, controller=self.controller,
                                  ages=ages, busy_for=m.busy_for() if predictive else None)
        if self.peers is not None:
            # Other pacers on this queue (peers.py): what their calls dialing claim is not ours,
            # and of the rest only our share (they react to the same queue events at once).
            claims = self.peers.claims()
            inactive = self.peers.claims(inactive_only=True)
            allowed = min(self.peers.share(allowed - whole(inactive), active=self._active()), allowed - whole(claims))
        return len(dialing), allowed if m.synced else 0

    def _waiting(self) -> int:
        """Answered callers queued for an operator (ours and anyone's)."""
        m = self.monitor
        return max(m.callers_waiting, sum(1 for v in m.ours.values() if v == WAITING))

    def _claimed_by_peers(self) -> int:
        """Operators the calls of other pacers of this queue may take."""
        return whole(self.peers.claims()) if self.peers is not None else 0

    def _claims(self) -> float:
        """Operators our calls dialing may claim: each one (progressive), or the answers the
        controller expects from them (predictive)."""
        dialing = self.dialing()
        if self.controller is None or not dialing:
            return float(len(dialing))
        now = self._clock()
        expected = self.controller.expected_answers([now - s.taken_at for s in dialing])
        return expected if expected is not None else len(dialing) * self.controller.answer_rate

    def _active(self) -> bool:
        return any(not w.done() for w in self._waiters)

    def _announce(self, now: bool = False) -> None:
        """Tell the other pacers of this queue our claims: at once after a grant, else a few
        times a tick (_wake runs on every event)."""
        if self.peers is None or not self.monitor.synced:
            return
        t = self._clock()
        if not now and t - self._announced_at < self._tick / 5:
            return
        self._announced_at = t
        self.peers.say(self._claims(), active=self._active())

    def _may_dial(self) -> bool:
        if len(self._slots) >= self.settings.max_channels:
            return False
        if self.peers is not None and (self._dial_from is None or self._clock() < self._dial_from):
            return False
        dialing, allowed = self.allowed()
        return dialing < allowed

    def _stop_ringing(self) -> None:
        """End the calls still ringing whose answer no operator could take (predictive,
        `stop_ringing`): the controller picks them among those that rang `min_ring`."""
        ctl, calls, m = self.controller, self.calls, self.monitor
        if ctl is None or calls is None or not self.settings.stop_ringing or not m.synced:
            return
        now = self._clock()
        if now - self._stop_checked < self._tick / 5:  # _wake runs on every event: look a few times a tick
            return
        self._stop_checked = now
        dialing = [s for s in self.dialing() if s.attempt_id is not None and s.attempt_id not in self._stopped]
        if not dialing:
            return
        ages = [now - s.taken_at for s in dialing]
        rung = [calls.ringing_for(s.attempt_id) for s in dialing]
        waiting = self._waiting() + self._claimed_by_peers()
        for i in ctl.calls_to_stop(m.free, waiting, ages, rung):
            attempt = dialing[i].attempt_id
            if calls.stop_ringing(attempt, "no operator free to take the answer (predictive pacing)"):
                self._stopped.add(attempt)
                self.stats.stopped += 1
                ctl.on_attempt(False, ages[i], stopped=True)
                self._timed.add(attempt)

    def _wake(self) -> None:
        """Something changed: grant slots to waiters, first come first served, while allowed.
        One check per grant, whatever the number of waiters (a campaign may have thousands)."""
        self._stop_ringing()
        granted = 0
        try:
            granted = self._grant()
        finally:
            self._announce(now=granted > 0)

    def _grant(self) -> int:
        """Slots granted now (how many)."""
        granted = 0
        waiters = self._waiters
        while waiters:
            if waiters[0].done():  # cancelled while waiting
                waiters.popleft()
                continue
            if not self.monitor.synced or not self._may_dial():
                return granted
            slot = Slot(self._clock())
            self._slots[slot] = None
            dialing, allowed = self.allowed()
            self.grants.append((dialing, allowed, self.monitor.free))
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, len(self._slots))
            waiters.popleft().set_result(slot)
            granted += 1
        return granted

    def _joined(self, attempt: str) -> None:
        """One of our calls was answered (it joined the queue): its time to answer now, not when
        the call ends minutes later, so the answer rate is not skewed toward the calls that fail fast."""
        if self.controller is None:
            return
        for slot in self._slots:
            if slot.attempt_id == attempt:
                self.controller.on_attempt(True, self._clock() - slot.taken_at)
                self._timed.add(attempt)
                return

    def _answered(self, attempt: str, *, abandoned: bool) -> None:
        if attempt in self._counted:
            if abandoned and not self._counted[attempt]:
                # Counted connected from the queue's events, then the result says ABANDONED (we
                # hung up a call we were stopping just as it was answered): the cap counts it.
                self._counted[attempt] = True
                self.stats.abandoned += 1
                if self.controller is not None:
                    self.controller.on_abandoned_after_all()
            return
        self._counted[attempt] = abandoned
        self.stats.answered += 1
        self.stats.abandoned += abandoned
        if self.controller is not None:
            self.controller.on_answered(abandoned)

    # -- the interface --------------------------------------------------------------------------
    async def start(self) -> "QueuePacer":
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self.monitor.start())
        await asyncio.shield(self._started)
        if self._ticker is None and (self.controller is not None or self.peers is not None):
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        if self.peers is not None and self._dial_from is None:
            # Say we are here and listen a moment before dialing: pacers already dialing must
            # know of us before we take a share of their spare operators.
            self.peers.say(0.0, active=True)
            self._dial_from = self._clock() + 2 * self._tick
            await asyncio.sleep(2 * self._tick)
        return self

    async def _tick_loop(self) -> None:
        # Ages grow and the controller re-tunes with time, not only on events; peers hear our
        # heartbeat and forget silent peers.
        while True:
            await asyncio.sleep(self._tick)
            self._wake()

    @asynccontextmanager
    async def call_slot(self):
        await self.start()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake()
        try:
            slot = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted just as we were cancelled
                self._slots.pop(waiter.result(), None)
                self._wake()
            raise
        try:
            await self._bucket.acquire()
            yield slot
        finally:
            self._binding = slot.attempt_id is not None
            self._slots.pop(slot, None)
            self._wake()

    def observe(self, result: CallResult) -> None:
        """After each call: the answer rate and time to answer; an answered call the queue events
        did not already count (connected or abandoned) is counted from its status."""
        self.stats.calls += 1
        if self.stats.observe_amd(result) and self.controller is not None:
            self.controller.on_machine_hangup(self.false_machine_rate)
        live = result.status in LIVE_ANSWERED
        if live and result.channel_id:
            self._answered(result.channel_id, abandoned=is_abandoned(result))
        if self.controller is not None and result.channel_id not in self._timed:
            until = result.answered_at if live and result.answered_at else result.ended_at
            seconds = (until - result.queued_at).total_seconds() if until and result.queued_at else None
            if live and seconds is not None and result.amd_seconds:
                # AMD's detection is part of the time to answer: a person AMD let through but the
                # dialplan abandoned at once (the detection used up connect_within) never joined
                # the queue, whose join times the others (_joined).
                seconds += result.amd_seconds
            self.controller.on_attempt(live, seconds)
        self._counted.pop(result.channel_id, None)
        self._timed.discard(result.channel_id)
        self._stopped.discard(result.channel_id)

    async def close(self) -> None:
        for task in (self._ticker, self._started):
            if task is not None and not task.done():
                task.cancel()
        self._ticker = None
        if self.peers is not None:
            self.peers.close()
        self.monitor.close()


def make_pacer(settings: PacingSettings, session=None, **kwargs):
    """The pacer for `settings.mode`; `session` (an AmiSession) is needed by progressive/predictive."""
    if settings.mode == "fixed":
        return FixedPacer(settings, false_machine_rate=kwargs.get("false_machine_rate", 0.0))
    if session is None:
        raise ValueError(f"{settings.mode} pacing needs the AMI session (it follows the queue's events)")
    return QueuePacer(settings, session, **kwargs)

"""In-run limits on dialing: simultaneous calls (a semaphore) and originates per second (a
token bucket). These are plain asyncio: acquiring a Prefect limit per call costs ~1 s under
contention (see the Prefect notes), so Prefect limits are taken coarsely, once per run.

`Pacer` is the contract every pacer keeps (the CallLimiter here, the pacers of pacers.py), with
the `Slot` a call holds and the `PacingStats` a run reports.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, runtime_checkable

from autodialer.telephony.outcomes import LIVE_ANSWERED_STATUSES, CallResult, is_abandoned, is_machine_hangup


class Slot:
    """One call's place in the pacer. Set `attempt_id` (the engine's ChannelId) if known."""

    __slots__ = ("attempt_id", "taken_at")

    def __init__(self, taken_at: float):
        self.attempt_id: str | None = None
        self.taken_at = taken_at


class PacingStats:
    """What a pacer has seen, for the run summary."""

    def __init__(self, false_machine_rate: float = 0.0):
        self.calls = 0
        self.answered = 0  # live-answered: connected to an operator, or abandoned
        self.abandoned = 0
        self.peak_in_flight = 0
        self.stopped = 0  # calls ended while ringing: nobody free to take them (predictive)
        self.machine_hangups = 0  # AMD said machine (or not sure) and the dialplan hung up
        self.false_machine_rate = false_machine_rate  # the campaign's estimate of people among those

    def observe(self, result: CallResult) -> None:
        """Count one finished call by its status (what fixed pacing and the plain limiter learn)."""
        self.calls += 1
        self.observe_amd(result)
        if result.status in LIVE_ANSWERED_STATUSES:
            self.answered += 1
            self.abandoned += is_abandoned(result)

    def observe_amd(self, result: CallResult) -> bool:
        """Count a MACHINE hang-up (autodialer/telephony/amd.py): True if `result` is one."""
        if is_machine_hangup(result):
            self.machine_hangups += 1
            return True
        return False

    @property
    def abandoned_with_amd(self) -> float:
        """Abandoned, with the people AMD hung up on by the campaign's estimate."""
        return self.abandoned + self.false_machine_rate * self.machine_hangups

    @property
    def abandon_rate(self) -> float:
        answered = self.answered + self.false_machine_rate * self.machine_hangups
        return self.abandoned_with_amd / answered if answered else 0.0

    def as_dict(self) -> dict:
        out = {"calls": self.calls, "answered": self.answered, "abandoned": self.abandoned,
               "abandon_rate": round(self.abandon_rate, 4), "peak_in_flight": self.peak_in_flight,
               "stopped_ringing": self.stopped}
        if self.machine_hangups:
            out["machine_hangups"] = self.machine_hangups
            out["abandoned_with_amd"] = round(self.abandoned_with_amd, 2)
        return out


@runtime_checkable
class Pacer(Protocol):
    """What paces a run's calls: the plain CallLimiter, FixedPacer and QueuePacer (progressive,
    predictive; autodialer.pacing.pacers). The dialing core (ContactDialer) takes a slot for each
    call, tells the pacer each result, and the flow reports `stats` at the end."""

    stats: PacingStats

    @property
    def in_flight(self) -> int:
        """Calls holding a slot now."""

    def call_slot(self) -> AbstractAsyncContextManager[Slot]:
        """`async with pacer.call_slot() as slot:` one call's place, held until the call has ended;
        set `slot.attempt_id` to let the pacer follow that very call."""

    def observe(self, result: CallResult) -> None:
        """After each call: what it says of answer rates, handle times, abandonment."""

    async def start(self) -> "Pacer":
        """Before the first call (a queue pacer reads its queue); `call_slot` starts it otherwise."""

    async def close(self) -> None:
        """After the last call."""


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up. FIFO: waiters are served in order."""

    def __init__(self, rate: float, burst: float | None = None, *, clock=time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def acquire(self) -> None:
        async with self._lock:  # the lock queues waiters FIFO
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1


class CallLimiter:
    """At most `max_concurrent` calls in flight and `per_second` originates a second (a Pacer that
    only counts what it observes)."""

    def __init__(self, max_concurrent: int, per_second: float):
        self.stats = PacingStats()
        self.max_concurrent = max_concurrent
        self._slots = asyncio.Semaphore(max_concurrent)
        self._bucket = TokenBucket(per_second, burst=min(per_second, max_concurrent) if per_second >= 1 else 1)
        self.in_flight = 0
        self.peak_in_flight = 0

    @asynccontextmanager
    async def call_slot(self):
        async with self._slots:
            await self._bucket.acquire()
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.stats.peak_in_flight = self.peak_in_flight
            try:
                yield Slot(time.monotonic())
            finally:
                self.in_flight -= 1

    def observe(self, result: CallResult) -> None:
        self.stats.observe(result)

    async def start(self) -> "CallLimiter":
        return self

    async def close(self) -> None:
        pass


class RefusalBackoff:
    """Backs originates off while the PBX refuses them (`Response: Error`: overloaded, trunk
    full) or the AMI link is down, so a refusing PBX sees a trickle instead of a storm.

    Each refusal doubles the pause (from `initial` up to `maximum` seconds); while backing off,
    one originate goes out per pause. The first originate *sent after the last refusal* that
    the PBX accepts ends the backoff (a late result of an older call does not).
    `wait()` returns a ticket to hand back to `refused()` / `accepted()`.
    """

    def __init__(self, initial: float = 0.25, maximum: float = 4.0, *, clock=time.monotonic):
        if not 0 < initial <= maximum:
            raise ValueError("need 0 < initial <= maximum")
        self.initial = float(initial)
        self.maximum = float(maximum)
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tickets = 0
        self._last_refused = 0  # ticket of the latest refused originate
        self._next_at = 0.0
        self.level = 0  # consecutive refusals (0: not backing off)
        self.refusals = 0  # all refusals seen, for reports

    def pause(self) -> float:
        return min(self.maximum, self.initial * 2 ** min(self.level - 1, 30)) if self.level else 0.0

    async def wait(self) -> int:
        if self.level:
            async with self._lock:  # one originate per pause, waiters in order
                while self.level and (delay := self._next_at - self._clock()) > 0:
                    await asyncio.sleep(delay)
                if self.level:
                    self._next_at = self._clock() + self.pause()
        self._tickets += 1
        return self._tickets

    def refused(self, ticket: int) -> None:
        self.refusals += 1
        self._last_refused = max(self._last_refused, ticket)
        self.level += 1
        self._next_at = max(self._next_at, self._clock() + self.pause())

    def accepted(self, ticket: int) -> None:
        if ticket > self._last_refused:
            self.level = 0

"""In-run limits on dialing: simultaneous calls (a semaphore) and originates per second (a
token bucket). These are plain asyncio: acquiring a Prefect limit per call costs ~1 s under
contention (see the Prefect notes), so Prefect limits are taken coarsely, once per run.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager


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
    """At most `max_concurrent` calls in flight and `per_second` originates a second."""

    def __init__(self, max_concurrent: int, per_second: float):
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
            try:
                yield
            finally:
                self.in_flight -= 1


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

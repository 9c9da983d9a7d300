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

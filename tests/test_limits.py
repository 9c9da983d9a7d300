"""The in-run call limits: never more than N calls at once, never faster than the rate."""

import asyncio

from autodialer.pacing.limits import CallLimiter, TokenBucket


class FakeClock:
    """A clock advanced by the sleeps the bucket itself asks for: deterministic, no wall time."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_token_bucket_spaces_acquisitions_at_the_rate(monkeypatch):
    clock = FakeClock()
    stamps = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds):
        clock.t += seconds
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)

    async def main():
        bucket = TokenBucket(5, burst=2, clock=clock)
        for _ in range(12):
            await bucket.acquire()
            stamps.append(clock.t)

    asyncio.run(main())
    # Two from the burst at t=0, then one every 0.2 s.
    assert stamps[:2] == [0.0, 0.0]
    gaps = [round(b - a, 6) for a, b in zip(stamps[2:], stamps[3:])]
    assert all(g == 0.2 for g in gaps), gaps
    assert round(stamps[-1], 6) == 2.0


def test_call_limiter_caps_calls_in_flight():
    async def main():
        limiter = CallLimiter(max_concurrent=3, per_second=1000)

        async def call():
            async with limiter.call_slot():
                assert limiter.in_flight <= 3
                await asyncio.sleep(0.01)

        await asyncio.gather(*(call() for _ in range(20)))
        return limiter.peak_in_flight

    assert asyncio.run(main()) == 3

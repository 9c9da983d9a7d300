"""A run's lease: held in the outcome database while the run is alive, renewed by a heartbeat,
timed by the database's clock (autodialer.store.runs). Another run takes over this run's attempts
only once the lease has lapsed, so a live call is never closed under a live run.

The lease is longer than a database blip and far shorter than a schedule period: a run killed
at 10:00 has its calls resolved by the run of 10:20. A run that finds its lease taken over (it
was paused past it, e.g. by a database outage) starts no new call; the calls it has in flight
it still follows and records (the later run follows the same ones: same results).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from autodialer.store import runs

log = logging.getLogger("autodialer.leases")

LEASE_SECONDS = 90.0  # a run silent this long (by the database's clock) is gone
HEARTBEAT_SECONDS = 15.0  # renewed this often: six heartbeats may fail before the lease lapses


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


class RunLease:
    """`async with RunLease(store, run_id, campaign_id) as lease:` the run's row and heartbeat.
    `lease.held` is False once another run took the run over."""

    def __init__(self, store, run_id: str, campaign_id: int, *, lease_seconds: float = LEASE_SECONDS,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS, deployment: str | None = None,
                 settings: dict | None = None):
        if not 0 < heartbeat_seconds < lease_seconds:
            raise ValueError("the heartbeat must come more often than the lease lasts")
        self.store = store
        self.run_id = run_id
        self.campaign_id = campaign_id
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.deployment = deployment
        self.settings = settings
        self.held = False
        self.counts: dict | None = None  # written with the run's end
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "RunLease":
        from autodialer.dialer.dialing import retry_store

        await retry_store(runs.start_run, self.store, self.run_id, self.campaign_id, lease_seconds=self.lease_seconds,
                          deployment=self.deployment, worker=worker_name(), settings=self.settings)
        self.held = True
        self._task = asyncio.get_running_loop().create_task(self._heartbeat())
        return self

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                ok = await asyncio.to_thread(runs.renew_lease, self.store, self.run_id, lease_seconds=self.lease_seconds)
            except Exception as exc:
                # The database is away: keep trying. Nobody can take the run over meanwhile without
                # the database, and no call starts without a claim in it.
                log.warning("run lease not renewed (%s: %s)", type(exc).__name__, exc)
                continue
            if not ok:
                log.warning("run %s was taken over by a later run (its lease lapsed): no new calls", self.run_id)
                self.held = False
                return

    async def __aexit__(self, exc_type, exc, tb) -> None:
        from autodialer.dialer.dialing import retry_store

        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        reason = "finished" if exc_type is None else "failed"
        try:
            await retry_store(runs.end_run, self.store, self.run_id, reason=reason, counts=self.counts)
        except Exception as err:  # the lease lapses by itself: the next run takes over
            log.warning("run %s end not recorded (%s); its lease will lapse", self.run_id, err)

"""The per-outcome retry delay reaches Prefect one way: the campaign flow's dial task returns an
AwaitingRetry state scheduled at the policy's time (flows/campaign.py `retry_at`), and Prefect's
task engine runs the task again then. This pins that contract against Prefect's real (ephemeral)
API: it fails on the Prefect upgrade that stops honouring a returned AwaitingRetry's time."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.runtime import task_run
from prefect.states import Completed, Failed

from flows.campaign import retry_at


def test_a_returned_retry_at_runs_the_task_again_at_that_time(prefect_api):
    delays = [1.5, 0.5]  # BUSY then NO_ANSWER, say: a delay per outcome, not one per task
    started: list[float] = []
    wanted: list[datetime] = []

    @task(name="retry-at-probe", persist_result=False)
    async def probe():
        started.append(time.monotonic())
        n = task_run.run_count
        if n <= len(delays):
            wanted.append(datetime.now(timezone.utc) + timedelta(seconds=delays[n - 1]))
            return retry_at(wanted[-1], Failed(name="Busy", message=f"attempt {n}"))
        return Completed(name="Answered", message="done")

    @flow(persist_result=False)
    async def probe_flow():
        return await probe(return_state=True)

    async def main():
        state = await probe_flow(return_state=True)
        inner = await state.result()
        async with get_client() as client:
            history = await client.read_task_run_states(inner.state_details.task_run_id)
        return inner, history

    inner, history = asyncio.run(main())
    assert inner.name == "Answered" and len(started) == 3
    gaps = [b - a for a, b in zip(started, started[1:])]
    assert all(d - 0.05 <= g <= d + 1.5 for g, d in zip(gaps, delays)), gaps  # each waited its own delay
    names = [s.name for s in history]
    assert names.count("AwaitingRetry") == 2 and names.count("Retrying") == 2, names
    awaiting = [s for s in history if s.name == "AwaitingRetry"]
    assert [s.message for s in awaiting] == ["Busy: attempt 1", "Busy: attempt 2"]
    for s, when in zip(awaiting, wanted):
        assert abs((s.state_details.scheduled_time - when).total_seconds()) < 0.01

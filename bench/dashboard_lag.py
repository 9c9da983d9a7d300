"""How far the Prefect UI's history lags behind a campaign: a Prefect server on PostgreSQL, a
flow shaped like the campaign flow (async tasks awaited directly, one task run per call with a
named state, calls started at a steady rate and lasting --hold seconds), at 20, 50 and 100
calls/s, then batched (one task run per --batch calls, with a table artifact of its calls).

    .venv/bin/python -m bench.dashboard_lag [--rates 20,50,100] [--seconds 20] [--batch 100]

For each run it prints: calls, task runs, the flow's wall time, how many task runs the server
had recorded (terminal state in its database) when the flow ended, the lag (flow end -> the
last task run recorded) and the rate the server recorded task runs at. The calls are a sleep,
not the lab PBX: this measures Prefect's side alone (the dialer's own cost: bench/campaign_makespan.py).
Needs the PostgreSQL of AUTODIALER_BENCH_PG_ADMIN_URL (default: the project's test server),
where it creates and drops a database for the Prefect server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("AUTODIALER_BENCH_PG_ADMIN_URL",
                           "postgresql+psycopg2://autodialer:autodialer@127.0.0.1:5432/autodialer_test")

FLOW = textwrap.dedent('''
    import asyncio, json, sys, time
    from prefect import flow, task
    from prefect.artifacts import acreate_table_artifact
    from prefect.cache_policies import NO_CACHE
    from prefect.states import Completed

    @task(name="dial", cache_policy=NO_CACHE, persist_result=False)
    async def dial(i: int, hold: float):
        await asyncio.sleep(hold)
        return Completed(name="Answered", message=f"contact {i}: ANSWERED")

    @task(name="dial-batch", cache_policy=NO_CACHE, persist_result=False)
    async def dial_batch(first: int, starts: list, hold: float):
        async def one(i, at):
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            await asyncio.sleep(hold)
            return {"contact": i, "status": "ANSWERED"}
        rows = await asyncio.gather(*(one(first + k, at) for k, at in enumerate(starts)))
        await acreate_table_artifact(rows, description=f"calls {first}-{first + len(rows) - 1}")
        return Completed(name="Batch", message=f"{len(rows)} calls: ANSWERED {len(rows)}")

    @flow(name="dashboard-lag", persist_result=False)
    async def campaign_like(rate: float, total: int, hold: float, batch: int):
        t0 = time.monotonic() + 0.5
        starts = [t0 + i / rate for i in range(total)]
        if batch <= 1:
            async def one(i):
                await asyncio.sleep(max(0.0, starts[i] - time.monotonic()))
                return await dial.with_options(task_run_name=f"+7906{i:07d}")(i, hold, return_state=True)
            await asyncio.gather(*(one(i) for i in range(total)))
        else:
            async def group(first):
                await asyncio.sleep(max(0.0, starts[first] - time.monotonic()))
                return await dial_batch.with_options(task_run_name=f"batch {first // batch + 1}")(
                    first, starts[first:first + batch], hold, return_state=True)
            await asyncio.gather(*(group(f) for f in range(0, total, batch)))
        from prefect.runtime import flow_run
        return str(flow_run.get_id())

    if __name__ == "__main__":
        rate, total, hold, batch = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
        started = time.time()
        state = asyncio.run(campaign_like(rate, total, hold, batch, return_state=True))
        print(json.dumps({"started": started, "ended": time.time(), "state": state.type.value,
                          "flow_run": state.result()}))
''')


async def recorded(api_url: str, flow_run_id: str) -> int:
    """Task runs of the flow run in a terminal state, as the server's database has them."""
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        r = await client._client.post("/task_runs/count", json={
            "flow_runs": {"id": {"any_": [flow_run_id]}}, "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}})
        return int(r.json())


def one_run(api_url: str, env: dict, rate: float, seconds: float, hold: float, batch: int) -> dict:
    import json

    total = int(rate * seconds)
    task_runs = total if batch <= 1 else -(-total // batch)
    script = Path(tempfile.mkdtemp()) / "campaign_like.py"
    script.write_text(FLOW)
    proc = subprocess.run([sys.executable, str(script), str(rate), str(total), str(hold), str(batch)], env=env,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    run = json.loads(proc.stdout.strip().splitlines()[-1])
    at_end = asyncio.run(recorded(api_url, run["flow_run"]))
    samples = [(time.time(), at_end)]
    while samples[-1][1] < task_runs and time.time() - run["ended"] < 900:
        time.sleep(1.0)
        samples.append((time.time(), asyncio.run(recorded(api_url, run["flow_run"]))))
    done = samples[-1][0] if samples[-1][1] >= task_runs else None
    first_t = run["started"]
    return {"calls": total, "task_runs": task_runs, "flow_s": run["ended"] - run["started"], "at_end": at_end,
            "lag_s": (done - run["ended"]) if done else None, "recorded_per_s": task_runs / ((done or time.time()) - first_t),
            "complete": done is not None}


def main() -> int:
    import sqlalchemy as sa

    from tests.prefectkit import running_prefect_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="20,50,100")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each campaign dials")
    parser.add_argument("--hold", type=float, default=2.0, help="seconds a call lasts")
    parser.add_argument("--batch", type=int, default=100, help="calls per task run in the batched run (at the highest rate)")
    args = parser.parse_args()

    name = f"prefect_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    try:
        home = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
        extra = {"PREFECT_API_DATABASE_CONNECTION_URL": url.render_as_string(hide_password=False)}
        with running_prefect_server(home, extra_env=extra) as (api_url, env):
            env = {**env, "PREFECT_LOGGING_LEVEL": "ERROR"}
            print(f"prefect server on PostgreSQL ({name}), {os.cpu_count()} cores; calls last {args.hold:g} s, "
                  f"{args.seconds:g} s of dialing per run")
            print(f"{'mode':>10} {'calls/s':>8} {'calls':>6} {'task runs':>9} {'flow s':>7} {'recorded at end':>15} "
                  f"{'lag s':>6} {'recorded/s':>10}")
            rates = [float(r) for r in args.rates.split(",")]
            runs = [("per call", r, 1) for r in rates] + [(f"batch {args.batch}", max(rates), args.batch)]
            for mode, rate, batch in runs:
                r = one_run(api_url, env, rate, args.seconds, args.hold, batch)
                lag = f"{r['lag_s']:.0f}" if r["lag_s"] is not None else ">900"
                print(f"{mode:>10} {rate:>8g} {r['calls']:>6} {r['task_runs']:>9} {r['flow_s']:>7.0f} "
                      f"{r['at_end']:>15} {lag:>6} {r['recorded_per_s']:>10.1f}", flush=True)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

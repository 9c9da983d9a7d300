"""Scale-out: two Prefect workers on this machine share one Prefect server and one outcome
database; the trunk's global concurrency limit holds across their flow runs.

A real `prefect server start` (SQLite) and two `prefect worker start` processes on a process work
pool; two campaigns on trunk `lab`, each wanting 4 channels, under a `trunk-lab` limit of 2: the
lab PBX never sees more than 2 calls at once, and every contact is dialed exactly once.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
pytestmark = [pytest.mark.postgres]
# A run holds its trunk share (2 of 2 slots) for its life: the second run waits in Running. Its
# worker may take seconds to start it, so each run dials enough to outlast that start-up.
PER_CAMPAIGN = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited: {proc.stdout.read()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("prefect server did not become healthy")


CAMPAIGN = """\
name: {name}
kind: bot
lists: [{name}.csv]
schedule: {{cron: "0 * * * *", timezone: UTC}}
windows: {{windows: [{{days: daily, start: "00:00", end: "23:59:59"}}]}}
destination: {{type: context, context: from-dialer}}
trunk: lab
max_concurrent_calls: 4
max_originates_per_second: 50
"""


@pytest.fixture
def prefect_server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # A run waiting for trunk slots polls again within 2 s, not Prefect's default 30 s.
        "PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
    }
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(url, server)
        yield url, {**env, "PREFECT_API_URL": url}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_two_workers_share_the_trunk_limit(tmp_path, prefect_server, pg_url):
    from autodialer.lab import running_lab

    api_url, env = prefect_server
    for name, start in (("camp-a", 0), ("camp-b", 100)):
        (tmp_path / f"{name}.csv").write_text("phone\n" + "".join(f"+7906200{start + i:03d}1\n" for i in range(PER_CAMPAIGN)))
        (tmp_path / f"{name}.yaml").write_text(CAMPAIGN.format(name=name))

    def prefect(*args):
        subprocess.run([PREFECT, *args], env=env, check=True, capture_output=True, text=True, timeout=120)

    prefect("work-pool", "create", "dialer", "--type", "process")
    prefect("global-concurrency-limit", "create", "trunk-lab", "--limit", "2")

    # Real-time calls (~2 s each): a run lasts ~10 s, long enough for the other worker to start its
    # run meanwhile, whatever the workers' polling and process start-up take.
    with running_lab(time_scale=1.0) as lab:
        env.update({"AUTODIALER_AMI_URL": lab.url, "AUTODIALER_DATABASE_URL": pg_url, "PREFECT_WORKER_QUERY_SECONDS": "1",
                    "PYTHONPATH": str(ROOT)})
        deploy = textwrap.dedent(
            f"""
            import asyncio
            from prefect import flow
            async def main():
                ids = []
                for name in ("camp-a", "camp-b"):
                    remote = await flow.from_source(source={str(ROOT)!r}, entrypoint="flows/campaign.py:campaign_flow")
                    dep = await remote.adeploy(name=name, work_pool_name="dialer", print_next_steps=False,
                                               parameters={{"campaign_file": {str(tmp_path)!r} + f"/{{name}}.yaml", "run_minutes": 2}})
                    ids.append(str(dep))
                print(" ".join(ids))
            asyncio.run(main())
            """
        )
        out = subprocess.run([sys.executable, "-c", deploy], env=env, check=True, capture_output=True, text=True, timeout=120)
        deployment_ids = out.stdout.split()[-2:]
        workers = [
            subprocess.Popen([PREFECT, "worker", "start", "--pool", "dialer", "--limit", "1", "--name", f"worker-{i}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for i in (1, 2)
        ]
        try:
            runs = asyncio.run(_run_and_wait(api_url, deployment_ids))
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                try:
                    w.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    w.kill()
        peak = lab.peak_calls
        originates = lab.originates

    assert [r["state"] for r in runs] == ["COMPLETED", "COMPLETED"], runs
    # Each worker takes one run at a time (--limit 1): overlapping runs mean both workers worked.
    a, b = runs
    assert a["start"] < b["end"] and b["start"] < a["end"], f"the runs did not overlap: {runs}"
    assert originates == 2 * PER_CAMPAIGN
    assert peak <= 2, f"the trunk limit of 2 held across both workers (peak {peak})"
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        per_contact = conn.execute(sa.text("select attempts, count(*) from contacts group by attempts")).all()
    engine.dispose()
    assert per_contact == [(1, 2 * PER_CAMPAIGN)]


async def _run_and_wait(api_url: str, deployment_ids: list[str]) -> list[dict]:
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        # Both workers polling before the runs exist: on a loaded machine one worker's start-up can
        # take longer than the other worker's whole run, and then the runs never overlap.
        deadline = time.time() + 180
        while len(await client.read_workers_for_work_pool("dialer")) < 2:
            assert time.time() < deadline, "the two workers never registered with the pool"
            await asyncio.sleep(1)
        runs = [await client.create_flow_run_from_deployment(d) for d in deployment_ids]
        deadline = time.time() + 180
        while time.time() < deadline:
            states = [await client.read_flow_run(r.id) for r in runs]
            if all(s.state and s.state.is_final() for s in states):
                break
            await asyncio.sleep(1)
        return [
            {"state": s.state.type.value if s.state else None, "start": s.start_time, "end": s.end_time}
            for s in states
        ]

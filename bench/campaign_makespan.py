"""Campaign makespan: how close a campaign run gets to the channel lower bound, and what Prefect
costs per contact beside the same dialing core without Prefect.

    .venv/bin/python bench/campaign_makespan.py [--contacts 10000] [--channels 100] [--time-scale 0.01]

Starts the lab PBX in a subprocess in random mode (seeded), builds a list of N contacts, then in
this one process runs, each on a fresh outcome database (PostgreSQL when AUTODIALER_TEST_DATABASE_URL
or AUTODIALER_DATABASE_URL names one, else SQLite):
1. "engine alone": the run as the flow builds it (autodialer.dialer.run: the lease, the engines, the
   campaign's pacer, the ContactDialer: window check, claim, originate, classify, finish) over
   one AMI session, asyncio.gather, no Prefect;
2. "campaign flow": the Prefect flow (ephemeral API), the same contacts: a named task run per
   contact, states, artifacts.
For each it prints the makespan (first originate to last end), the lower bound (total busy
channel-seconds recorded in `attempts` / channels), makespan / bound, and the wall time and CPU
per contact; Prefect's overhead per contact is the difference between the two runs.
One pass only: no retries, so both runs place exactly N calls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_HOME", str(ROOT / ".prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
os.environ.pop("PREFECT_API_URL", None)

from bench.originate_throughput import free_port, start_lab  # noqa: E402

CAMPAIGN = """\
name: {name}
kind: bot
default_region: RU
lists: [{list}]
list: {{phone_columns: [phone]}}
schedule: {{cron: "0 * * * *", timezone: UTC}}
windows: {{windows: [{{days: daily, start: "00:00", end: "23:59:59"}}]}}
retry: {{outcomes: {{}}, max_attempts: 1}}
destination: {{type: context, context: from-dialer}}
max_concurrent_calls: {channels}
max_originates_per_second: 1000
ring_timeout: 20s
max_call_duration: 10m
"""


def database_url(tmp: Path, tag: str) -> str:
    base = os.environ.get("AUTODIALER_TEST_DATABASE_URL") or os.environ.get("AUTODIALER_DATABASE_URL")
    if base and base.startswith("postgresql"):
        import sqlalchemy as sa

        name = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
    return f"sqlite:///{tmp / (tag + '.db')}"


def measure(url: str, channels: int) -> tuple[float, float]:
    """(makespan, lower bound) from the attempts table."""
    import sqlalchemy as sa

    from autodialer.store.schema import attempts

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        # A channel is busy from the Originate being queued to the end of the call.
        rows = conn.execute(sa.select(attempts.c.queued_at, attempts.c.ended_at).where(attempts.c.queued_at.is_not(None))).all()
    engine.dispose()
    start = min(r[0] for r in rows)
    end = max(r[1] for r in rows)
    busy = sum((r[1] - r[0]).total_seconds() for r in rows)
    return (end - start).total_seconds(), busy / channels


async def engine_alone(campaign_file: str, url: str) -> int:
    from autodialer.campaigns.campaign import load_campaign
    from autodialer.config import ami_settings
    from autodialer.dialer.dialing import utcnow
    from autodialer.dialer.run import hold_run, open_run
    from autodialer.store import Store

    campaign = load_campaign(campaign_file)
    store = Store(url)
    store.migrate()
    cid = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())
    for path in campaign.list_paths():
        store.import_list(cid, path, campaign.list_settings())
    contacts = store.due_contacts(cid, now=utcnow())
    if os.environ.get("BENCH_THREADS"):
        from concurrent.futures import ThreadPoolExecutor
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(int(os.environ["BENCH_THREADS"])))
    async with (hold_run(campaign, store, cid) as held,
                open_run(campaign, store, cid, servers=[(ami_settings(), campaign.outbound_context)], held=held) as run):
        await asyncio.gather(*(run.dialer.attempt(c) for c in contacts))
        await run.settle()
    return len(contacts)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=10_000)
    ap.add_argument("--channels", type=int, default=100)
    ap.add_argument("--time-scale", type=float, default=0.01)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="makespan-"))
    port = free_port()
    lab = start_lab(port, args.time_scale, "random", seed=7, ring_min=2.0, ring_max=20.0, talk_mean=30.0, talk_max=120.0)
    os.environ["AUTODIALER_AMI_URL"] = f"ami://dialer:dialer-secret@127.0.0.1:{port}"
    results = {}
    try:
        for tag in os.environ.get("BENCH_RUNS", "engine,flow").split(","):
            # A distinct number range per run, so neither run's contacts are the other's.
            prefix = "7906" if tag == "engine" else "7916"
            (tmp / f"{tag}.csv").write_text("phone\n" + "".join(f"{prefix}{i:07d}\n" for i in range(args.contacts)))
            campaign_file = tmp / f"{tag}.yaml"
            campaign_file.write_text(CAMPAIGN.format(name=f"bench-{tag}", list=f"{tag}.csv", channels=args.channels))
            url = database_url(tmp, tag)
            os.environ["AUTODIALER_DATABASE_URL"] = url
            c0, t0 = cpu(), time.perf_counter()
            if tag == "engine":
                n = asyncio.run(engine_alone(str(campaign_file), url))
            else:
                from flows.campaign import campaign_flow

                state = asyncio.run(campaign_flow(str(campaign_file), run_minutes=120, return_state=True))
                n = args.contacts
                print(f"flow state: {state.name}: {(state.message or '')[:200]}")
            wall, used = time.perf_counter() - t0, cpu() - c0
            makespan, bound = measure(url, args.channels)
            results[tag] = (n, wall, used, makespan, bound)
    finally:
        lab.terminate()
        lab.wait(timeout=10)

    print(f"\n{args.contacts} contacts, {args.channels} channels, lab random mode, time scale {args.time_scale}")
    print(f"{'run':<15}{'calls':>7}{'makespan s':>12}{'bound s':>10}{'ratio':>8}{'wall s':>9}{'wall ms/contact':>17}{'cpu ms/contact':>16}")
    for tag, (n, wall, used, makespan, bound) in results.items():
        print(f"{tag:<15}{n:>7}{makespan:>12.1f}{bound:>10.1f}{makespan / bound:>8.3f}{wall:>9.1f}{1000 * wall / n:>17.2f}{1000 * used / n:>16.2f}")
    e, f = results["engine"], results["flow"]
    print(f"\nPrefect overhead per contact: wall {1000 * (f[1] - e[1]) / f[0]:.2f} ms, cpu {1000 * (f[2] - e[2]) / f[0]:.2f} ms")
    print(f"flow makespan vs engine alone: {f[3] / e[3]:.3f}x; flow makespan vs lower bound: {f[3] / f[4]:.3f}x")


if __name__ == "__main__":
    main()

"""List ingest bench: a 1,000,000-row CSV (10% duplicate numbers, 5% bad numbers) into PostgreSQL.

    AUTODIALER_TEST_DATABASE_URL=postgresql+psycopg2://... .venv/bin/python bench/list_ingest.py [--rows N]

Prints rows/s, the peak RSS (resource.getrusage high-water mark) after the ingest, and the ratio
to a bare `pandas.read_csv` + `drop_duplicates` of the same file in the same process. The
database is a fresh one created for the run (and dropped) when the server allows it, else the
given database with a campaign of its own. Goal: under 20 s and 1 GB for the million rows.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"

FORMATS = ["7{}", "8{}", "+7{}", "8 ({}) {}-{}-{}", "+7 {} {} {} {}", "7{}.0"]
BAD = ["12345", "Action: Originate", "+7 000 000", "8 (906) 12", "=HYPERLINK(\"x\")", "n/a", "79O61234567"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def generate(path: Path, rows: int, seed: int = 4) -> None:
    """Rows: name, phone, order_id, items. 10% repeat an earlier number, 5% are not numbers."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    n_unique = rows
    codes = rng.choice(np.array([900 + i for i in range(100)] + [495, 499, 812, 343, 383]), size=n_unique)
    subs = rng.integers(0, 10_000_000, size=n_unique)
    kind = rng.random(rows)
    fmt = rng.integers(0, len(FORMATS), size=rows)
    with tmp.open("w", encoding="utf-8", newline="") as f:
        f.write("name,phone,order_id,items\n")
        for start in range(0, rows, 100_000):
            lines = []
            for i in range(start, min(rows, start + 100_000)):
                if kind[i] < 0.05:
                    phone = BAD[i % len(BAD)]
                    if '"' in phone:
                        phone = '"' + phone.replace('"', '""') + '"'
                else:
                    j = i
                    if kind[i] < 0.15 and i > 0:  # a duplicate of an earlier row's number
                        j = int(rng.integers(0, i))
                    code, sub = int(codes[j]), int(subs[j])
                    s = f"{sub:07d}"
                    form = FORMATS[fmt[i]]
                    if form.count("{}") == 1:
                        phone = form.format(f"{code}{s}")
                    elif form.startswith("8 ("):
                        phone = form.format(code, s[:3], s[3:5], s[5:])
                    else:
                        phone = form.format(code, s[:3], s[3:5], s[5:])
                lines.append(f"Customer {i},{phone},ORD-{i:07d},\"{1 + i % 5} x item, size {i % 44}\"\n")
            f.write("".join(lines))
    tmp.replace(path)


def server_cpu_seconds(url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving this database (same host only:
    read from /proc; empty when the server is elsewhere or /proc is not readable)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            me = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            pids = [r[0] for r in conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))]
    finally:
        engine.dispose()
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        if pid == me:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return out


def bench_database(url: str):
    """A fresh database on the same server if we may create one, else `url` itself."""
    import sqlalchemy as sa

    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.SQLAlchemyError:
        admin.dispose()
        return url, None
    fresh = sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return fresh, drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: autodialer.lists.parallel.default_workers: 2 with 4+ CPUs, 1 with 2-3, else 0)")
    args = parser.parse_args()
    url = os.environ.get("AUTODIALER_DATABASE_URL") or os.environ.get("AUTODIALER_TEST_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        print("set AUTODIALER_DATABASE_URL or AUTODIALER_TEST_DATABASE_URL to a PostgreSQL URL", file=sys.stderr)
        return 2
    path = OUT / f"list_{args.rows}.csv"
    if not path.exists():
        t0 = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")

    from autodialer.lists.mapping import ListSettings
    from autodialer.store import Store

    db_url, drop = bench_database(url)
    try:
        store = Store(db_url)
        store.migrate()
        settings = ListSettings.model_validate(
            {"name": f"bench-{uuid.uuid4().hex[:8]}", "kind": "bench", "default_region": "RU",
             "list": {"phone_columns": ["phone"], "variables": {"ORDER_ID": {"column": "order_id", "kind": "token"}, "ORDER_TEXT": "items", "CUSTOMER": "name"}}}
        )
        cid = store.ensure_campaign(settings.name, kind=settings.kind)
        rss_before = peak_rss_mb()
        server_before = server_cpu_seconds(db_url)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        report = store.import_list(cid, path, settings, workers=args.workers)
        ingest_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_cpu = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
        workers_rss = kids1.ru_maxrss / 1024
        rss_ingest = peak_rss_mb()
        server_after = server_cpu_seconds(db_url)
        store.close()
        client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        server_cpu = sum(v - server_before.get(pid, 0.0) for pid, v in server_after.items()) if server_after else None
    finally:
        if drop:
            drop()

    import pandas as pd

    t0 = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    unique = frame.drop_duplicates(subset=["phone"])
    baseline_s = time.perf_counter() - t0
    del frame, unique

    print(report)
    print(f"rows:               {args.rows:,}")
    print(f"ingest:             {ingest_s:.2f} s  ({args.rows / ingest_s:,.0f} rows/s)")
    print(f"peak RSS:           {rss_ingest:.0f} MB after ingest (was {rss_before:.0f} MB before it); "
          f"largest worker process {workers_rss:.0f} MB")
    print(f"CPU:                client {client_cpu:.1f} s + workers {workers_cpu:.1f} s, PostgreSQL backends "
          + (f"{server_cpu:.1f} s" if server_cpu is not None else "n/a (server not local)")
          + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"baseline:           {baseline_s:.2f} s  (pandas.read_csv + drop_duplicates, same file)")
    print(f"ratio to baseline:  {ingest_s / baseline_s:.1f}x")
    goal = ingest_s < 20 and rss_ingest < 1024 and workers_rss < 1024
    print(f"goal (<20 s, <1 GB): {'met' if goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

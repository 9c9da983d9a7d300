"""PostgreSQL restarts mid-campaign: the store writes of the attempts in flight are retried and no
result is lost. The shared server is never touched: the test starts a PRIVATE PostgreSQL
(initdb into a temporary directory, as the `postgres` user) and restarts that one."""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from autodialer.lab import running_lab
from tests.amitap import AmiTap
from tests.faultkit import RETRY, assert_no_double_dials, attempts_table, dial_due, load_into_store, numbers, session_for, write_campaign



def _pg_bin() -> Path:
    """Where initdb/pg_ctl live: $AUTODIALER_PG_BIN, else Debian's newest /usr/lib/postgresql/N/bin,
    else the directory of `initdb` on the PATH."""
    if os.environ.get("AUTODIALER_PG_BIN"):
        return Path(os.environ["AUTODIALER_PG_BIN"])
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free loopback port, run by the `postgres` user."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="autodialer-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = " ".join(args)
        if os.geteuid() == 0:
            argv = ["su", "postgres", "-c", cmd]
        else:
            argv = ["sh", "-c", cmd]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd}: {proc.stdout}{proc.stderr}")

    def init(self) -> "PrivatePostgres":
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", f"'{opts}'", "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_pg():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN} (initdb): cannot start a private server to restart")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        if os.geteuid() == 0:
            pytest.skip("no 'postgres' user to run a private PostgreSQL server as")
    pg = PrivatePostgres()
    try:
        pg.init().start()
        yield pg
    finally:
        pg.destroy()


def test_postgres_restart_mid_campaign_loses_no_result(tmp_path, private_pg, caplog):
    phones = numbers(30, digits="31")
    restart_outage = 1.0  # seconds the server is down
    with running_lab(time_scale=0.05) as lab, AmiTap(lab.host, lab.port) as tap:
        campaign, store, cid = load_into_store(write_campaign(tmp_path, phones, max_concurrent_calls=10), private_pg.url)
        timeline = {}

        def restart():
            private_pg.stop("fast")  # every connection of the dialer is cut
            timeline["down"] = time.monotonic()
            time.sleep(restart_outage)
            private_pg.start()
            timeline["up"] = time.monotonic()

        async def restart_when_busy(engine):
            while engine.in_flight < 8:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(restart)

        async def main():
            async with session_for(tap.url_for(lab.url)) as ami:
                return await dial_due(campaign, store, cid, ami, during=restart_when_busy)

        outcomes = asyncio.run(asyncio.wait_for(main(), 60))
        store.close()
    assert timeline["up"] - timeline["down"] >= restart_outage
    retried = [r.getMessage() for r in caplog.records if "store unreachable" in r.getMessage()]
    assert retried, "the outage never hit a store write: the test proved nothing"
    assert len(outcomes) == 30 and not any(o.skipped for o in outcomes)
    rows = attempts_table(private_pg.url)
    by_id = {r["attempt_id"]: r for r in rows}
    assert len(rows) == 30
    # Every result the engine produced is in the store, as it was classified: none lost.
    for o in outcomes:
        row = by_id[o.result.attempt_id]
        assert row["status"] == o.result.status.value, (row, o.result)
        assert row["state"] == ("pending" if o.next_attempt_at else "done")
    statuses = collections.Counter(r["status"] for r in rows)
    assert statuses == {"ANSWERED": 15, "NO_ANSWER": 15}, statuses  # the calls themselves were not disturbed
    per_number = assert_no_double_dials(tap, private_pg.url, max_attempts=RETRY["max_attempts"])
    assert set(per_number.values()) == {1} and sum(per_number.values()) == 30


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_postgres_down_3_minutes_while_calls_end_loses_no_result_and_dials_nothing_unclaimed(tmp_path, private_pg, caplog):
    """PostgreSQL stopped for 3 minutes with 10 answered calls up and 20 contacts waiting: the
    calls end during the outage (their results go to the local journal, fsync'd), the waiting
    claims wait (nothing is dialed unclaimed), and when the server is back the journal is
    replayed and the rest dialed. Lab calls last 40 s (2 s x time scale 20)."""
    from autodialer.dialer.journal import Journal, read_entries

    outage = 180.0
    phones = numbers(30, digits="1")
    journal = Journal("faults", "pg-outage-run")
    with running_lab(time_scale=20.0) as lab, AmiTap(lab.host, lab.port) as tap:
        campaign, store, cid = load_into_store(
            write_campaign(tmp_path, phones, max_concurrent_calls=10, max_call_duration="10m",
                           list={"phone_columns": ["phone"], "variables": {"CUSTOMER": "name"}}), private_pg.url)
        timeline = {}

        async def outage_when_busy(engine):
            while engine.in_flight < 10:
                await asyncio.sleep(0.05)
            await asyncio.to_thread(private_pg.stop, "fast")
            timeline["down"] = time.monotonic()
            timeline["sent_at_down"] = len(tap.originates())
            await asyncio.sleep(outage)
            timeline["sent_at_up"] = len(tap.originates())
            timeline["journaled"] = len(read_entries(journal.path))
            await asyncio.to_thread(private_pg.start)
            timeline["up"] = time.monotonic()

        async def main():
            async with session_for(tap.url_for(lab.url)) as ami:
                return await dial_due(campaign, store, cid, ami, during=outage_when_busy, journal=journal, flush=120)

        outcomes = asyncio.run(asyncio.wait_for(main(), 900))
        store.close()
    journal.close()
    print(f"outage {timeline['up'] - timeline['down']:.0f} s; {timeline['journaled']} result(s) journaled meanwhile")
    assert timeline["up"] - timeline["down"] >= outage
    assert timeline["journaled"] == 10, timeline  # every call up at the cut ended during the outage
    # Claims that cannot be made wait: not one Originate left while the database was away.
    assert timeline["sent_at_up"] == timeline["sent_at_down"] == 10, timeline
    assert not journal.path.exists()  # replayed, nothing pending
    rows = attempts_table(private_pg.url)
    by_id = {r["attempt_id"]: r for r in rows}
    # Results lost 0: every call is in the store as the engine classified it.
    assert len(outcomes) == 30 and not any(o.skipped for o in outcomes)
    for o in outcomes:
        assert by_id[o.result.attempt_id]["status"] == o.result.status.value == "ANSWERED", (by_id[o.result.attempt_id], o)
    assert all(r["state"] == "done" for r in rows)
    # People who answered called again 0; attempts counted that never rang 0.
    per_number = assert_no_double_dials(tap, private_pg.url, max_attempts=RETRY["max_attempts"])
    assert set(per_number.values()) == {1} and len(per_number) == 30
    assert {r["attempt_id"] for r in rows} == {o["ChannelId"] for o in tap.originates()}

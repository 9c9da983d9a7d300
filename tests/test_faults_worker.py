"""The worker is killed with SIGKILL mid-campaign (the real `autodialer run`, a Prefect flow run in
a subprocess); the next run accounts for every attempt and dials nobody beyond the policy.
Originates are counted per number at the PBX's door (tests/amitap.py)."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from autodialer.lab import running_lab
from autodialer.store.store import STALE_ERROR
from tests.amitap import AmiTap
from tests.faultkit import RETRY, assert_no_double_dials, attempts_table, contacts_table, numbers, write_campaign

ROOT = Path(__file__).resolve().parents[1]
PREFECT_HOME = Path(os.environ.get("PREFECT_HOME", ROOT / ".prefect"))


def _run_cmd(campaign_file: Path, ami_url: str, db_url: str, prefect_home: Path) -> subprocess.Popen:
    """`autodialer run` as a worker would start it, against the session's Prefect API (a running
    server, as in production; an ephemeral one would add its ~5-30 s start-up to every run)."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "AUTODIALER_AMI_URL": ami_url, "AUTODIALER_DATABASE_URL": db_url,
           "PREFECT_HOME": str(prefect_home), "PYTHONPATH": str(ROOT), "PREFECT_API_URL": PREFECT_API_URL.value()}
    return subprocess.Popen([sys.executable, "-m", "autodialer", "run", str(campaign_file), "--run-minutes", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: the ephemeral Prefect server dies with it


def _wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigkill_mid_campaign_then_next_run_accounts_for_every_attempt(tmp_path, pg_url, prefect_api, monkeypatch, caplog):
    phones = numbers(40, digits="31")
    campaign_file = write_campaign(tmp_path / "campaign", phones, max_concurrent_calls=10, max_originates_per_second=5)
    with running_lab(time_scale=0.05) as lab, AmiTap(lab.host, lab.port) as tap:
        url = tap.url_for(lab.url)
        started = time.monotonic()
        first = _run_cmd(campaign_file, url, pg_url, PREFECT_HOME)
        try:
            _wait_for(lambda: lab.originates >= 10 or first.poll() is not None, 60, "the first run to dial")
            killed_at = time.monotonic()
            assert first.poll() is None, first.communicate()[0]  # still dialing (5 originates/s, 40 contacts)
            os.killpg(first.pid, signal.SIGKILL)  # the worker and everything it started, no goodbye
            out1 = first.communicate(timeout=10)[0]
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)
        assert first.returncode == -signal.SIGKILL, out1
        killed_rows = attempts_table(pg_url)
        dialing = [r for r in killed_rows if r["status"] == "DIALING"]
        assert dialing, "nothing was in flight when the worker died"
        sent_by_first = len(tap.originates())
        _wait_for(lambda: lab.active_calls() == 0, 20, "the orphaned calls to end at the PBX")

        # The next run comes on the schedule (*/20): its stale-attempt cutoff (ring timeout + max
        # call duration + 60 s) has passed for the dead run's attempts. Shift their start back by
        # one schedule period instead of sleeping 105 s.
        engine = sa.create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE attempts SET started_at = started_at - interval '20 minutes' WHERE status = 'DIALING'"))
        engine.dispose()

        # The next run, in this process (the same flow a worker runs; saves a Python + Prefect start-up).
        monkeypatch.setenv("AUTODIALER_AMI_URL", url)
        monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
        from flows.campaign import campaign_flow

        second_started = time.monotonic()
        with caplog.at_level(logging.INFO):
            state = asyncio.run(asyncio.wait_for(campaign_flow(str(campaign_file), run_minutes=1.0, return_state=True), 90))
        out2 = caplog.text + str(state.message)
        print(f"first run killed {killed_at - started:.1f} s after start; second run took {time.monotonic() - second_started:.1f} s")
        assert state.is_completed(), state

    rows = attempts_table(pg_url)
    assert not [r for r in rows if r["status"] == "DIALING"]
    recovered = [r for r in rows if r["error"] == STALE_ERROR]
    assert {r["attempt_id"] for r in recovered} == {r["attempt_id"] for r in dialing}  # every one closed, counted
    # Every contact was dialled; the ones whose first outcome died with the worker were dialled again
    # (within the FAILED limit); ones with a recorded outcome wait for their retry interval.
    contacts = contacts_table(pg_url)
    assert all(c["attempts"] >= 1 for c in contacts)
    per_contact = collections.Counter(r["number"] for r in rows)
    redialled = {r["number"] for r in recovered}
    for c in contacts:
        assert per_contact[c["phone"]] == (2 if c["phone"] in redialled else 1), c
    per_number = assert_no_double_dials(tap, pg_url, max_attempts=RETRY["max_attempts"])
    # Lab originates == attempt rows, number by number, except an attempt the dead run had claimed
    # but not yet sent (the claim comes first): it is counted, closed as unknown, never sent later.
    sent_ids = {o["ChannelId"] for o in tap.originates()}
    unsent = [r for r in rows if r["attempt_id"] not in sent_ids]
    assert all(r["error"] == STALE_ERROR for r in unsent), unsent
    assert per_number + collections.Counter(r["number"] for r in unsent) == per_contact
    assert sum(per_number.values()) > sent_by_first
    # The AMI secret is in the environment of both runs, never in what they print.
    secret = url.split(":")[2].split("@")[0]
    assert secret and secret not in out1 and secret not in out2

"""The worker is SIGKILLed with 20 answered calls up (the real `autodialer run`, a Prefect flow run
in a subprocess); the next run waits for nothing but the dead run's lease to lapse (by the
database's clock, production lease of 90 s), finds the calls still up at the PBX, follows them to
their end and records them answered: nobody who answered is called again. Originates are
counted per number at the PBX's door (tests/amitap.py).

Real durations: the lab's answered calls last 2 s x time scale 60 = 2 minutes, longer than the
lease; the dialer's own deadlines are the production ones. About 4 minutes: marked slow."""

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

import pytest
import sqlalchemy as sa

from autodialer.lab import running_lab
from autodialer.dialer.leases import LEASE_SECONDS
from autodialer.dialer.recovery import FOLLOWED_NOTE
from tests.amitap import AmiTap
from tests.faultkit import RETRY, assert_no_double_dials, attempts_table, contacts_table, numbers, rows, write_campaign

ROOT = Path(__file__).resolve().parents[1]
PREFECT_HOME = Path(os.environ.get("PREFECT_HOME", ROOT / ".prefect"))
ANSWERED_UP = 20  # answered calls up when the worker dies
LAB_SCALE = 60.0  # the lab's answered call (2 s in its plan) lasts 2 minutes


def _run_cmd(campaign_file: Path, ami_url: str, db_url: str, prefect_home: Path) -> subprocess.Popen:
    """`autodialer run` as a worker would start it, against the session's Prefect API (a running
    server, as in production; an ephemeral one would add its ~5-30 s start-up to every run)."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "AUTODIALER_AMI_URL": ami_url, "AUTODIALER_DATABASE_URL": db_url,
           "PREFECT_HOME": str(prefect_home), "PYTHONPATH": str(ROOT), "PREFECT_API_URL": PREFECT_API_URL.value()}
    return subprocess.Popen([sys.executable, "-m", "autodialer", "run", str(campaign_file), "--run-minutes", "10"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: everything it started dies with it


def _wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _lease_lapsed(db_url: str) -> bool:
    return bool(rows(db_url, "SELECT run_id FROM runs WHERE ended_at IS NULL AND lease_expires_at < clock_timestamp()"))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_sigkill_with_answered_calls_up_then_the_next_run_redials_nobody_who_answered(tmp_path, pg_url, prefect_api,
                                                                                     monkeypatch, caplog):
    phones = numbers(ANSWERED_UP + 5, digits="1")  # every callee answers; 5 wait for a slot when the worker dies
    campaign_file = write_campaign(
        tmp_path / "campaign", phones, max_concurrent_calls=ANSWERED_UP, max_originates_per_second=10,
        max_call_duration="10m", list={"phone_columns": ["phone"], "variables": {"CUSTOMER": "name"}})
    with running_lab(time_scale=LAB_SCALE) as lab, AmiTap(lab.host, lab.port) as tap:
        url = tap.url_for(lab.url)
        first = _run_cmd(campaign_file, url, pg_url, PREFECT_HOME)
        try:
            _wait_for(lambda: lab.active_calls() >= ANSWERED_UP or first.poll() is not None, 120, "20 calls up")
            time.sleep(1.0)  # answered (the plan's answer comes at once); the first run's calls are 2 minutes long
            assert first.poll() is None, first.communicate()[0]
            os.killpg(first.pid, signal.SIGKILL)  # the worker and everything it started, no goodbye
            killed_at = time.monotonic()
            out1 = first.communicate(timeout=10)[0]
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)
        assert first.returncode == -signal.SIGKILL, out1
        dialing = [r for r in attempts_table(pg_url) if r["status"] == "DIALING"]
        assert len(dialing) == ANSWERED_UP and lab.active_calls() == ANSWERED_UP

        # The next run: on the schedule it would come later; here as soon as the database's clock
        # says the dead run's lease lapsed (a run before that would leave the calls alone).
        _wait_for(lambda: _lease_lapsed(pg_url), LEASE_SECONDS + 30, "the dead run's lease to lapse")
        lapsed_after = time.monotonic() - killed_at
        assert lab.active_calls() == ANSWERED_UP, "the calls ended before the next run: the test proves nothing"
        monkeypatch.setenv("AUTODIALER_AMI_URL", url)
        monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
        from flows.campaign import campaign_flow

        second_started = time.monotonic()
        with caplog.at_level(logging.INFO):
            state = asyncio.run(asyncio.wait_for(campaign_flow(str(campaign_file), run_minutes=5.0, return_state=True), 600))
        out2 = caplog.text + str(state.message)
        print(f"lease lapsed {lapsed_after:.0f} s after the SIGKILL; the next run took {time.monotonic() - second_started:.0f} s")
        assert state.is_completed(), state

    rows_ = attempts_table(pg_url)
    by_id = {r["attempt_id"]: r for r in rows_}
    # Results lost 0: nothing left DIALING; every call the dead run had up is recorded as it
    # ended at the PBX (answered), followed by the next run.
    assert not [r for r in rows_ if r["status"] == "DIALING"]
    for r in dialing:
        assert by_id[r["attempt_id"]]["status"] == "ANSWERED", by_id[r["attempt_id"]]
        assert FOLLOWED_NOTE in (by_id[r["attempt_id"]]["error"] or "")
    # People who answered called again 0: one Originate and one attempt per number, over both runs.
    per_number = assert_no_double_dials(tap, pg_url, max_attempts=RETRY["max_attempts"])
    assert set(per_number.values()) == {1} and len(per_number) == len(phones)
    # Attempts counted that never rang 0: every attempt row reached the PBX.
    sent_ids = {o["ChannelId"] for o in tap.originates()}
    assert {r["attempt_id"] for r in rows_} == sent_ids
    contacts = contacts_table(pg_url)
    assert all(c["attempts"] == 1 and c["state"] == "done" and c["last_status"] == "ANSWERED" for c in contacts), contacts
    # The runs table tells the story: the dead run expired, the next one finished with its counts.
    runs = rows(pg_url, "SELECT end_reason, counts FROM runs ORDER BY started_at")
    assert [r["end_reason"] for r in runs] == ["expired", "finished"]
    assert runs[1]["counts"]["resolved"] == {"ANSWERED": ANSWERED_UP}
    assert runs[1]["counts"]["dialled"] == {"ANSWERED": 5}
    # The AMI secret is in the environment of both runs, never in what they print.
    secret = url.split(":")[2].split("@")[0]
    assert secret and secret not in out1 and secret not in out2


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_runs_racing_on_one_campaign_call_everyone_once_and_never_close_each_others_calls(tmp_path, pg_url, prefect_api,
                                                                                            monkeypatch):
    """Two runs of one campaign at once (a manual run while the scheduled one dials). The first
    run's worker clock is two hours behind (its attempts' started_at shifted back while they are
    up): the second run must still leave its live calls alone, and every contact is dialed once."""
    phones = numbers(30, digits="1")
    campaign_file = write_campaign(tmp_path / "campaign", phones, max_concurrent_calls=10, max_originates_per_second=10,
                                   max_call_duration="10m", list={"phone_columns": ["phone"], "variables": {"CUSTOMER": "name"}})
    engine = sa.create_engine(pg_url)
    with running_lab(time_scale=10.0) as lab, AmiTap(lab.host, lab.port) as tap:  # answered calls last 20 s
        monkeypatch.setenv("AUTODIALER_AMI_URL", tap.url_for(lab.url))
        monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
        from flows.campaign import campaign_flow

        async def second_when_first_is_busy():
            await asyncio.to_thread(_wait_for, lambda: lab.active_calls() >= 10, 120, "the first run's calls")
            with engine.begin() as conn:  # the first worker's clock, two hours behind
                conn.execute(sa.text("UPDATE attempts SET started_at = started_at - interval '2 hours' WHERE status = 'DIALING'"))
            return await campaign_flow(str(campaign_file), run_minutes=5.0, return_state=True)

        async def main():
            return await asyncio.gather(campaign_flow(str(campaign_file), run_minutes=5.0, return_state=True),
                                        second_when_first_is_busy())

        states = asyncio.run(asyncio.wait_for(main(), 600))
        assert all(s.is_completed() for s in states), states
    engine.dispose()
    rows_ = attempts_table(pg_url)
    assert not [r for r in rows_ if r["status"] != "ANSWERED"], rows_  # none closed under a live run
    per_number = assert_no_double_dials(tap, pg_url, max_attempts=RETRY["max_attempts"])
    assert set(per_number.values()) == {1} and len(per_number) == len(phones)
    assert {r["attempt_id"] for r in rows_} == {o["ChannelId"] for o in tap.originates()}
    runs = rows(pg_url, "SELECT end_reason, counts FROM runs")
    assert [r["end_reason"] for r in runs] == ["finished", "finished"]
    assert sum(sum(r["counts"]["dialled"].values()) for r in runs) == len(phones)

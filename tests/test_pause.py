"""The operators' pause switch (issue 16 item 6), against the lab PBX over TCP, a real
PostgreSQL and Prefect's real API.

A campaign is dialing; `autodialer pause <campaign>` is typed; the Originates the PBX receives
(counted at its door by the tap) stop within 5 s, the calls in flight complete and are
recorded, the run is not cancelled. The global switch holds it too while the campaign's own is
cleared. `autodialer resume` lets the same run go on: every contact is called exactly once, and
the run's state message says it was paused.
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time

import pytest
from tests.amitap import AmiTap
from tests.faultkit import rows

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]

CONTACTS = 12


def write_campaign(tmp_path) -> str:
    # SIM_PRESS: the lab's callee answers, presses the digit and stays on the line 21 s (scaled).
    (tmp_path / "list.csv").write_text("phone,press\n" + "".join(f"+7906700{i:03d}1,5\n" for i in range(CONTACTS)))
    path = tmp_path / "pause.yaml"
    path.write_text(textwrap.dedent(
        """\
        name: pause-test
        kind: bot
        lists: [list.csv]
        list: {phone_columns: [phone], variables: {SIM_PRESS: press}}
        schedule: {cron: "0 * * * *", timezone: UTC}
        windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
        destination: {type: context, context: from-dialer, exten: queue}
        max_concurrent_calls: 2
        max_originates_per_second: 20
        """))
    return str(path)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# A flow run of ~1 min of calls and pauses on a machine loaded by other suites.
@pytest.mark.timeout(900)
def test_pause_stops_new_calls_keeps_calls_in_flight_and_resume_goes_on(tmp_path, pg_url, prefect_api, monkeypatch):
    from autodialer.cli import main as cli
    from autodialer.lab import running_lab
    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    campaign = write_campaign(tmp_path)

    def attempts(status: str | None = None) -> int:
        sql = "select count(*) as n from attempts" + (f" where status = '{status}'" if status else "")
        return rows(pg_url, sql)[0]["n"]

    # Each answered call lasts ~4 s (21 s x 0.2, the callee hangs up first): there are calls in flight.
    with running_lab(time_scale=0.2, agents=2, agent_talk=60.0) as lab, AmiTap(lab.host, lab.port) as tap:
        monkeypatch.setenv("AUTODIALER_AMI_URL", tap.url_for(lab.url))
        result = {}
        runner = threading.Thread(target=lambda: result.update(
            state=asyncio.run(campaign_flow(campaign, run_minutes=4.0, return_state=True))))
        runner.start()
        wait_for(lambda: len(tap.originates()) >= 2, 180, "the first calls")

        assert cli(["pause", "pause-test", "--reason", "queue overloaded"]) == 0
        paused_at = time.monotonic()
        in_flight = attempts("DIALING")
        assert in_flight >= 1  # the pause lands while calls are up
        # The calls in flight complete (recorded with their real outcome) while the run is paused.
        wait_for(lambda: attempts("DIALING") == 0, 60, "the calls in flight to end")
        time.sleep(max(0.0, paused_at + 8 - time.monotonic()))
        sent = tap.action_times("Originate")
        assert all(t <= paused_at + 5 for t in sent), [round(t - paused_at, 2) for t in sent]
        held = len(sent)
        assert held < CONTACTS and attempts() == held and attempts("ANSWERED") == held
        assert runner.is_alive()  # not cancelled, not ended: waiting

        # The global switch holds every campaign: clearing the campaign's own does not resume it.
        assert cli(["pause"]) == 0
        assert cli(["resume", campaign]) == 0  # by file: the same switch as by name
        time.sleep(4)
        assert len(tap.action_times("Originate")) == held

        assert cli(["resume"]) == 0
        runner.join(timeout=240)
        assert not runner.is_alive()

    state = result["state"]
    assert state.is_completed(), state.message
    assert "paused" in state.message and "autodialer_pause_pause_test" in state.message, state.message
    assert set(tap.originates_per_number().values()) == {1} and len(tap.originates_per_number()) == CONTACTS
    assert attempts() == attempts("ANSWERED") == CONTACTS
    assert rows(pg_url, "select count(*) as n from contacts where state = 'done'")[0]["n"] == CONTACTS


def test_pause_needs_a_shared_api(monkeypatch, capsys):
    """Without PREFECT_API_URL a switch would live in a throwaway API nobody's runs read."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from autodialer.cli import main as cli

    with temporary_settings({PREFECT_API_URL: None}):
        assert cli(["pause"]) == 2
    err = capsys.readouterr().err
    assert "PREFECT_API_URL is not set" in err and "Traceback" not in err


def test_conference_honours_the_pause_switch(tmp_path, sqlite_url, prefect_api, monkeypatch):
    """A conference whose campaign is paused dials nobody, is not Failed, says it was paused and
    leaves every participant pending; resumed, the next run assembles it."""
    from autodialer.cli import main as cli
    from autodialer.lab import running_lab
    from flows.conference import conference_flow
    from tests.test_kind_conference import copy_campaign

    monkeypatch.setenv("AUTODIALER_DATABASE_URL", sqlite_url)
    campaign = str(copy_campaign(tmp_path))
    with running_lab(time_scale=0.1) as lab:
        monkeypatch.setenv("AUTODIALER_AMI_URL", lab.url)
        assert cli(["pause", campaign]) == 0
        try:
            state = asyncio.run(conference_flow(campaign, run_minutes=0.1, return_state=True))
        finally:
            assert cli(["resume", campaign]) == 0
        assert lab.originates == 0
        assert state.is_completed() and state.name == "Paused", (state.name, state.message)
        assert "paused" in state.message and "autodialer_pause_weekly_briefing" in state.message, state.message
        assert rows(sqlite_url, "select count(*) as n from contacts where attempts > 0")[0]["n"] == 0

        state = asyncio.run(conference_flow(campaign, run_minutes=1.0, return_state=True))
        assert state.is_completed() and "paused" not in state.message, state.message
        assert lab.originates > 0
        assert rows(sqlite_url, "select result from contacts where phone = '+79061234581'")[0]["result"] == "joined"

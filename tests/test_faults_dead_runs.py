"""Every flow that dials holds a lease and resolves a dead run's attempts by liveness before it
dials anyone (issue 13 item 2), not only the campaign flow: here the recall flow; and a dead
run's calls that ended while no run was alive are resolved from Asterisk's CDR.

A recall run died (its lease lapsed, by the database's clock) with two answered callbacks up
at the lab PBX, talking to operators of the queue, and a third attempt whose call is gone. The
next recall run follows the two to their end (ANSWERED), records the third UNKNOWN (retried
after a day, never in minutes) and calls back the one new missed caller. Counted by phone
number over all attempts, at the PBX's door: nobody who answered is called again.

Real durations: the callees talk 2 minutes (the lab's timings x60), the session and the lease use
the production settings. About 4 minutes: marked slow."""

from __future__ import annotations

import asyncio
import collections
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from autodialer.campaigns.campaign import load_campaign
from autodialer.config import parse_ami_url
from autodialer.lab import running_lab
from autodialer.dialer.leases import LEASE_SECONDS
from autodialer.recall.missed import MissedCall
from autodialer.recall.planner import RecallPlanner
from autodialer.dialer.recovery import FOLLOWED_NOTE
from autodialer.store import Store, runs
from autodialer.telephony.ami import AmiSession
from tests.amitap import AmiTap
from tests.faultkit import rows
from tests.test_kind_recall import write_campaign

UTC = timezone.utc
UP, GONE, NEW = "+79061234511", "+79061234521", "+79061234531"
UP2 = "+79061234541"
LAB_SCALE = 60.0  # the lab's answered call (2 s in its plan) lasts 2 minutes


def _wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


async def _dead_recall_run(campaign, store, cid, url: str, lab) -> list[str]:
    """What a recall run does before it dies: its lease, two callbacks answered and talking to
    operators, a third claimed whose call is gone. Then it stops without a word (tasks dropped,
    link cut, no result written) and its lease is left to lapse."""
    from autodialer.dialer.dialing import ContactDialer
    from autodialer.pacing.limits import CallLimiter
    from autodialer.telephony.engine import DialEngine

    runs.start_run(store, "dead-recall-run", cid, lease_seconds=LEASE_SECONDS)
    due = {c.phone: c for c in store.due_contacts(cid, now=datetime.now(UTC))}
    ami = AmiSession(parse_ami_url(url))  # production reconnect, ping and timeouts
    await ami.connect()
    engine = DialEngine(ami, outbound_context=campaign.outbound_context)
    dialer = ContactDialer(campaign, store, engine, CallLimiter(5, 20), campaign_id=cid, run_id="dead-recall-run")
    calls = [asyncio.ensure_future(dialer.attempt(due[p])) for p in (UP, UP2)]
    await asyncio.to_thread(_wait_for, lambda: sum(1 for a in lab.pbx.queues["support"].agents if a.busy) >= 2, 60,
                            "two callbacks talking to operators")
    assert store.claim_attempt(due[GONE].id, attempt_id="gone0000attempt", number=GONE, now=datetime.now(UTC),
                               max_attempts=2, run_id="dead-recall-run")
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    ami.reconnect = False
    ami.drop()
    return [c.phone for c in due.values()]


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.timeout(900)
def test_a_dead_recall_runs_answered_callbacks_are_followed_and_nobody_who_answered_is_called_again(
        tmp_path, pg_url, prefect_api, monkeypatch):
    from flows.recall import recall_flow

    campaign_file = write_campaign(tmp_path, cdr=False)
    campaign = load_campaign(campaign_file)
    store = Store(pg_url)
    store.migrate()
    cid = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())
    planner = RecallPlanner(store, campaign, cid)
    missed_at = datetime.now(UTC) - timedelta(minutes=2)
    for phone in (UP, UP2, GONE):
        assert planner.add_missed(MissedCall(phone.lstrip("+"), "support", missed_at, "ami")) == "new"

    with running_lab(time_scale=LAB_SCALE, agents=3) as lab, AmiTap(lab.host, lab.port) as tap:
        url = tap.url_for(lab.url)
        asyncio.run(asyncio.wait_for(_dead_recall_run(campaign, store, cid, url, lab), 120))
        assert [r["status"] for r in rows(pg_url, "SELECT status FROM attempts")] == ["DIALING"] * 3
        # The dead run's lease lapses (as 90 s later, by the database's clock); its calls are still up.
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE runs SET lease_expires_at = clock_timestamp() - interval '1 second'"))
        assert lab.active_calls() >= 2
        # A new missed caller for the next run to call back.
        planner.add_missed(MissedCall(NEW.lstrip("+"), "support", datetime.now(UTC), "ami"))

        monkeypatch.setenv("AUTODIALER_AMI_URL", url)
        monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
        started = time.monotonic()
        state = asyncio.run(asyncio.wait_for(recall_flow(campaign_file, run_minutes=0.3, poll_seconds=0.2,
                                                         return_state=True), 600))
        print(f"the next recall run took {time.monotonic() - started:.0f} s: {state.message}")
        assert state.is_completed(), state.message
        assert "3 callback(s) of a dead run resolved" in state.message, state.message
        assert lab.active_calls() == 0  # the followed calls ended before the run did
        sent = tap.originates()

    attempts = rows(pg_url, "SELECT a.attempt_id, a.number, a.status, a.failure, a.error, a.run_id, c.state, "
                            "c.next_attempt_at, c.attempts FROM attempts a JOIN contacts c ON c.id = a.contact_id")
    by_number = {a["number"]: a for a in attempts}
    # Results lost 0: nothing left DIALING; the two answered callbacks recorded as they ended.
    assert not [a for a in attempts if a["status"] == "DIALING"]
    for phone in (UP, UP2):
        a = by_number[phone]
        assert (a["status"], a["state"], a["run_id"]) == ("ANSWERED", "done", "dead-recall-run"), a
        assert FOLLOWED_NOTE in a["error"], a
    # The one whose call was gone: UNKNOWN (run_died), due again after a day, not in minutes.
    gone = by_number[GONE]
    assert (gone["status"], gone["failure"], gone["state"]) == ("UNKNOWN", "run_died", "pending"), gone
    assert gone["next_attempt_at"] - datetime.now(UTC) > timedelta(hours=23)
    # The new missed caller was called back by the new run.
    assert by_number[NEW]["status"] == "ANSWERED" and by_number[NEW]["run_id"] != "dead-recall-run"
    # People who answered called again 0, by phone number over all attempts and at the PBX's door.
    per_number = collections.Counter(a["number"] for a in attempts)
    assert per_number == {UP: 1, UP2: 1, GONE: 1, NEW: 1}, per_number
    at_pbx = collections.Counter(o["ChannelId"] for o in sent)
    assert len(sent) == 3 and set(at_pbx.values()) == {1}  # UP, UP2 by the dead run, NEW by the next
    # The runs table: the dead run expired, the next finished with what it resolved.
    table = rows(pg_url, "SELECT run_id, end_reason, counts FROM runs ORDER BY started_at")
    assert [r["end_reason"] for r in table] == ["expired", "finished"]
    assert table[1]["counts"]["resolved"] == {"ANSWERED": 2, "UNKNOWN": 1}
    store.close()


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.timeout(600)
def test_a_dead_runs_calls_that_ended_while_no_run_was_alive_are_resolved_from_the_cdr(tmp_path, pg_url, prefect_api,
                                                                                      monkeypatch):
    """A campaign run died with two calls out (one answered, one ringing); both ended while no
    run was alive. The lab wrote Asterisk's CDR rows (cdr_pgsql's table, uniqueid = the attempt
    id). The next campaign run, with the CDR database configured (AUTODIALER_CDR_DATABASE_URL),
    records each with its real disposition: ANSWERED (done, talk time from billsec) and NO_ANSWER
    (retried at NO_ANSWER's 10 minutes), neither UNKNOWN; nobody is dialed again."""
    from autodialer.dialer.dialing import ContactDialer
    from autodialer.pacing.limits import CallLimiter
    from autodialer.telephony.engine import DialEngine
    from flows.campaign import campaign_flow
    from tests.faultkit import load_into_store, numbers, write_campaign as write_faults_campaign

    answered, unanswered = numbers(2, digits="13")
    campaign_file = write_faults_campaign(tmp_path / "c", [answered, unanswered], max_call_duration="10m",
                                          list={"phone_columns": ["phone"], "variables": {"CUSTOMER": "name"}})
    campaign, store, cid = load_into_store(campaign_file, pg_url)

    async def dead_run(url, lab):
        runs.start_run(store, "dead-run", cid, lease_seconds=LEASE_SECONDS)
        ami = AmiSession(parse_ami_url(url))
        await ami.connect()
        engine = DialEngine(ami, outbound_context=campaign.outbound_context)
        dialer = ContactDialer(campaign, store, engine, CallLimiter(5, 20), campaign_id=cid, run_id="dead-run")
        due = await asyncio.to_thread(store.due_contacts, cid, now=datetime.now(UTC))
        calls = [asyncio.ensure_future(dialer.attempt(c)) for c in due]
        await asyncio.to_thread(_wait_for, lambda: lab.active_calls() == 2, 30, "both calls out")
        for call in calls:  # the worker dies: nothing more is read or written
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        ami.reconnect = False
        ami.drop()

    with running_lab(time_scale=2.0, cdr_url=pg_url) as lab, AmiTap(lab.host, lab.port) as tap:  # 4 s of talk, 30 s of ring
        url = tap.url_for(lab.url)
        asyncio.run(asyncio.wait_for(dead_run(url, lab), 60))
        assert lab.active_calls() == 2  # still up when the run died
        _wait_for(lambda: lab.active_calls() == 0, 120, "both calls to end, with no run alive")
        _wait_for(lambda: len(rows(pg_url, "SELECT uniqueid FROM cdr")) >= 4, 10, "the CDR rows (two legs a call)")
        with store.engine.begin() as conn:  # 90 s later: the dead run's lease has lapsed
            conn.execute(sa.text("UPDATE runs SET lease_expires_at = clock_timestamp() - interval '1 second'"))
        monkeypatch.setenv("AUTODIALER_AMI_URL", url)
        monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
        monkeypatch.setenv("AUTODIALER_CDR_DATABASE_URL", pg_url)
        state = asyncio.run(asyncio.wait_for(campaign_flow(str(campaign_file), run_minutes=2.0, return_state=True), 400))
        assert state.is_completed(), state.message
        sent = tap.originates()

    attempts = {a["number"]: a for a in rows(pg_url, "SELECT a.number, a.status, a.error, a.talk_seconds, a.run_id, c.state, "
                                                     "c.next_attempt_at FROM attempts a JOIN contacts c ON c.id = a.contact_id")}
    assert len(attempts) == 2 and len(sent) == 2  # one attempt, one Originate per number: nobody dialed again
    a, u = attempts[answered], attempts[unanswered]
    assert (a["status"], a["state"], a["run_id"]) == ("ANSWERED", "done", "dead-run"), a
    assert "CDR says ANSWERED" in a["error"] and 2 <= a["talk_seconds"] <= 8, a  # billsec: ~4 s
    assert (u["status"], u["state"]) == ("NO_ANSWER", "pending"), u
    assert "CDR says NO ANSWER" in u["error"], u
    assert u["next_attempt_at"] - datetime.now(UTC) < timedelta(minutes=11)  # NO_ANSWER's 10 min, not UNKNOWN's day
    table = rows(pg_url, "SELECT end_reason, counts FROM runs ORDER BY started_at")
    assert [r["end_reason"] for r in table] == ["expired", "finished"]
    assert table[1]["counts"]["resolved"] == {"ANSWERED": 1, "NO_ANSWER": 1}
    store.close()

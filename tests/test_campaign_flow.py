"""The campaign flow end to end: the lab PBX over TCP, a real PostgreSQL, Prefect's real API.

One run dials every due contact, retries a retryable outcome inside the run after the policy's
delay, hands a long retry back to the database schedule, records every attempt, and a second
run dials nobody who is not due.
"""

from __future__ import annotations

import asyncio
import textwrap
from datetime import timedelta

import pytest
from tests.faultkit import rows

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]

LIST = """\
phone,name,order_id,press
+79061234517,Anna,1,1
89061234521,Boris,2,2
79061234537,Clara,3,3
79061234511,Dmitry,4,
79061234562,Elena,5,
79061234573,Fyodor,6,
79061234595,Igor,7,
79061234517,Anna again,1,1
12345,Bad,8,
"""


def write_campaign(tmp_path, **overrides) -> str:
    (tmp_path / "list.csv").write_text(LIST)
    text = textwrap.dedent(
        """\
        name: flow-test
        kind: order_confirmation
        default_region: RU
        lists: [list.csv]
        list:
          phone_columns: [phone]
          variables: {CUSTOMER: name, ORDER_ID: order_id, SIM_PRESS: press}
        schedule: {cron: "0 * * * *", timezone: UTC}
        windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
        retry:
          max_attempts: 4
          outcomes:
            BUSY: {interval: 2s, max_attempts: 2}
            NO_ANSWER: {interval: 1h, max_attempts: 2}
        destination: {type: robot, queue: support}
        caller_ids: ["+74950000001", "+74950000002"]
        max_concurrent_calls: 4
        max_originates_per_second: 20
        ring_timeout: 20s
        """
    )
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    return str(path)


def test_campaign_run_dials_retries_and_records(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    campaign = write_campaign(tmp_path)

    state = asyncio.run(campaign_flow(campaign, run_minutes=1.0, return_state=True))
    assert state.is_completed(), state.message

    contacts = {r["phone"]: r for r in rows(pg_url, "select phone, state, attempts, last_status, result, next_attempt_at from contacts")}
    assert set(contacts) == {"+79061234517", "+79061234521", "+79061234537", "+79061234511", "+79061234562",
                             "+79061234573", "+79061234595"}
    assert contacts["+79061234517"]["result"] == "confirmed"
    assert contacts["+79061234521"]["result"] == "cancelled"
    assert contacts["+79061234537"]["result"] == "operator"
    assert contacts["+79061234511"]["result"] == "no_input"
    # BUSY: retried once inside the run after the 2 s policy delay, then its limit (2) is reached.
    assert (contacts["+79061234562"]["attempts"], contacts["+79061234562"]["state"]) == (2, "done")
    # NO_ANSWER: the 1 h retry is past the run, so it is handed back to the database schedule.
    na = contacts["+79061234573"]
    assert (na["attempts"], na["state"], na["last_status"]) == (1, "pending", "NO_ANSWER")
    assert contacts["+79061234595"]["last_status"] == "INVALID_NUMBER"
    assert contacts["+79061234595"]["state"] == "done"

    attempts = rows(pg_url, "select number, status, cause, caller_id, started_at, ended_at from attempts order by started_at")
    assert len(attempts) == 8 == lab_pbx.originates  # every originate the PBX saw is one attempt row, and back
    busy = [a for a in attempts if a["number"] == "+79061234562"]
    assert [a["status"] for a in busy] == ["BUSY", "BUSY"] and busy[0]["cause"] == 17
    assert busy[1]["started_at"] - busy[0]["ended_at"] >= timedelta(seconds=2)  # the policy's delay was honoured
    assert {a["caller_id"] for a in attempts} == {"+74950000001", "+74950000002"}  # rotated
    assert {a["status"] for a in attempts} >= {"ANSWERED", "BUSY", "NO_ANSWER", "INVALID_NUMBER"}
    na_next = na["next_attempt_at"]
    na_end = next(a["ended_at"] for a in attempts if a["number"] == "+79061234573")
    assert timedelta(minutes=59) < na_next - na_end <= timedelta(hours=1, seconds=1)

    # A second run right away: the list is already loaded, nobody is due, nothing is dialed.
    state = asyncio.run(campaign_flow(campaign, run_minutes=1.0, return_state=True))
    assert state.is_completed()
    assert lab_pbx.originates == 8
    assert rows(pg_url, "select count(*) as n from contacts")[0]["n"] == 7
    summary = rows(pg_url, "select contacts, done, pending, busy, no_answer from campaign_summary where campaign = 'flow-test'")[0]
    assert summary == {"contacts": 7, "done": 6, "pending": 1, "busy": 1, "no_answer": 1}


def test_window_closed_means_nobody_is_dialed(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    campaign = write_campaign(tmp_path)
    text = open(campaign).read().replace('{days: daily, start: "00:00", end: "23:59:59"}', '{days: daily, start: "00:00", end: "00:00:01"}')
    open(campaign, "w").write(text)
    state = asyncio.run(campaign_flow(campaign, run_minutes=1.0, return_state=True))
    assert state.is_completed()
    assert lab_pbx.originates == 0
    assert rows(pg_url, "select count(*) as n from attempts")[0]["n"] == 0
    assert rows(pg_url, "select count(*) as n from contacts where state = 'pending'")[0]["n"] == 7


def test_campaign_spreads_over_two_asterisk_servers(tmp_path, pg_url, prefect_api, monkeypatch):
    """One campaign, two PBXes (one asterisk-ami block each): both get calls, every contact once."""
    from autodialer.lab import running_lab
    from blocks.asterisk import AsteriskAMI
    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    monkeypatch.delenv("AUTODIALER_AMI_URL", raising=False)
    (tmp_path / "list.csv").write_text("phone\n" + "".join(f"+7906100{i:03d}1\n" for i in range(12)))
    campaign = tmp_path / "spread.yaml"
    campaign.write_text(textwrap.dedent(
        """\
        name: spread-test
        kind: bot
        lists: [list.csv]
        schedule: {cron: "0 * * * *", timezone: UTC}
        windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
        destination: {type: context, context: from-dialer}
        max_concurrent_calls: 6
        max_originates_per_second: 50
        """
    ))
    with running_lab(time_scale=0.02) as lab_a, running_lab(time_scale=0.02) as lab_b:
        for name, lab in (("pbx-a", lab_a), ("pbx-b", lab_b)):
            AsteriskAMI.from_url(lab.url).save(name, overwrite=True)
        state = asyncio.run(campaign_flow(str(campaign), ami_blocks=["pbx-a", "pbx-b"], run_minutes=1.0, return_state=True))
        assert state.is_completed(), state.message
        assert lab_a.originates > 0 and lab_b.originates > 0
        assert lab_a.originates + lab_b.originates == 12
    done = rows(pg_url, "select count(*) as n from contacts where state = 'done' and last_status = 'ANSWERED'")
    assert done[0]["n"] == 12


def test_progressive_campaign_never_has_more_calls_than_free_operators(tmp_path, pg_url, prefect_api, monkeypatch):
    """`pacing: progressive` through the flow: calls in flight never exceed the queue's free
    operators, counted by an independent AMI listener on the dialer's own channels."""
    from autodialer.config import parse_ami_url
    from autodialer.lab import running_lab
    from autodialer.telephony.ami import AmiSession
    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    (tmp_path / "list.csv").write_text("phone\n" + "".join(f"+7906300{i:03d}1\n" for i in range(8)))
    campaign = tmp_path / "progressive.yaml"
    campaign.write_text(textwrap.dedent(
        """\
        name: progressive-test
        kind: bot
        lists: [list.csv]
        schedule: {cron: "0 * * * *", timezone: UTC}
        windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
        destination: {type: queue, queue: support}
        pacing: {mode: progressive, queue: support, max_channels: 8, max_originates_per_second: 100}
        """
    ))
    with running_lab(time_scale=0.02, agents=2, agent_talk=40.0) as lab:
        monkeypatch.setenv("AUTODIALER_AMI_URL", lab.url)

        async def main():
            in_flight, peak = set(), [0]

            def on_event(event):
                name, channel = event.get("Event"), event.get("Channel", "")
                if "@dialer-outbound-" not in channel or not channel.endswith(";1"):
                    return
                if name == "Newchannel":
                    in_flight.add(channel)
                    peak[0] = max(peak[0], len(in_flight))
                elif name == "Hangup":
                    in_flight.discard(channel)

            async with AmiSession(parse_ami_url(lab.url)) as watcher:
                watcher.subscribe("*", on_event)
                state = await campaign_flow(str(campaign), run_minutes=1.0, return_state=True)
            return state, peak[0]

        state, peak = asyncio.run(main())
    assert state.is_completed(), state.message
    assert 1 <= peak <= 2, f"{peak} calls at once with 2 operators"
    answered = rows(pg_url, "select count(*) as n from attempts where status = 'ANSWERED'")[0]["n"]
    assert answered == 8
    assert "progressive pacing: abandoned 0/8 live-answered (0.0%, cap 3%)" in state.message, state.message


def test_a_predictive_run_starts_from_the_window_and_what_the_runs_before_it_learned(tmp_path, sqlite_url, lab_pbx, monkeypatch):
    """The campaign's pacer (autodialer.dialer.run.paced) seeds its abandonment window from the store:
    a run an hour after one that used up the cap does not over-dial; calls older than the
    window do not count."""
    from datetime import datetime, timezone

    from autodialer.campaigns.campaign import load_campaign
    from autodialer.telephony.outcomes import CallResult, CallStatus
    from autodialer.store import Store
    from autodialer.telephony.pool import ConnectedPool
    from autodialer.dialer.run import paced
    from flows.resources import ami_servers_from

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    (tmp_path / "list.csv").write_text("phone\n" + "".join(f"+7906400{i:03d}1\n" for i in range(40)))
    path = tmp_path / "predictive.yaml"
    path.write_text(textwrap.dedent(
        """\
        name: predictive-window
        kind: bot
        lists: [list.csv]
        schedule: {cron: "0 * * * *", timezone: UTC}
        windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
        destination: {type: queue, queue: support}
        pacing: {mode: predictive, queue: support, window: 24h}
        """
    ))
    campaign = load_campaign(path)
    store = Store(sqlite_url)
    store.migrate()
    cid = store.ensure_campaign(campaign.name, kind=campaign.kind)
    store.import_list(cid, tmp_path / "list.csv", campaign.list_settings())
    now = datetime.now(timezone.utc)
    for i, contact in enumerate(store.due_contacts(cid, now=now)):
        at = now - timedelta(hours=2 if i < 34 else 30)  # 34 in the window, 1 of them abandoned; 6 older
        assert store.claim_attempt(contact.id, attempt_id=f"h{i}", number=contact.phone, now=at, max_attempts=3)
        status = CallStatus.ABANDONED if i in (0, 35, 36) else CallStatus.ANSWERED
        store.finish_attempt(CallResult(attempt_id=f"h{i}", number=contact.phone, status=status, answered_at=at,
                                        ended_at=at + timedelta(seconds=30)),
                             contact_state="done", next_attempt_at=None, contact_result=None)

    async def run_once():
        servers = await ami_servers_from(None, campaign)
        async with ConnectedPool(servers) as engines, paced(campaign, 10, engines, store, cid) as pacer:
            return pacer.controller, pacer.controller.window.counts(), pacer.controller.overdial_allowed()

    first, (answered, abandoned), overdial = asyncio.run(run_once())
    assert (answered, abandoned) == (34, 1)
    assert not overdial  # 3% of 34 is 1.02: the one abandoned call used the room up
    # What the run learned is kept for the next run of the campaign, which starts from it.
    queue, state, _ = store.load_pacing_state(cid)
    assert queue == "support" and state == first.snapshot()
    state["ends"] = [[20.0, "answered"]] + [[40.0, "ended"]] * 3
    state["ends"] *= 20
    state["gain"] = 0.42
    store.save_pacing_state(cid, "support", state)
    second, _, _ = asyncio.run(run_once())
    assert second.gain == 0.42 and second.answer_rate < 0.27  # measured 25%, not the 30% prior
    # A state from another queue is not used.
    store.save_pacing_state(cid, "sales", state)
    third, _, _ = asyncio.run(run_once())
    store.close()
    assert third.gain == 0.3

"""Recall of missed calls: missed callers from the lab PBX's queue (AMI) and from a real `cdr`
table in PostgreSQL, the planner's rules, and the long-running flow calling back only while the
queue has a free operator."""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from autodialer.campaigns.campaign import load_campaign
from blocks.asterisk import CdrDatabase
from autodialer.recall.missed import GotThrough, MissedCall, read_cdr
from autodialer.recall.planner import RecallPlanner
from tests.faultkit import rows

UTC = timezone.utc

# cdr_pgsql's table, as Asterisk's contrib/scripts create it.
CDR_DDL = """
CREATE TABLE cdr (
  calldate timestamptz NOT NULL DEFAULT now(), clid varchar(80) NOT NULL DEFAULT '',
  src varchar(80) NOT NULL DEFAULT '', dst varchar(80) NOT NULL DEFAULT '', dcontext varchar(80) NOT NULL DEFAULT '',
  channel varchar(80) NOT NULL DEFAULT '', dstchannel varchar(80) NOT NULL DEFAULT '',
  lastapp varchar(80) NOT NULL DEFAULT '', lastdata varchar(80) NOT NULL DEFAULT '',
  duration bigint NOT NULL DEFAULT 0, billsec bigint NOT NULL DEFAULT 0, disposition varchar(45) NOT NULL DEFAULT '',
  amaflags bigint NOT NULL DEFAULT 0, accountcode varchar(20) NOT NULL DEFAULT '', uniqueid varchar(150) NOT NULL DEFAULT '',
  userfield varchar(255) NOT NULL DEFAULT ''
)"""


def cdr_row(src, at, *, bridged=False, queue="support", context="from-pstn", uid=None):
    return {"calldate": at, "clid": f'"" <{src}>', "src": src, "dst": queue, "dcontext": context,
            "channel": f"PJSIP/trunk-{uid or src}", "dstchannel": "Local/agent1@sim-agents-0001;1" if bridged else "",
            "lastapp": "Queue", "lastdata": f"{queue},,,,60", "duration": 40, "billsec": 30 if bridged else 0,
            "disposition": "ANSWERED", "uniqueid": uid or f"{src}.{at.timestamp():.0f}"}


def insert_cdr(url, rows):
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if not sa.inspect(conn).has_table("cdr"):
                conn.execute(sa.text(CDR_DDL))
            for r in rows:
                conn.execute(sa.text("INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, "
                                     "lastdata, duration, billsec, disposition, uniqueid) VALUES (:calldate, :clid, :src, "
                                     ":dst, :dcontext, :channel, :dstchannel, :lastapp, :lastdata, :duration, :billsec, "
                                     ":disposition, :uniqueid)"), r)
    finally:
        engine.dispose()


def write_campaign(tmp_path, *, cdr: bool = True, direction: str = "client_first") -> str:
    text = textwrap.dedent(f"""\
        name: recall-test
        kind: recall
        default_region: RU
        recall: {{queues: [support], delay: 0s, within: 30m, period: day, cdr: {str(cdr).lower()}, cdr_poll: 0.5s}}
        schedule: {{cron: "0 9 * * *", timezone: Europe/Moscow}}
        windows: {{windows: [{{days: daily, start: "00:00", end: "23:59:59"}}]}}
        retry: {{max_attempts: 2, outcomes: {{BUSY: {{interval: 1h, max_attempts: 2}}}}}}
        destination: {{type: queue, queue: support, context: dialer-recall}}
        direction: {direction}
        max_concurrent_calls: 5
        max_originates_per_second: 20
        ring_timeout: 15s
        """)
    path = tmp_path / "recall.yaml"
    path.write_text(text)
    return str(path)


def planner_for(tmp_path, url):
    from autodialer.store import Store

    store = Store(url)
    store.migrate()
    campaign = load_campaign(write_campaign(tmp_path))
    cid = store.ensure_campaign(campaign.name, kind=campaign.kind)
    return store, RecallPlanner(store, campaign, cid), cid


def test_cdr_rows_become_missed_and_got_through_calls(tmp_path, pg_url):
    now = datetime.now(UTC).replace(microsecond=0)
    insert_cdr(pg_url, [
        cdr_row("79061234501", now - timedelta(minutes=10)),  # missed
        cdr_row("79061234502", now - timedelta(minutes=9)),  # missed, then got through
        cdr_row("79061234502", now - timedelta(minutes=5), bridged=True),
        cdr_row("79061234503", now - timedelta(minutes=8), queue="sales"),  # another queue
        cdr_row("anonymous", now - timedelta(minutes=7)),  # no number to call
        cdr_row("79061234504", now - timedelta(hours=3)),  # before the window read
    ])
    engine = sa.create_engine(pg_url)
    try:
        missed, through = read_cdr(engine, now - timedelta(hours=1), queues=["support"])
    finally:
        engine.dispose()
    assert [(m.number, m.queue, m.source) for m in missed] == [("79061234501", "support", "cdr"), ("79061234502", "support", "cdr")]
    assert [g.number for g in through] == ["79061234502"]

    store, planner, cid = planner_for(tmp_path, pg_url)
    assert [planner.add_missed(m) for m in missed] == ["new", "new"]
    assert planner.got_through(through[0]) == 1
    contacts = {r["phone"]: r for r in rows(pg_url, "select phone, state, result, variables, next_attempt_at from contacts")}
    assert contacts["+79061234501"]["state"] == "pending" and contacts["+79061234501"]["result"] is None
    assert contacts["+79061234502"]["state"] == "done" and contacts["+79061234502"]["result"] == "got_through"
    assert '"QUEUE": "support"' in str(contacts["+79061234501"]["variables"]).replace("'", '"')


def test_planner_one_recall_per_number_per_period(tmp_path, pg_url):
    import autodialer.store.schema as t

    store, planner, cid = planner_for(tmp_path, pg_url)
    day = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    miss = lambda at, n="79061234511": MissedCall(n, "support", at, "ami")  # noqa: E731
    assert planner.add_missed(miss(day)) == "new"
    assert planner.add_missed(miss(day + timedelta(minutes=5))) == "already queued"
    assert planner.add_missed(MissedCall("12345", "support", day, "ami")) == "not a valid number"
    # Got through *before* the miss: the miss still needs its callback.
    assert planner.got_through(GotThrough("79061234511", day - timedelta(minutes=1), "ami")) == 0
    # Called back (done) the same day: a new miss that day adds nothing; the next day reopens it.
    with store.engine.begin() as conn:
        conn.execute(t.contacts.update().values(state="done", attempts=1, result="answered"))
    assert planner.add_missed(miss(day + timedelta(hours=3))) == "already recalled this period"
    assert planner.add_missed(miss(day + timedelta(days=1))) == "reopened"
    c = rows(pg_url, "select state, attempts, result, next_attempt_at from contacts")[0]
    assert (c["state"], c["attempts"], c["result"]) == ("pending", 0, None)
    assert c["next_attempt_at"] == day + timedelta(days=1)  # delay 0 s
    # Not called back within 30 min: dropped.
    assert planner.expire(day + timedelta(days=1, minutes=29)) == 0
    assert planner.expire(day + timedelta(days=1, minutes=31)) == 1
    assert rows(pg_url, "select state, result from contacts") == [{"state": "done", "result": "expired"}]
    # The period is the campaign's day (Europe/Moscow): 23:30 and 00:30 Moscow are two days.
    assert planner.period_start(datetime(2026, 11, 27, 21, 30, tzinfo=UTC)) == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


@pytest.mark.prefect
def test_recall_flow_calls_back_only_while_an_operator_is_free(tmp_path, pg_url, prefect_api, monkeypatch):
    """One agent, busy for 60 lab-seconds with caller A. B abandons the queue (AMI), C abandons
    twice, D is a missed call in the CDR table only. Nobody is called back while the agent is
    busy; then B, C and D are called back one at a time (one free operator), each once."""
    from autodialer.lab import running_lab
    from flows.recall import recall_flow

    with running_lab(time_scale=0.05, agents=1, agent_talk=60.0) as lab:
        monkeypatch.setenv("AUTODIALER_AMI_URL", lab.url)
        monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
        campaign = write_campaign(tmp_path)
        observed = {}

        def drive():
            deadline = time.monotonic() + 30
            while not lab.pbx.sessions and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # the flow is listening (monitor synced)
            lab.inbound_call("79061234591")  # A: answered by the only agent (busy 60 s = 3 s real)
            time.sleep(0.1)
            lab.inbound_call("79061234511", abandon_after=2)  # B gives up
            lab.inbound_call("79061234521", abandon_after=2)  # C gives up ...
            time.sleep(0.2)
            lab.inbound_call("79061234521", abandon_after=2)  # ... and again
            insert_cdr(pg_url, [cdr_row("79061234541", datetime.now(UTC) - timedelta(seconds=30))])  # D, CDR only
            time.sleep(0.6)  # the CDR table was read meanwhile (every 0.5 s)
            observed["while_busy"] = lab.pbx.originates
            observed["agent_busy"] = [a.busy for a in lab.pbx.queues["support"].agents]  # still talking to A

        driver = threading.Thread(target=drive)
        driver.start()
        state = asyncio.run(recall_flow(campaign, run_minutes=0.15, cdr_database=CdrDatabase.from_url(pg_url), poll_seconds=0.2,
                                        return_state=True))
        driver.join()
        assert state.is_completed(), state.message
        assert not lab.pbx.errors
        assert observed["agent_busy"] == [True] and observed["while_busy"] == 0

        contacts = {r["phone"]: r for r in rows(pg_url, "select phone, state, attempts, last_status, result, variables from contacts")}
        assert set(contacts) == {"+79061234511", "+79061234521", "+79061234541"}
        for phone, c in contacts.items():
            assert (c["state"], c["attempts"], c["last_status"]) == ("done", 1, "ANSWERED"), phone
        sources = {p: c["variables"]["MISSED_SOURCE"] for p, c in contacts.items()}
        assert sources == {"+79061234511": "ami", "+79061234521": "ami", "+79061234541": "cdr"}
        attempts = rows(pg_url, "select number, started_at, ended_at, events from attempts order by started_at")
        assert len(attempts) == 3 == lab.pbx.originates
        # One free operator: each callback starts after the previous one ended.
        for earlier, later in zip(attempts, attempts[1:]):
            assert later["started_at"] >= earlier["ended_at"]
        # Every callback reached the operator (no DialerQueue: the queue never timed out).
        assert not any(e.get("UserEvent") == "DialerQueue" for a in attempts for e in a["events"])
        assert lab.pbx.queues["support"].completed == 4  # A plus three callbacks


@pytest.mark.prefect
def test_recall_operator_first_rings_the_queue_then_the_client(tmp_path, pg_url, prefect_api, monkeypatch):
    """direction operator_first: the first leg waits in the queue until an operator takes it,
    then the client is rung (dialer-callback); a busy client is a BUSY attempt, retried later."""
    from autodialer.lab import running_lab
    from flows.recall import recall_flow

    now = datetime.now(UTC)
    insert_cdr(pg_url, [cdr_row("79061234551", now - timedelta(minutes=1)), cdr_row("79061234552", now - timedelta(minutes=1))])
    with running_lab(time_scale=0.05, agents=1, agent_talk=5.0) as lab:
        monkeypatch.setenv("AUTODIALER_AMI_URL", lab.url)
        monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
        campaign = write_campaign(tmp_path, direction="operator_first")
        state = asyncio.run(recall_flow(campaign, run_minutes=0.08, cdr_database=CdrDatabase.from_url(pg_url), poll_seconds=0.2,
                                        return_state=True))
        assert state.is_completed(), state.message
        assert not lab.pbx.errors
        contacts = {r["phone"]: r for r in rows(pg_url, "select phone, state, attempts, last_status, result from contacts")}
        assert contacts["+79061234551"] == {"phone": "+79061234551", "state": "done", "attempts": 1,
                                            "last_status": "ANSWERED", "result": "connected"}
        busy = contacts["+79061234552"]
        assert (busy["state"], busy["attempts"], busy["last_status"], busy["result"]) == ("pending", 1, "BUSY", "client_busy")
        attempts = rows(pg_url, "select number, channel from attempts order by started_at")
        assert len(attempts) == 2 == lab.pbx.originates
        for a in attempts:
            assert a["channel"].startswith(f"Local/{a['number']}@dialer-queue-first-")  # the queue first
        assert lab.pbx.queues["support"].completed == 2  # the operator took both


def test_operator_first_with_no_operator_taking_it_never_dialed_the_client():
    """direction operator_first through OperatorFirstEngine, no agent in the queue: the first leg
    waits in dialer-queue-first unanswered until the ring timeout, dialer-callback never runs, the
    client's number is never dialed. The attempt is the first leg's NO_ANSWER with the failure
    kind operator_unanswered, which counts against none of the client's contact-frequency limits
    (outcomes.reached_callee; it used to count: a plain NO_ANSWER)."""
    from autodialer.kinds.callback import OperatorFirstEngine
    from autodialer.config import parse_ami_url
    from autodialer.lab import running_lab
    from autodialer.telephony.outcomes import CallStatus, FailureKind, reached_callee
    from autodialer.telephony.ami import AmiSession
    from autodialer.telephony.contract import CallSpec
    from autodialer.telephony.engine import DialEngine

    with running_lab(time_scale=0.02, agents=0) as lab:
        async def main():
            async with AmiSession(parse_ami_url(lab.url)) as ami:
                engine = OperatorFirstEngine(DialEngine(ami), client_ring=15)
                return await engine.place(CallSpec("79061234561", context="dialer-recall", exten="s",
                                                   variables={"QUEUE": "support"}, ring_timeout=15))

        call = asyncio.run(main())
        assert any(e.context == "dialer-queue-first" and e.name == "Queue" for e in lab.trace)  # it waited there
        assert not [e for e in lab.trace if "@dialer-outbound" in e.channel]  # the client's leg never ran
    assert (call.status, call.failure) == (CallStatus.NO_ANSWER, FailureKind.OPERATOR_UNANSWERED)
    assert call.channel.startswith("Local/79061234561@dialer-queue-first-")
    assert not reached_callee(call.status, call.failure)

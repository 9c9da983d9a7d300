"""AMI outages of real length mid-campaign, with the production session and engine settings
(AmiSession and DialEngine defaults: reconnect 0.5 s doubling to 30 s, ping 20 s, action and
connect timeouts 10 s, result grace 5 s, outage patience 15 min; the dialer waits 30 s for a
link before it gives an attempt back). The lab runs in real time (time scale 1); only the
callees' talk times are the lab's (random mode, seeded). Calls are answered, ringing and
queued for a slot when the link goes.

Each test measures, by phone number over all attempts (a second pass dials what is due an hour
later, as the next runs would), against what the PBX really did (the lab's record):
- results lost: attempts left open, or answered calls recorded as anything but answered/UNKNOWN;
- people who answered called again;
- attempts counted that never rang (the PBX never started them).
`python -m pytest -m slow tests/test_faults_ami_outage.py -s` prints the figures (README fault table).
"""

from __future__ import annotations

import asyncio
import collections
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from autodialer.config import parse_ami_url
from autodialer.lab import running_lab
from autodialer.lab.options import LabOptions
from autodialer.lab.threaded import ThreadedLab
from autodialer.telephony.outcomes import CallStatus
from autodialer.telephony.ami import AmiSession
from autodialer.telephony.cdr import CdrReader
from tests.amitap import AmiTap
from tests.faultkit import attempts_table, dial_due, load_into_store, numbers, rows, write_campaign

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

ANSWERED_LIKE = {"ANSWERED", "ABANDONED", "MACHINE"}


SHORT_TALK = dict(talk_min=3.0, talk_mean=3.0, talk_max=3.0)


def lab_options(**kw) -> dict:
    """Callees: 55% answer after 2-10 s and talk as `talk_*` says, 25% never answer (they ring
    to the 15 s ring timeout), 10% busy, the rest congestion or unallocated. Agents never end a
    call. Once the link is back, new calls talk 3 s (the lab's durations, never the dialer's
    deadlines, are what keeps a test short)."""
    opts = dict(time_scale=1.0, mode="random", seed=13, answer_rate=0.55, busy_rate=0.1, no_answer_rate=0.25,
                congestion_rate=0.05, ring_min=2.0, ring_max=10.0, talk_mean=60.0, talk_min=20.0, talk_max=100.0,
                agents=40, agent_talk=3600.0)
    opts.update(kw)
    return opts


def shorten_talk(lab) -> None:
    for k, v in SHORT_TALK.items():
        setattr(lab.pbx.options, k, v)


def campaign_for(tmp_path, pg_url, n=16):
    return load_into_store(write_campaign(
        tmp_path, numbers(n, digits="1"), destination={"type": "queue", "queue": "support"},
        max_concurrent_calls=10, max_originates_per_second=1, ring_timeout="15s", max_call_duration="10m"), pg_url)


def production_session(url: str) -> AmiSession:
    return AmiSession(parse_ami_url(url))  # the production reconnect, ping and timeout settings


def figures(pg_url: str, started: set[str], answered: dict[str, bool]) -> dict:
    """The three figures (and the outcome mix) by phone number over all attempts."""
    table = rows(pg_url, "SELECT attempt_id, number, status, failure, started_at FROM attempts ORDER BY started_at")
    by_number = collections.defaultdict(list)
    for r in table:
        by_number[r["number"]].append(r)
    lost = [r for r in table if r["status"] == "DIALING"
            or (answered.get(r["attempt_id"]) and r["status"] not in ANSWERED_LIKE | {"UNKNOWN"})]
    called_again = [n for n, atts in by_number.items()
                    if any(answered.get(a["attempt_id"]) for a in atts[:-1])]  # an answered attempt, then another
    never_rang = [r for r in table if r["status"] != "NOT_SENT" and r["attempt_id"] not in started]
    mix = collections.Counter((r["status"], r["failure"]) for r in table)
    return {"attempts": len(table), "results_lost": len(lost), "answered_called_again": len(called_again),
            "counted_never_rang": len(never_rang), "mix": dict(mix), "_lost": lost, "_again": called_again,
            "_never": never_rang}


def assert_figures(f: dict) -> None:
    print({k: v for k, v in f.items() if not k.startswith("_")})
    assert f["results_lost"] == 0, f["_lost"]
    assert f["answered_called_again"] == 0, f["_again"]
    assert f["counted_never_rang"] == 0, f["_never"]


async def _cut_when_busy(engine, tap, lab, seconds: float, box: dict):
    """Cut the link once calls are answered and ringing and more contacts are still to come; once
    the session is back, new calls are short."""
    while True:
        calls = list(engine._calls.values())
        if sum(c.answered_at is not None for c in calls) >= 2 and sum(c.answered_at is None for c in calls) >= 1:
            break
        await asyncio.sleep(0.05)
    box["in_flight"] = len(calls)
    box["cut_at"] = time.monotonic()
    tap.cut(seconds)
    await asyncio.sleep(seconds)
    while not engine.session.connected:
        await asyncio.sleep(0.05)
    box["link_back_after"] = round(time.monotonic() - box["cut_at"], 1)
    shorten_talk(lab)


def _outage(tmp_path, pg_url, seconds: float, *, with_cdr: bool, **lab_kw):
    lab_kw = lab_options(cdr_url=pg_url if with_cdr else None, **lab_kw)
    with running_lab(**lab_kw) as lab, AmiTap(lab.host, lab.port) as tap:
        campaign, store, cid = campaign_for(tmp_path, pg_url)
        url = tap.url_for(lab.url)
        box: dict = {}

        async def main():
            cdr = CdrReader(sa.create_engine(pg_url)) if with_cdr else None
            async with production_session(url) as ami:
                first = await dial_due(campaign, store, cid, ami, result_grace=5.0, cdr=cdr,
                                       during=lambda engine: _cut_when_busy(engine, tap, lab, seconds, box))
                # The next runs: whatever is due within the hour (busy, no answer, not sent ...).
                second = await dial_due(campaign, store, cid, ami, result_grace=5.0, cdr=cdr,
                                        now=datetime.now(timezone.utc) + timedelta(hours=1))
                return first, second, ami.disconnects

        first, second, disconnects = asyncio.run(main())
        store.close()
        started, answered = set(lab.started_ids), dict(lab.ended_answered)
    assert disconnects >= 1 and box["in_flight"] >= 3
    f = figures(pg_url, started, answered)
    f["in_flight_at_cut"] = box["in_flight"]
    f["link_back_after_s"] = box["link_back_after"]
    f["second_pass"] = len(second)
    return f, first


def test_ami_link_cut_for_30_seconds_mid_campaign_without_a_cdr(tmp_path, pg_url):
    """No CDR database: calls that ended unseen (the ringing ones) are UNKNOWN, retried after a
    day; answered calls still up are followed to their end; contacts whose turn came while the
    link was down waited 30 s for it and were given back."""
    f, first = _outage(tmp_path, pg_url, 30.0, with_cdr=False)
    assert_figures(f)
    assert not [o for o in first if o.result.status is CallStatus.FAILED and o.result.failure is not None]
    assert f["mix"].get(("UNKNOWN", "unknown"), 0) >= 1, f["mix"]


def test_ami_link_cut_for_3_minutes_mid_campaign_with_the_cdr(tmp_path, pg_url):
    """With the CDR database: calls that ended during the outage get their real outcome from it
    (answered: done; no answer or busy: retried at that outcome's interval)."""
    f, first = _outage(tmp_path, pg_url, 180.0, with_cdr=True, talk_min=60.0, talk_mean=150.0, talk_max=240.0)
    assert_figures(f)
    assert not [o for o in first if o.result.status in (CallStatus.FAILED, CallStatus.UNKNOWN) and o.result.failure]
    assert any(o.result.error and "the CDR says" in o.result.error for o in first), f["mix"]
    # queued contacts waited 30 s for the link, were given back, and counted against nobody
    assert f["mix"].get(("NOT_SENT", "not_sent"), 0) >= 1, f["mix"]


def test_lab_restarted_mid_campaign_all_its_calls_end(tmp_path, pg_url):
    """The PBX restarts (every call ends, no CDR for them, as an Asterisk that dies) and is back
    on the same port 20 s later: the calls it dropped are UNKNOWN, nobody who answered is called
    again soon, and what was never started is not counted."""
    first_lab = ThreadedLab(LabOptions(port=0, **lab_options())).start()
    port = first_lab.port
    try:
        campaign, store, cid = campaign_for(tmp_path, pg_url)
        url = first_lab.url
        box: dict = {"labs": [first_lab]}

        async def restart_when_busy(engine):
            while sum(c.answered_at is not None for c in engine._calls.values()) < 2:
                await asyncio.sleep(0.05)
            box["in_flight"] = engine.in_flight
            await asyncio.to_thread(first_lab.stop)
            await asyncio.sleep(20.0)
            box["labs"].append(await asyncio.to_thread(
                lambda: ThreadedLab(LabOptions(port=port, **lab_options(seed=14, **SHORT_TALK))).start()))

        async def main():
            async with production_session(url) as ami:
                first = await dial_due(campaign, store, cid, ami, result_grace=5.0, during=restart_when_busy)
                second = await dial_due(campaign, store, cid, ami, result_grace=5.0,
                                        now=datetime.now(timezone.utc) + timedelta(hours=1))
                return first, second, ami.disconnects

        first, second, disconnects = asyncio.run(main())
        store.close()
    finally:
        for lab in box.get("labs", [first_lab]):
            if lab.loop.is_running() and lab.pbx._server is not None:  # the first one was stopped by the "restart"
                lab.stop()
    started = set().union(*(lab.started_ids for lab in box["labs"]))
    answered = {}
    for lab in box["labs"]:
        answered.update(lab.ended_answered)
    assert disconnects >= 1 and box["in_flight"] >= 3
    f = figures(pg_url, started, answered)
    f["in_flight_at_restart"] = box["in_flight"]
    assert_figures(f)
    assert f["mix"].get(("UNKNOWN", "unknown"), 0) >= 2, f["mix"]

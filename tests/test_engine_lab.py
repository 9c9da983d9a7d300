"""The dial engine against the lab PBX over real TCP: every outcome of the plan, the destination
contexts, concurrency, faults, call files, and `autodialer call` end to end."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autodialer.config import parse_ami_url
from autodialer.telephony.outcomes import CallStatus
from autodialer.telephony.ami import AmiSession
from autodialer.telephony.callfiles import wait_call_result, write_call_file
from autodialer.telephony.engine import DialEngine

ROOT = Path(__file__).resolve().parents[1]

PLAN = {  # last digit -> (status, reason, cause, dial status)
    "1": (CallStatus.ANSWERED, 4, 16, "ANSWER"),
    "2": (CallStatus.BUSY, 5, 17, "BUSY"),
    "3": (CallStatus.NO_ANSWER, 3, 19, None),
    "4": (CallStatus.CONGESTION, 8, 34, "CONGESTION"),
    "5": (CallStatus.INVALID_NUMBER, 0, 1, "NOANSWER"),
    "6": (CallStatus.ANSWERED, 4, 16, "ANSWER"),
    "7": (CallStatus.ANSWERED, 4, 16, "ANSWER"),
}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def _engine(url: str, **kw):
    ami = await AmiSession(parse_ami_url(url), ping_interval=0, reconnect_initial=0.05).connect()
    return ami, DialEngine(ami, result_grace=kw.pop("result_grace", 1.0), **kw)


@pytest.mark.parametrize("digit", sorted(PLAN))
def test_every_outcome_of_the_plan(lab_pbx, digit):
    async def main():
        ami, engine = await _engine(lab_pbx.url)
        try:
            return await engine.originate(f"7906123456{digit}", context="from-dialer", ring_timeout=10, attempt_id=f"plan-{digit}")
        finally:
            await ami.close()

    result = run(main())
    assert (result.status, result.reason, result.cause, result.dial_status) == PLAN[digit], result
    assert result.error is None and result.channel_id == f"plan-{digit}"
    assert result.channel.startswith(f"Local/7906123456{digit}@dialer-outbound-") and result.channel.endswith(";1")
    if result.status is CallStatus.ANSWERED:
        assert result.answered_at <= result.ended_at and result.talk_seconds >= 0
    if digit == "1":
        assert {"UserEvent": "DialerDone", "Exten": "s"} in result.events


def test_dtmf_robot_reports_the_key(lab_pbx):
    async def main():
        ami, engine = await _engine(lab_pbx.url)
        try:
            return await asyncio.gather(*(
                engine.originate("79061234561", context="dialer-robot-order", variables={"SIM_PRESS": key, "ORDER_ID": "12345"}, attempt_id=f"robot-{key}")
                for key in ("1", "2")
            ))
        finally:
            await ami.close()

    for result, key, verdict in zip(run(main()), ("1", "2"), ("confirmed", "cancelled")):
        assert result.status is CallStatus.ANSWERED
        reported = [e for e in result.events if e.get("UserEvent") == "DialerResult"]
        assert reported == [{"UserEvent": "DialerResult", "AttemptId": f"robot-{key}", "Key": key, "Result": verdict}]


def test_sim_dtmf_is_reported_for_the_call(lab_pbx):
    async def main():
        ami, engine = await _engine(lab_pbx.url)
        try:
            return await engine.originate("79061234566", context="from-dialer", exten="dtmf", variables={"DTMF_DIGITS": "7"})
        finally:
            await ami.close()

    result = run(main())
    assert result.status is CallStatus.ANSWERED
    assert {"UserEvent": "SimDTMF", "Number": "79061234566", "Digit": "7", "ReadStatus": "OK"} in result.events


def test_concurrent_calls_are_each_classified(lab_pbx):
    async def main():
        ami, engine = await _engine(lab_pbx.url)
        try:
            digits = [str(1 + i % 5) for i in range(60)]
            results = await asyncio.gather(*(
                engine.originate(f"790612{i:04d}{d}", context="from-dialer", ring_timeout=2, attempt_id=f"conc-{i}")
                for i, d in enumerate(digits)
            ))
            assert engine.in_flight == 0
            return digits, results
        finally:
            await ami.close()

    digits, results = run(main())
    for i, (d, r) in enumerate(zip(digits, results)):
        assert r.attempt_id == f"conc-{i}" and r.number.endswith(d)
        assert (r.status, r.reason, r.cause) == PLAN[d][:3], r


def test_originate_refused_by_the_pbx_is_failed_with_its_message(lab_pbx):
    lab_pbx.faults.fail_originates(1)

    async def main():
        ami, engine = await _engine(lab_pbx.url)
        try:
            return await engine.originate("79061234561", context="from-dialer")
        finally:
            await ami.close()

    result = run(main())
    assert result.status is CallStatus.FAILED and "Originate failed" in result.error


def test_originate_never_reported_by_the_pbx_ends_failed(lab_pbx):
    lab_pbx.faults.fail_originates(1, mode="silent")

    async def main():
        ami, engine = await _engine(lab_pbx.url, result_grace=0.3)
        try:
            return await engine.originate("79061234561", context="from-dialer", ring_timeout=0.5)
        finally:
            await ami.close()

    result = run(main())
    assert result.status is CallStatus.FAILED and "no OriginateResponse" in result.error


def test_pbx_drop_mid_call_is_resynced_once_and_never_redialed(lab_pbx):
    async def main():
        ami, engine = await _engine(lab_pbx.url)
        try:
            # A ringing call (digit 3), then the PBX drops every connection.
            task = asyncio.ensure_future(engine.originate("79061234563", context="from-dialer", ring_timeout=0.6, attempt_id="drop-1"))
            await asyncio.sleep(0.1)
            originates_before = lab_pbx.originates
            assert lab_pbx.faults.drop_connections() == 1
            result = await task
            await ami.wait_connected(timeout=5)
            await asyncio.sleep(0.3)
            return result, originates_before, lab_pbx.originates
        finally:
            await ami.close()

    result, before, after = run(main())
    assert before == after == 1
    # Either its end was seen after the reconnect (still ringing, then NO_ANSWER) or it ended unseen:
    # UNKNOWN (no CDR here), never FAILED.
    assert (result.status, result.error) in {(CallStatus.NO_ANSWER, None),
                                             (CallStatus.UNKNOWN, "ended during an AMI outage; no CDR to say how")}


def test_stalled_pbx_is_detected_by_the_ping_and_the_session_recovers(lab_pbx):
    async def main():
        ami = await AmiSession(parse_ami_url(lab_pbx.url), ping_interval=0.1, ping_timeout=0.3, reconnect_initial=0.05).connect()
        try:
            lab_pbx.faults.stall(0.6)
            await asyncio.sleep(0.8)
            assert ami.disconnects >= 1
            await ami.wait_connected(timeout=5)
            engine = DialEngine(ami, result_grace=1.0)
            return await engine.originate("79061234562", context="from-dialer")
        finally:
            await ami.close()

    assert run(main()).status is CallStatus.BUSY


def test_call_files_end_to_end(tmp_path: Path):
    from autodialer.lab import running_lab

    spool = tmp_path / "spool"
    with running_lab(time_scale=0.02, spool_dir=str(spool), spool_poll=0.05):
        async def main():
            names = {
                "1": write_call_file(spool, "79061234561", context="from-dialer", attempt_id="cf-answer").name,
                "2": write_call_file(spool, "79061234562", context="from-dialer", attempt_id="cf-busy", max_retries=1, retry_time=1, wait_time=1).name,
            }
            return {d: await wait_call_result(spool, n, timeout=30, poll=0.05) for d, n in names.items()}

        outcomes = run(main())
    assert (outcomes["1"].archive_status, outcomes["1"].status, outcomes["1"].attempts) == ("Completed", CallStatus.ANSWERED, 1)
    assert (outcomes["2"].archive_status, outcomes["2"].status, outcomes["2"].attempts) == ("Expired", CallStatus.NO_ANSWER, 2)
    assert outcomes["1"].attempt_id == "cf-answer"
    assert not list((spool / "outgoing").iterdir())


def test_cli_call_prints_each_outcome_against_the_lab(lab_pbx):
    env = {**os.environ, "AUTODIALER_AMI_URL": lab_pbx.url, "PYTHONPATH": str(ROOT)}
    expected = ["ANSWERED", "BUSY", "NO_ANSWER", "CONGESTION", "INVALID_NUMBER"]
    procs = [
        subprocess.Popen([sys.executable, "-m", "autodialer", "call", f"7906123456{d}", "--json", "--timeout", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        for d in "12345"
    ]
    for proc, status in zip(procs, expected):
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert json.loads(out)["status"] == status


def test_unknown_outbound_context_fails_fast_with_reason_0(lab_pbx):
    async def main():
        ami, engine = await _engine(lab_pbx.url, outbound_context="no-such-context")
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            result = await engine.originate("79061234561", context="from-dialer", ring_timeout=10)
            return result, loop.time() - start
        finally:
            await ami.close()

    result, elapsed = run(main())
    assert (result.status, result.reason) == (CallStatus.FAILED, 0)
    assert elapsed < 2  # settled shortly after the OriginateResponse, not at the ring deadline


def test_queue_destination_waits_for_the_agent_legs(lab_pbx):
    async def main():
        ami, engine = await _engine(lab_pbx.url)
        seen: list[str] = []
        ami.subscribe("AgentConnect", lambda e: seen.append(e.get("Linkedid")))
        try:
            result = await engine.originate("79061234567", context="dialer-queue", attempt_id="q-1")
            return result, seen
        finally:
            await ami.close()

    result, seen = run(main())
    assert result.status is CallStatus.ANSWERED and result.cause == 16
    assert seen == ["q-1"]  # the queue events of this call carry its Linkedid: the engine saw the agent legs too


def test_stop_ringing_ends_a_ringing_call_as_no_answer_and_only_a_ringing_one(lab_pbx):
    """Predictive pacing ends calls that ring while no operator is free: Hangup cause 19 on
    leg ;1. The result is NO_ANSWER (retried by the policy) saying so; an answered call and a
    call that is not ours are never hung up by it."""
    async def main():
        ami, engine = await _engine(lab_pbx.url)
        try:
            ringing = asyncio.ensure_future(engine.originate(
                "79061234563", context="from-dialer", ring_timeout=30, attempt_id="stop-ring"))
            answered = asyncio.ensure_future(engine.originate(
                "79061234561", context="from-dialer", ring_timeout=30, attempt_id="stop-answered"))
            while engine.ringing_for("stop-ring") is None or engine.ringing_for("stop-ring") < 0.3:
                await asyncio.sleep(0.02)
            assert engine.ringing_for("stop-answered") is None  # answered at once: not ringing
            assert not engine.stop_ringing("stop-answered", "test")
            assert not engine.stop_ringing("not-ours", "test")
            assert engine.stop_ringing("stop-ring", "nobody free")
            assert not engine.stop_ringing("stop-ring", "again")  # sent once
            return await asyncio.gather(ringing, answered)
        finally:
            await ami.close()

    stopped, answered = run(main())
    assert stopped.status is CallStatus.NO_ANSWER and stopped.stopped, stopped
    assert stopped.error.startswith("stopped ringing after ") and stopped.error.endswith(": nobody free")
    assert stopped.cause == 19 and stopped.answered_at is None
    # Ended by our Hangup (reason 1: the originate saw the channel hang up), before the number's
    # own 40 s of ringing (0.8 s at the lab's x0.02) would have ended it with reason 3.
    assert stopped.reason == 1 and (stopped.ended_at - stopped.queued_at).total_seconds() < 0.75
    assert answered.status is CallStatus.ANSWERED and not answered.stopped

"""Pacing against the lab PBX over real TCP: the queue monitor follows the operators, and
progressive dialing never has more calls out than free operators (so nobody answered waits)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from autodialer.config import parse_ami_url
from autodialer.lab import running_lab
from autodialer.outcomes import CallStatus
from autodialer.pacing.pacers import make_pacer
from autodialer.pacing.queue_state import QueueMonitor
from autodialer.pacing.settings import PacingSettings
from autodialer.telephony.ami import AmiSession
from autodialer.telephony.engine import DialEngine

SCALE = 0.02


async def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def test_queue_monitor_follows_the_operators():
    with running_lab(time_scale=SCALE, agents=3, agent_talk=25.0) as lab:
        async def main():
            async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
                handles = []
                monitor = QueueMonitor(ami, "support")
                monitor.on_handle = handles.append
                await monitor.start()
                assert (monitor.free, monitor.busy, monitor.logged_in) == (3, 0, 3)
                assert monitor.summary == {"LoggedIn": 3, "Available": 3, "Callers": 0}
                lab.inbound_call("74950000001")
                lab.inbound_call("74950000002")
                await wait_until(lambda: monitor.busy == 2)
                assert monitor.free == 1
                await wait_until(lambda: monitor.free == 3)  # both agents talked 25 s (scaled) and hung up
                assert len(handles) == 2 and all(0.3 < h < 2.0 for h in handles), handles
                # After a reconnect the state is read afresh.
                lab.inbound_call("74950000003")
                await wait_until(lambda: monitor.busy == 1)
                ami.drop()
                await wait_until(lambda: not ami.connected)
                assert monitor.free == 0  # while disconnected: nothing is free
                await wait_until(lambda: monitor.synced, timeout=10)
                assert monitor.free in (2, 3)
                monitor.close()

        asyncio.run(main())


def numbers(n: int) -> list[str]:
    return [f"7906{i:07d}" for i in range(1, n + 1)]


async def dial_all(lab, settings: PacingSettings, contacts: list[str]):
    """Dial every contact into the queue through the pacer; return (pacer, results, queue events)."""
    async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
        queue_events = []
        for name in ("AgentConnect", "QueueCallerJoin", "QueueCallerAbandon"):
            ami.subscribe(name, queue_events.append)
        engine = DialEngine(ami, result_grace=2.0)
        pacer = make_pacer(settings, ami)

        async def one(number):
            attempt = uuid.uuid4().hex
            async with pacer.call_slot() as slot:
                slot.attempt_id = attempt
                result = await engine.originate(number, context="dialer-queue", attempt_id=attempt, ring_timeout=20)
            pacer.observe(result)
            return result

        results = await asyncio.gather(*(one(n) for n in contacts))
        await pacer.close()
        return pacer, results, queue_events


@pytest.mark.parametrize("mode", ["progressive", "fixed"])
def test_progressive_never_dials_more_than_free_operators(mode):
    """Agents 2 of 4 busy with inbound callers when dialing starts. Progressive: every answered
    call finds a free operator at once (AgentConnect HoldTime 0, nobody abandons a wait). The
    same run in fixed mode with 8 channels is the control: there callers do wait."""
    opts = dict(time_scale=SCALE, agents=4, agent_talk=20.0, mode="random", seed=7, answer_rate=0.6,
                busy_rate=0.2, no_answer_rate=0.1, congestion_rate=0.05, ring_min=1.0, ring_max=5.0, talk_mean=40.0,
                talk_min=30.0)
    with running_lab(**opts) as lab:
        lab.inbound_call("74950000001")
        lab.inbound_call("74950000002")
        deadline = time.monotonic() + 5
        while lab.call_soon(lambda: lab.pbx.queues["support"].available()) != 2:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        settings = PacingSettings(mode=mode, queue="support", max_channels=8, max_originates_per_second=1000)
        pacer, results, events = asyncio.run(dial_all(lab, settings, numbers(30)))

    ours = [e for e in events if "@dialer-outbound-" in (e.get("Channel") or "")]
    connects = [e for e in ours if e.get("Event") == "AgentConnect"]
    joins = [e for e in ours if e.get("Event") == "QueueCallerJoin"]
    answered = [r for r in results if r.status is CallStatus.ANSWERED]
    assert len(answered) >= 10 and len(joins) == len(answered)
    holds = [int(e.get("HoldTime")) for e in connects]
    if mode == "progressive":
        assert len(connects) == len(answered)
        assert holds and max(holds) == 0, holds  # nobody waited a scaled second for an operator
        assert all(d <= a for d, a in pacer.grants), pacer.grants
        assert max(d for d, _ in pacer.grants) >= 2  # and it did use the free operators
        assert pacer.stats.answered == len(answered) and pacer.stats.abandoned == 0
    else:
        assert max(holds) >= 1, holds  # the control: more calls than operators make callers wait

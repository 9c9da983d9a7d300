"""Pacing against the lab PBX over real TCP: the queue monitor follows the operators, and
progressive dialing never has more calls out than free operators (so nobody answered waits)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from autodialer.config import parse_ami_url
from autodialer.lab import running_lab
from autodialer.telephony.outcomes import CallStatus
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


async def dial_all(lab, settings: PacingSettings, contacts: list[str], bind_attempt: bool = True):
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
                if bind_attempt:
                    slot.attempt_id = attempt
                result = await engine.originate(number, context="dialer-queue", attempt_id=attempt, ring_timeout=20)
            pacer.observe(result)
            return result

        results = await asyncio.gather(*(one(n) for n in contacts))
        await pacer.close()
        return pacer, results, queue_events


@pytest.mark.parametrize("mode, bind_attempt", [("progressive", True), ("progressive", False), ("fixed", True)])
def test_progressive_never_dials_more_than_free_operators(mode, bind_attempt):
    """Agents 2 of 4 busy with inbound callers when dialing starts. Progressive: every answered
    call finds a free operator at once (AgentConnect HoldTime 0, nobody abandons a wait), whether
    or not the slot knows its attempt id. The same run in fixed mode with 8 channels is the
    control: there callers do wait."""
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
        pacer, results, events = asyncio.run(dial_all(lab, settings, numbers(30), bind_attempt))

    ours = [e for e in events if "@dialer-outbound-" in (e.get("Channel") or "")]
    connects = [e for e in ours if e.get("Event") == "AgentConnect"]
    joins = [e for e in ours if e.get("Event") == "QueueCallerJoin"]
    answered = [r for r in results if r.status is CallStatus.ANSWERED]
    assert len(answered) >= 10 and len(joins) == len(answered)
    holds = [int(e.get("HoldTime")) for e in connects]
    if mode == "progressive":
        assert len(connects) == len(answered)
        assert holds and max(holds) == 0, holds  # nobody waited a scaled second for an operator
        assert all(d <= a <= f for d, a, f in pacer.grants), pacer.grants
        assert max(d for d, _, _ in pacer.grants) >= 2  # and it did use the free operators
        assert pacer.stats.answered == len(answered) and pacer.stats.abandoned == 0
    else:
        assert max(holds) >= 1, holds  # the control: more calls than operators make callers wait


# -- predictive: abandoned calls ----------------------------------------------------------------------
def test_dialplan_abandons_after_two_seconds_and_says_so():
    text = (Path(__file__).resolve().parents[1] / "asterisk-lab" / "extensions.conf").read_text()
    block = text[text.index("[dialer-predictive]"):]
    block = block[:block.index("\n[")]
    # 2 s; after AMD, what is left of connect_within since the answer or the greeting's end, in
    # whole seconds (none: abandoned)
    assert "same => n,Set(QUEUE_WAIT=2)" in block
    assert "same => n,Set(AMD_ELAPSED=$[${STRFTIME(,,%s.%3q)} - ${AMD_CONNECT_START}])" in block
    assert "same => n,Set(QUEUE_WAIT=$[FLOOR(${AMD_CONNECT_MS} / 1000 - ${AMD_ELAPSED})])" in block
    assert "same => n,GotoIf($[${QUEUE_WAIT} < 1]?abandoned)" in block
    assert "same => n(queue),Queue(support,,,,${QUEUE_WAIT})" in block
    amd = text[text.index("\n[dialer-amd]\n"):]
    assert amd.index("Set(AMD_STARTED=${STRFTIME(,,%s.%3q)})") < amd.index("AMD(")
    # the greeting's end: the verdict less the silence after the greeting (AMDCAUSE's field 2), on HUMAN only
    assert amd.index("AMD(") < amd.index("same => n,Set(AMD_CONNECT_START=${AMD_STARTED})")
    assert 'same => n,GotoIf($["${AMDSTATUS}" != "HUMAN" | "${AMD_CONNECT_FROM}" = ""]?verdict)' in amd
    assert ("same => n(from_greeting_end),Set(AMD_CONNECT_START=$[${STRFTIME(,,%s.%3q)} - ${CUT(AMDCAUSE,-,2)} / 1000])"
            in amd)
    assert "same => n(abandoned),UserEvent(DialerAbandoned,AttemptId: ${ATTEMPT_ID}," in block
    assert block.index("Queue(") < block.index("UserEvent(DialerAbandoned") < block.index("Playback(")


ANSWERING = dict(mode="random", answer_rate=1.0, busy_rate=0.0, no_answer_rate=0.0, congestion_rate=0.0,
                 ring_min=1.0, ring_max=1.0, talk_mean=200.0, talk_min=200.0, talk_max=200.0)


def test_a_call_nobody_takes_within_two_seconds_is_abandoned():
    """One operator, busy with the first call: the second callee waits 2 s, hears the message,
    and the engine reports ABANDONED (from the dialplan's UserEvent DialerAbandoned)."""
    with running_lab(time_scale=SCALE, agents=1, agent_talk=100.0, **ANSWERING) as lab:
        async def main():
            async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
                engine = DialEngine(ami, result_grace=2.0)
                connected = asyncio.Event()
                ami.subscribe("AgentConnect", lambda e: connected.set())
                first = asyncio.ensure_future(engine.originate("79060000001", context="dialer-predictive", ring_timeout=20))
                await asyncio.wait_for(connected.wait(), 5)
                second = await engine.originate("79060000002", context="dialer-predictive", ring_timeout=20,
                                                attempt_id="second-attempt")
                return await first, second

        first, second = asyncio.run(main())
    assert first.status is CallStatus.ANSWERED
    assert second.status is CallStatus.ABANDONED
    assert second.answered_at is not None and second.talk_seconds >= 0.04  # 2 s in the queue, scaled
    reported = [e for e in second.events if e.get("UserEvent") == "DialerAbandoned"]
    assert reported and reported[0]["AttemptId"] == "second-attempt" and reported[0]["QueueStatus"] == "TIMEOUT"


def test_predictive_dials_past_free_operators_and_counts_what_it_abandons():
    opts = dict(time_scale=SCALE, agents=4, agent_talk_mean=20.0, mode="random", seed=11, answer_rate=0.35,
                busy_rate=0.25, no_answer_rate=0.2, congestion_rate=0.05, ring_min=2.0, ring_max=10.0,
                talk_mean=200.0, talk_min=200.0, talk_max=200.0)
    # Time constants scaled like the lab's (x0.02), and a loose cap so it over-dials after a few answers.
    settings = PacingSettings(mode="predictive", queue="support", max_channels=20, max_originates_per_second=1000,
                              abandon_cap=0.25, window=3600, adjust_every=0.3, answer_rate_prior=0.35,
                              handle_time_prior=0.6, ring_time_prior=0.12)
    with running_lab(**opts) as lab:
        async def main():
            async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
                engine = DialEngine(ami, result_grace=2.0)
                pacer = make_pacer(settings, ami, tick=0.02)
                pacer.controller.gain = 1.0  # start where a warmed-up run would be, not at the cautious default

                async def one(number):
                    attempt = uuid.uuid4().hex
                    async with pacer.call_slot() as slot:
                        slot.attempt_id = attempt
                        result = await engine.originate(number, context="dialer-predictive", attempt_id=attempt,
                                                        ring_timeout=20)
                    pacer.observe(result)
                    return result

                results = await asyncio.gather(*(one(n) for n in numbers(50)))
                await pacer.close()
                return pacer, results

        pacer, results = asyncio.run(main())
    abandoned = [r for r in results if r.status is CallStatus.ABANDONED]
    answered = [r for r in results if r.status is CallStatus.ANSWERED]
    assert all(any(e.get("UserEvent") == "DialerAbandoned" for e in r.events) for r in abandoned)
    assert pacer.stats.abandoned == len(abandoned)
    assert pacer.stats.answered == len(abandoned) + len(answered)
    assert any(d > f for d, _, f in pacer.grants), "predictive never dialed past the free operators"
    assert pacer.controller.window.counts() == (len(abandoned) + len(answered), len(abandoned))
    assert len(abandoned) <= 0.25 * pacer.stats.answered + 4  # the cap, give or take the calls already ringing


def test_predictive_ends_calls_ringing_past_min_ring_when_no_operator_is_free():
    """Two operators on long calls, callees who let it ring up to 20 s: the pacer ends calls that
    have rung `min_ring` while nobody could take their answer. Each is NO_ANSWER, says so, never
    reached an operator, and rang at least min_ring; without `calls=` nothing is ever stopped."""
    opts = dict(time_scale=SCALE, agents=2, agent_talk_mean=20.0, mode="random", seed=5, answer_rate=0.5,
                busy_rate=0.2, no_answer_rate=0.25, congestion_rate=0.05, ring_min=2.0, ring_max=20.0,
                talk_mean=200.0, talk_min=200.0, talk_max=200.0)
    min_ring = 6 * SCALE
    settings = PacingSettings(mode="predictive", queue="support", max_channels=12, max_originates_per_second=1000,
                              abandon_cap=0.25, window=3600, adjust_every=0.3, answer_rate_prior=0.5,
                              handle_time_prior=20 * SCALE, ring_time_prior=11 * SCALE, min_ring=min_ring,
                              connect_within=2 * SCALE)

    def run_with(calls: bool, n: int):
        with running_lab(**opts) as lab:
            async def main():
                async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
                    connected = set()
                    ami.subscribe("AgentConnect", lambda e: connected.add(e.get("Linkedid")))
                    engine = DialEngine(ami, result_grace=2.0)
                    pacer = make_pacer(settings, ami, tick=0.02, calls=engine if calls else None)
                    pacer.controller.gain = 1.5  # over-dial hard: there will be answers nobody can take

                    async def one(number):
                        attempt = uuid.uuid4().hex
                        async with pacer.call_slot() as slot:
                            slot.attempt_id = attempt
                            result = await engine.originate(number, context="dialer-predictive", attempt_id=attempt,
                                                            ring_timeout=30)
                        pacer.observe(result)
                        return result

                    results = await asyncio.gather(*(one(n) for n in numbers(n)))
                    await pacer.close()
                    return pacer, results, connected
            return asyncio.run(main())

    pacer, results, connected = run_with(calls=True, n=90)
    stopped = [r for r in results if r.stopped]
    assert stopped and pacer.stats.stopped == len(stopped)
    for r in stopped:
        # NO_ANSWER; or, had the callee picked up as the Hangup travelled (the lab's x0.02 makes
        # that 50 times likelier than on a real PBX), ABANDONED: that is what they got.
        assert (r.status, r.reason, r.answered_at is None) == (CallStatus.NO_ANSWER, 1, True) or \
            (r.status is CallStatus.ABANDONED and r.answered_at is not None), r
        rang = float(r.error.removeprefix("stopped ringing after ").split(" s:")[0])
        assert rang >= min_ring, r.error
        assert r.channel_id not in connected
    assert sum(r.status is CallStatus.NO_ANSWER for r in stopped) > len(stopped) / 2
    assert pacer.stats.as_dict()["stopped_ringing"] == len(stopped)
    pacer, results, _ = run_with(calls=False, n=30)
    assert not any(r.stopped for r in results) and pacer.stats.stopped == 0


def test_a_queue_the_pbx_does_not_have_is_a_clear_error():
    from autodialer.errors import ConfigError

    with running_lab(time_scale=SCALE) as lab:
        async def main():
            async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
                pacer = make_pacer(PacingSettings(mode="progressive", queue="sales"), ami)
                with pytest.raises(ConfigError, match="pacing.queue: .* no queue 'sales'"):
                    await pacer.start()
                await pacer.close()

        asyncio.run(main())


def test_thousands_waiting_for_a_slot_are_served_in_order():
    """A campaign may queue every due contact on the pacer at once: first come, first served,
    two at a time (two free operators, each call gone at once)."""
    with running_lab(time_scale=SCALE, agents=2) as lab:
        async def main():
            async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
                pacer = make_pacer(PacingSettings(mode="progressive", queue="support", max_originates_per_second=1000), ami)
                await pacer.start()
                order = []
                peak = 0

                async def one(i):
                    nonlocal peak
                    async with pacer.call_slot():
                        order.append(i)
                        peak = max(peak, pacer.in_flight)
                        await asyncio.sleep(0.001)

                await asyncio.gather(*(one(i) for i in range(1000)))
                await pacer.close()
                return order, peak

        order, peak = asyncio.run(main())
    assert order == list(range(1000))
    assert peak == 2


# -- two dialers on one queue ---------------------------------------------------------------------
def two_dialers_on_one_queue(peers: bool) -> tuple[list[bool], list]:
    """Two progressive pacers (two campaigns, each its own AMI session) dial answering callees
    into one queue of 2 operators. Returns, for each answered callee, whether every operator was
    talking when it joined the queue (so it had to wait for one), from the queue's own events as
    an independent AMI listener sees them in order (AgentConnect / AgentComplete count the busy
    operators, QueueCallerJoin is the callee's arrival), and the results. Event order, not wall
    time: a loaded machine delays events but does not reorder them on one AMI stream."""
    opts = dict(time_scale=SCALE, agents=2, agent_talk=15.0, **ANSWERING)
    settings = PacingSettings(mode="progressive", queue="support", max_channels=8, max_originates_per_second=1000)
    with running_lab(**opts) as lab:
        async def campaign(numbers_, started: asyncio.Event | None):
            async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
                engine = DialEngine(ami, result_grace=2.0)
                pacer = make_pacer(settings, ami, tick=0.02, peers=peers)
                await pacer.start()
                if started is not None:
                    await started.wait()  # the other campaign is dialing already

                async def one(number):
                    attempt = uuid.uuid4().hex
                    async with pacer.call_slot() as slot:
                        slot.attempt_id = attempt
                        if started is None:
                            first_call.set()
                        return await engine.originate(number, context="dialer-queue", attempt_id=attempt, ring_timeout=20)

                results = await asyncio.gather(*(one(n) for n in numbers_))
                await pacer.close()
                return results

        async def main():
            busy, waits = 0, []

            def on_event(event):
                nonlocal busy
                name = event.get("Event")
                if name == "QueueCallerJoin":
                    waits.append(busy >= opts["agents"])
                elif name == "AgentConnect":
                    busy += 1
                elif name == "AgentComplete":
                    busy -= 1

            async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as watcher:
                watcher.subscribe("*", on_event)
                a = asyncio.ensure_future(campaign([f"790610000{i:02d}" for i in range(8)], None))
                await first_call.wait()
                await asyncio.sleep(0.1)
                b = asyncio.ensure_future(campaign([f"790620000{i:02d}" for i in range(8)], first_call))
                results = await a + await b
            return waits, results

        first_call = asyncio.Event()
        return asyncio.run(main())


def test_two_dialers_on_one_queue_claim_operators_from_each_other():
    """Each pacer tells the other, through the PBX (AMI UserEvent DialerPacing), what its calls
    dialing claim, and they split the spare operators: every answered callee finds an operator
    at once, as with one progressive dialer. The control, without that word: both dial for the
    same free operators, and callees wait for one (an agent talks 15 s, 0.3 s here)."""
    waited, results = two_dialers_on_one_queue(peers=True)
    assert all(r.status is CallStatus.ANSWERED for r in results), [r.status for r in results]
    assert len(waited) == 16 and not any(waited), waited
    waited, _ = two_dialers_on_one_queue(peers=False)
    assert any(waited), waited


def test_queue_peers_hear_each_other_through_the_pbx_and_ignore_nonsense(lab_pbx):
    """Two QueuePeers on their own AMI sessions hear each other's claims (not their own), split
    what the queue allows without overlap, forget a silent peer, and ignore malformed words."""
    from autodialer.pacing.peers import PACING_EVENT, QueuePeers

    async def main():
        async with AmiSession(parse_ami_url(lab_pbx.url), ping_interval=0) as a_ami, \
                AmiSession(parse_ami_url(lab_pbx.url), ping_interval=0) as b_ami:
            a = QueuePeers(a_ami, "support", heartbeat=0.05, expire=0.3)
            b = QueuePeers(b_ami, "support", heartbeat=0.05, expire=0.3)
            other_queue = QueuePeers(b_ami, "sales")
            a.say(2.4, active=True)
            b.say(1.0, active=True)
            await wait_until(lambda: b.claims() == 2.4 and a.claims() == 1.0)
            assert other_queue.claims() == 0.0  # another queue's word is not ours
            # Of what the queue allows, each active pacer has its places: together all, no overlap.
            for allowed in range(0, 7):
                assert a.share(allowed, active=True) + b.share(allowed, active=True) == allowed
            a.say(2.4, active=False)  # a has nobody left to dial: b may have every place
            await wait_until(lambda: b.share(5, active=True) == 5)
            # Nonsense is ignored: bad numbers, no pacer, someone claiming to be b.
            for claims, pacer in (("nan", "x1"), ("-1", "x2"), ("1e9", "x3"), ("lots", "x4"), ("3", ""), ("3", b.id)):
                await b_ami.send_action({"Action": "UserEvent", "UserEvent": PACING_EVENT, "Queue": "support",
                                         "Pacer": pacer, "Claims": claims})
            await asyncio.sleep(0.05)
            assert b.claims() == 2.4
            # A peer that falls silent is forgotten.
            await wait_until(lambda: b.claims() == 0.0, timeout=2)
            for p in (a, b, other_queue):
                p.close()

    asyncio.run(main())


@pytest.mark.parametrize("connect_within, connect_from", [(2.0, "answer"), (4.0, "answer"), (2.0, "greeting_end")])
def test_predictive_with_amd_counts_machine_hangups_as_abandoned_people_and_detection_in_connect_time(connect_within,
                                                                                                      connect_from):
    """AMD on ([dialer-amd] before dialer-predictive): a person AMD takes for a machine (4 words:
    MAXWORDS) is hung up on, and the controller counts each MACHINE hang-up as the campaign's
    false_machine_rate of an abandoned live call (what the regulator counts); a person AMD lets
    through reaches the queue after the detection, so the time to answer the controller measures
    (dial to queue join) includes it. The connect time counts from the answer: the dialplan takes
    the seconds AMD used (STRFTIME before and after, lab time) off connect_within. "Allo?" took
    about 1.4 s to be called HUMAN: of 2 s less than a second is left, Queue() cannot wait that
    (whole seconds): abandoned at once, and counted so; of 4 s, the queue gets 2. Counted from the
    end of the greeting (connect_from greeting_end, TCPA's and Ofcom's 2 s), the verdict less the
    800 ms of silence AMDCAUSE reports (HUMAN-800-800): of 2 s, 1 s is left for the queue, an
    operator takes the call, nobody is abandoned."""
    import math

    from autodialer.telephony.amd import AmdSettings

    amd = AmdSettings(false_machine_rate=0.5)
    settings = PacingSettings(mode="predictive", queue="support", max_channels=4, max_originates_per_second=1000,
                              abandon_cap=0.25, window=3600, adjust_every=0.3, handle_time_prior=0.6,
                              ring_time_prior=0.12)
    with running_lab(time_scale=SCALE, agents=2, agent_talk=5.0) as lab:
        async def main():
            async with AmiSession(parse_ami_url(lab.url), ping_interval=0) as ami:
                engine = DialEngine(ami, result_grace=2.0)
                pacer = make_pacer(settings, ami, tick=0.02, false_machine_rate=amd.false_machine_rate)

                async def one(number, greeting):
                    attempt = uuid.uuid4().hex
                    variables = dict(amd.variables("dialer-predictive", "s", 1, connect_within, connect_from),
                                     SIM_GREETING=greeting)
                    async with pacer.call_slot() as slot:
                        slot.attempt_id = attempt
                        result = await engine.originate(number, context="dialer-amd", attempt_id=attempt,
                                                        variables=variables, ring_timeout=20)
                    pacer.observe(result)
                    return result

                results = await asyncio.gather(one("79061234511", "person-allo"), one("79061234521", "person-4words"),
                                               one("79061234531", "voicemail-nobeep"))
                await pacer.close()
                return pacer, results

        pacer, results = asyncio.run(main())
        queued = [e.args for e in lab.pbx.dialplan.trace if e.name == "Queue"]
        sets = [tuple(e.args.split("=", 1)) for e in lab.pbx.dialplan.trace if e.name == "Set"]
        elapsed = [float(v) for k, v in sets if k == "AMD_ELAPSED"]
        started = [float(v) for k, v in sets if k == "AMD_STARTED"]
        starts = [float(v) for k, v in sets if k == "AMD_CONNECT_START"]
    person, taken, machine = results
    # Only the person reached dialer-predictive; AMD's HUMAN needs the word and 800 ms of silence after it.
    (since,) = elapsed
    assert person.amd_cause == "HUMAN-800-800"
    if connect_from == "answer":
        assert 0.9 <= since < 2.0 and sorted(starts) == sorted(started)  # the answer, for all three
    else:
        # the person's greeting ended 800 ms before the verdict (~1.36 s after the answer): the
        # time since is the silence (and the lab's few ms of dialplan), the start ~0.56 s after the answer
        assert 0.8 <= since < 0.9
        moved = [s for s in starts if s not in started]
        assert len(moved) == 1 and 0.3 < moved[0] - min(started, key=lambda t: abs(t - moved[0])) < 1.0
    wait = math.floor(connect_within - since)
    abandoned = [e for e in person.events if e.get("UserEvent") == "DialerAbandoned"]
    assert (taken.status, taken.amd_cause, machine.status) == (CallStatus.MACHINE, "MAXWORDS-3-2", CallStatus.MACHINE)
    assert pacer.stats.machine_hangups == 2
    assert pacer.stats.abandoned_with_amd == pytest.approx(1.0 + pacer.stats.abandoned)  # 2 hang-ups x 0.5
    if connect_within == 2.0 and connect_from == "answer":
        # under a second left: no queue, abandoned at once (the message), counted by the pacer
        assert wait == 0 and queued == []
        assert (person.status, person.amd_status) == (CallStatus.ABANDONED, "HUMAN")
        assert abandoned and abandoned[-1]["QueueWait"] == "0"
        assert pacer.stats.abandoned == 1
        assert pacer.controller.window.counts() == pytest.approx((2.0, 2.0))
    else:
        assert wait == (2 if connect_within == 4.0 else 1) and queued == [f"support,,,,{wait}"]
        assert (person.status, person.amd_status) == (CallStatus.ANSWERED, "HUMAN") and not abandoned
        assert pacer.stats.abandoned == 0
        assert pacer.stats.abandon_rate == pytest.approx(1.0 / 2.0)  # of 1 person + 2 x 0.5 live calls
        assert pacer.controller.window.counts() == pytest.approx((2.0, 1.0))
    # the person's time to answer, as the controller measured it, includes the detection
    ring = pacer.controller._rings[-1]
    assert ring >= person.amd_seconds > 0
    assert ring >= (person.answered_at - person.queued_at).total_seconds() + person.amd_seconds - 0.05

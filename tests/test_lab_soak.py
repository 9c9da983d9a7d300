"""Many calls of every kind at once, some hung up by the dialer: every call ends, every channel that
appeared hangs up exactly once, every AMI originate gets one OriginateResponse, and no lab error."""

from __future__ import annotations

import random
import time

from autodialer.lab import running_lab
from test_lab_rawami import RawAmi

DESTS = [
    {"Context": "from-dialer", "Exten": "s"},
    {"Context": "from-dialer", "Exten": "dtmf"},
    {"Context": "from-dialer", "Exten": "queue"},
    {"Context": "from-dialer", "Exten": "echo"},
    {"Context": "dialer-robot-order", "Exten": "s", "Variable": "SIM_PRESS=3,ATTEMPT_ID=x"},
    {"Context": "dialer-robot-order", "Exten": "s", "Variable": "SIM_PRESS=1"},
    {"Context": "dialer-queue", "Exten": "s"},
    {"Context": "dialer-conference", "Exten": "s", "Variable": "CONF_ROOM=r1"},
    {"Context": "nowhere", "Exten": "s"},
    {"Application": "Wait", "Data": "3"},
    {"Application": "Queue", "Data": "support,,,,5"},
]
FIRST_LEGS = ["dialer-outbound", "sim-pstn", "dial-out", "sim-queue", "sim-conf", "sim-agents"]


def _run(mode: str, seed: int) -> None:
    rng = random.Random(seed)
    with running_lab(time_scale=0.005, mode=mode, seed=seed, agents=3, agent_wrapup=2.0) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        sent = 0
        for i in range(160):
            first = rng.choice(FIRST_LEGS)
            exten = "support" if first == "sim-queue" else f"79{rng.randrange(10**9):09d}"
            h = {"Channel": f"Local/{exten}@{first}", "Async": "true", "Timeout": str(rng.choice([2000, 30000])),
                 "ActionID": f"s-{i}", **rng.choice(DESTS)}
            if rng.random() < 0.1:
                h["ChannelId"] = f"cid-{i}"
            c.send("Originate", **h)
            sent += 1
            if i % 40 == 39:
                c.send("Hangup", Channel="/;1$/")  # the dialer hangs up whatever is up
        for _ in range(3):
            lab.inbound_call(caller="79161234567", abandon_after=rng.choice([1.0, 200.0]))
        start = time.monotonic()
        msgs, deadline = [], start + 20
        hung_up_rest = False
        while time.monotonic() < deadline:
            try:
                msgs.append(c.read(0.3))
            except TimeoutError:
                if lab.active_calls() == 0:
                    break
                if not hung_up_rest and time.monotonic() - start > 1.5:  # natural calls last < 1 s here
                    # Echo or a conference on both sides never ends by itself (nor on Asterisk).
                    c.send("Hangup", Channel="/./")
                    hung_up_rest = True
        c.close()
        assert lab.active_calls() == 0
        assert lab.errors == []
        assert lab.call_soon(lambda: len(lab.pbx.channels)) == 0
    responses = [m for m in msgs if m.get("Event") == "OriginateResponse"]
    assert sorted(m["ActionID"] for m in responses) == sorted(f"s-{i}" for i in range(sent))
    created = [m["Channel"] for m in msgs if m.get("Event") == "Newchannel"]
    hung = [m["Channel"] for m in msgs if m.get("Event") == "Hangup"]
    assert sorted(created) == sorted(hung) and len(set(hung)) == len(hung)


def test_soak_plan_mode():
    _run("plan", 1)


def test_soak_random_mode():
    _run("random", 2)

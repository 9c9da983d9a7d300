"""The lab's far ends run the dialplan, not Python: the client that dialer-callback's Dial()
rings, dial-out's callee leg and the callees of `--mode random` execute sim-pstn (via
dialer-outbound) in the lab's interpreter like every other leg. What each ran is read from the
lab's trace, and what the caller saw follows from it. A dialplan whose `o1` branch is Busy()
instead of Answer() (and whose random `or` branch is Congestion()) turns the same numbers busy:
nothing in Python decides the far end's outcome any more."""

from __future__ import annotations

import asyncio
import re

import pytest

from autodialer.kinds.callback import click_to_call
from autodialer.lab import running_lab
from autodialer.lab.dialplan import DEFAULT_DIALPLAN
from test_lab_pbx import drain, events, originate
from test_lab_rawami import RawAmi


def _ran(lab, channel: str) -> list[tuple]:
    """(context, priority, application, arguments) the dialplan ran on the channel(s) `channel` matches."""
    pattern = re.compile(channel)
    return [(e.context, e.priority, e.name, e.args) for e in lab.trace if e.kind == "app" and pattern.fullmatch(e.channel)]


def _apps(lab, channel: str) -> list[str]:
    return [name for _, _, name, _ in _ran(lab, channel)]


@pytest.fixture
def busy_plan(tmp_path):
    """extensions.conf with sim-pstn's answered branch (o1) busy and the random `or` branch congested."""
    text = DEFAULT_DIALPLAN.read_text()
    text, n1 = re.subn(r"same => n\(o1\),Answer\(\)", "same => n(o1),Busy(5)", text)
    text, n2 = re.subn(r"(Wait\(\$\[\$\{SIM_RING_MS\} / 1000\]\)\n same => n,)Answer\(\)", r"\1Congestion(5)", text)
    assert (n1, n2) == (1, 1)
    path = tmp_path / "extensions.conf"
    path.write_text(text)
    return path


async def _click(lab, **kw):
    from autodialer.config import parse_ami_url
    from autodialer.telephony.ami import AmiSession
    from autodialer.telephony.engine import DialEngine

    async with AmiSession(parse_ami_url(lab.url)) as ami:
        return await click_to_call(DialEngine(ami), **kw)


# --- dialer-callback: the client's leg of Dial() --------------------------------------------------

@pytest.mark.parametrize("number, result, client_ran", [
    ("79061234561", "connected", [("dialer-outbound", 7, "Answer", ""), ("dialer-outbound", 8, "Wait", "2"),
                                  ("dialer-outbound", 9, "Hangup", "")]),
    ("79061234562", "client_busy", [("dialer-outbound", 10, "Busy", "5")]),
    ("79061234563", "client_no_answer", [("dialer-outbound", 12, "Ringing", ""), ("dialer-outbound", 13, "Wait", "40")]),
    ("79061234565", "client_unavailable", [("dialer-outbound", 17, "Hangup", "1")]),
])
def test_the_client_dial_rings_runs_sim_pstn(lab_pbx, number, result, client_ran):
    out = asyncio.run(_click(lab_pbx, operator="101", number=number, client_ring=20))
    assert out.result == result and not lab_pbx.errors
    client = rf"Local/{number}@dialer-outbound-[0-9a-f]+;2"
    ran = _ran(lab_pbx, client)
    assert ran[:3] == [("dialer-outbound", 1, "NoOp", f"SIM-PSTN call to {number}, outcome digit {number[-1]}"),
                       ("dialer-outbound", 2, "Set", f"SIM_OUTCOME={number[-1]}"),
                       ("dialer-outbound", 3, "GotoIf", f"1?o{number[-1]}")]
    assert ran[3:] == client_ran
    operator = _ran(lab_pbx, r"Local/101@dialer-operators-[0-9a-f]+;1")
    assert ("dialer-callback", 2, "Dial", f"Local/{number}@dialer-outbound,20,g") in operator


def test_the_client_is_whatever_the_dialplan_says(busy_plan):
    """The same ...1 number, answered by the shipped plan, is busy when the file says Busy()."""
    with running_lab(time_scale=0.02, dialplan=busy_plan) as lab:
        out = asyncio.run(_click(lab, operator="101", number="79061234561", client_ring=20))
        assert (out.result, out.client_dial_status, out.client_hangup_cause) == ("client_busy", "BUSY", 17)
        assert _ran(lab, r"Local/79061234561@dialer-outbound-[0-9a-f]+;2")[-1] == ("dialer-outbound", 7, "Busy", "5")


# --- dial-out: its callee leg ----------------------------------------------------------------------

@pytest.mark.parametrize("number, status, cause, inner", [
    # answered: from-dialer (;1) hangs up after its 1 s prompt, during the callee's Wait(2)
    ("79061234561", "ANSWER", None, ["Answer", "Wait"]),
    ("79061234562", "BUSY", "17", ["Busy"]),
    ("79061234564", "CONGESTION", "34", ["Congestion"]),
    ("79061234565", "CHANUNAVAIL", "1", ["Hangup"]),
])
def test_dial_out_dials_a_callee_that_runs_the_dialplan(lab_pbx, number, status, cause, inner):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    c.login()
    originate(c, number, "dial-out", ActionID="d-1")
    msgs = drain(c, lab_pbx)
    c.close()
    outer = _ran(lab_pbx, rf"Local/{number}@dial-out-[0-9a-f]+;2")
    assert outer[:2] == [("dial-out", 1, "Answer", ""), ("dial-out", 2, "Dial", f"Local/{number}@sim-pstn,10")]
    assert _apps(lab_pbx, rf"Local/{number}@sim-pstn-[0-9a-f]+;2")[3:] == inner
    results = events(msgs, "UserEvent", UserEvent="DialResult")
    if status == "ANSWER":
        assert results == [] and [e[2] for e in outer] == ["Answer", "Dial"]
    else:
        assert [(m["DialStatus"], m["HangupCause"]) for m in results] == [(status, cause)]
        assert outer[2:] == [("dial-out", 3, "UserEvent", f"DialResult,Number: {number},DialStatus: {status},"
                                                           f"HangupCause: {cause}"), ("dial-out", 4, "Hangup", "")]
    assert events(msgs, "OriginateResponse")[0]["Reason"] == "4" and not lab_pbx.errors
    created = [m["Channel"] for m in events(msgs, "Newchannel")]
    assert sorted(created) == sorted(m["Channel"] for m in events(msgs, "Hangup")) and len(created) == 4


def test_dial_out_callee_is_whatever_the_dialplan_says(busy_plan):
    with running_lab(time_scale=0.02, dialplan=busy_plan) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        originate(c, "79061234561", "dial-out")
        msgs = drain(c, lab)
        c.close()
    assert [m["DialStatus"] for m in events(msgs, "UserEvent", UserEvent="DialResult")] == ["BUSY"]


# --- random mode: each callee drawn, then acted out by sim-pstn ------------------------------------

REASONS = {"Answer": "4", "Busy": "5", "Ringing": "3", "Congestion": "8", "Hangup": "0"}


def _label(name: str) -> int:
    """The priority of sim-pstn's label `name` in the shipped file."""
    from autodialer.lab.dialplan import load

    return load(DEFAULT_DIALPLAN).find("sim-pstn", "79061234561")[1].labels[name]


def _random_calls(n: int, **opts) -> tuple[dict, dict]:
    """Originate n calls in random mode; per ActionID the OriginateResponse Reason and what the
    callee's leg ran after sim-pstn's branch choice."""
    with running_lab(time_scale=0.01, mode="random", seed=3, **opts) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        for i in range(n):  # the answered leg waits: the callee always ends the call
            originate(c, f"7900000{i:04d}", ActionID=f"r-{i}", Timeout="30000", Application="Wait", Data="100")
        msgs = drain(c, lab, limit=30)
        c.close()
        reasons = {m["ActionID"]: m["Reason"] for m in events(msgs, "OriginateResponse")}
        ran = {f"r-{i}": _ran(lab, rf"Local/7900000{i:04d}@dialer-outbound-[0-9a-f]+;2")[3:] for i in range(n)}
        assert not lab.errors
    return reasons, ran


def test_random_callees_are_acted_out_by_the_dialplan():
    reasons, ran = _random_calls(80, ring_min=2.0, ring_max=2.0, talk_min=0.5, talk_max=0.5)
    assert len(reasons) == 80
    branches = set()
    o = _label("or")
    for aid, apps in ran.items():
        first = apps[0]
        branches.add(first[1])
        if first[1] == o:  # or: rang 2 s, answered, talked 0.5 s, hung up
            assert [(p, a, d) for _, p, a, d in apps] == [(o, "Ringing", ""), (o + 1, "Wait", "2"), (o + 2, "Answer", ""),
                                                          (o + 3, "Wait", "0.5"), (o + 4, "Hangup", "")], aid
            assert reasons[aid] == "4", aid
        else:  # o2 busy, o3 no answer (the Originate's timeout ends Wait(40)), o4 congestion, o5 unallocated
            assert first[1] in (_label("o2"), _label("o3"), _label("o4"), _label("o5")), (aid, apps)
            assert reasons[aid] == REASONS[first[2]], (aid, apps, reasons[aid])
    assert branches >= {o, _label("o2"), _label("o3")}, branches  # answered, busy and unanswered callees were drawn


def test_random_callees_follow_the_dialplan_file(busy_plan, tmp_path):
    """Every callee drawn as answering reaches the `or` branch; this file congests it there."""
    with running_lab(time_scale=0.001, mode="random", seed=3, answer_rate=1.0, busy_rate=0.0, no_answer_rate=0.0,
                     congestion_rate=0.0, ring_min=1.0, ring_max=1.0, dialplan=busy_plan) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        for i in range(5):
            originate(c, f"7900000{i:04d}", ActionID=f"r-{i}", Timeout="30000")
        msgs = drain(c, lab)
        c.close()
        congested = [e for e in lab.trace if e.kind == "app" and e.name == "Congestion"]
    assert sorted(m["Reason"] for m in events(msgs, "OriginateResponse")) == ["8"] * 5
    assert len(congested) == 5 and {e.priority for e in congested} == {_label("or") + 2}

"""Replay the Originates of the recorded transcripts against the lab PBX and compare what comes back
(event names, order, key headers; ids and timestamps ignored) with what Asterisk 22.10.1 sent."""

from __future__ import annotations

import re
import time

import pytest

from test_lab_rawami import RawAmi, family, read_transcript

TRANSCRIPTS = [
    "ami_full_79061234561.txt", "ami_full_79061234562.txt", "ami_full_79061234563.txt", "ami_full_79061234564.txt",
    "ami_full_79061234565.txt", "ami_chanid.txt", "ami_6.txt", "ami_dialout_79061234562.txt",
    "ami_dialout_79061234565.txt", "ami_queue_call.txt",
]
# Headers whose values must match when the recording has them (ids, times and durations differ by nature).
KEY_HEADERS = [
    "Response", "Message", "Privilege", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Cause",
    "Cause-txt", "DialStatus", "DialString", "Reason", "UserEvent", "Number", "Digit", "ReadStatus", "Queue",
    "Position", "Interface", "MemberName", "Application", "DestChannelState", "DestChannelStateDesc",
    "DestCallerIDNum", "DestCallerIDName", "DestConnectedLineNum", "DestContext", "DestExten", "DestPriority",
]
_GENERATED_ID = re.compile(r"\d+\.\d+")


def _channel(m: dict) -> str:
    return family(m.get("Channel") or m.get("DestChannel") or "")


def _drain(client: RawAmi, lab, quiet: float = 0.3, limit: float = 15.0) -> list[dict]:
    out = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            out.append(client.read(quiet))
        except TimeoutError:
            if lab.active_calls() == 0:
                return out
    raise AssertionError("the lab call did not end")


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_transcript_replay(lab_pbx, shared_dir, name):
    actions, recorded = read_transcript(shared_dir / name)
    originate = next(a for a in actions if a[0] == ("Action", "Originate"))
    client = RawAmi(lab_pbx.host, lab_pbx.port)
    try:
        assert client.login()["Message"] == "Authentication accepted"
        headers = [(k, v) for k, v in originate if k not in ("Action", "ActionID")]
        action_id = dict(originate)["ActionID"]
        client.send("Originate", *headers, ActionID=action_id)
        got = _drain(client, lab_pbx)
    finally:
        client.close()

    names = {m.get("Event") for m in recorded if "Event" in m}
    families = {_channel(m) for m in recorded if "Event" in m}
    lab = [m for m in got if "Response" in m or (m.get("Event") in names and _channel(m) in families)]
    if "@dial-out" in dict(originate)["Channel"]:
        # dial-out's ;2 answers at once: the originate thread's OriginateResponse then races ;2's
        # dialplan (the busy recording has it next to last, the unallocated one right after the
        # answer, where the lab sends it). Its place is checked on its own; the rest in order.
        def floating(m):
            return m.get("Event") == "OriginateResponse"

        answered = next(i for i, m in enumerate(lab) if m.get("Event") == "DialEnd" and m.get("DialStatus") == "ANSWER")
        response = next(i for i, m in enumerate(lab) if floating(m))
        last_hangup = max(i for i, m in enumerate(lab) if m.get("Event") == "Hangup")
        assert answered < response < last_hangup, f"{name}: OriginateResponse at {response}"
        assert [m.get("Reason") for m in lab if floating(m)] == [m.get("Reason") for m in recorded if floating(m)] == ["4"]
        lab = [m for m in lab if not floating(m)]
        recorded = [m for m in recorded if not floating(m)]
    want = [(m.get("Event") or "Response", _channel(m)) for m in recorded]
    have = [(m.get("Event") or "Response", _channel(m)) for m in lab]
    assert have == want, f"{name}: event order differs"

    full = name.startswith("ami_full_")
    for i, (rec, mine) in enumerate(zip(recorded, lab)):
        where = f"{name} message {i} ({rec.get('Event') or 'Response'} {rec.get('Channel', '')})"
        for key in KEY_HEADERS:
            if key in rec:
                assert mine.get(key) == rec[key], f"{where}: {key} is {mine.get(key)!r}, recorded {rec[key]!r}"
        for key in ("Uniqueid", "Linkedid", "ActionID"):
            if key in rec and not _GENERATED_ID.fullmatch(rec[key]):
                assert mine.get(key) == rec[key], f"{where}: {key}"
        if full:
            assert mine["_order"] == rec["_order"], f"{where}: header order differs"


@pytest.mark.parametrize("name", ["ami_qsummary.txt", "ami_qstatus.txt", "ami_coreshow.txt"])
def test_list_actions_have_the_recorded_shape(lab_pbx, shared_dir, name):
    """QueueSummary, QueueStatus, CoreShowChannels: the same messages with the same headers in the same order."""
    actions, recorded = read_transcript(shared_dir / name)
    action = dict(next(a for a in actions if a[0][1] not in ("Login", "Logoff")))
    client = RawAmi(lab_pbx.host, lab_pbx.port)
    try:
        client.login(Events="off")
        if name == "ami_coreshow.txt":  # something to list: a ringing call (two channels)
            client.send("Originate", Channel="Local/79061234563@sim-pstn", Context="from-dialer", Exten="s",
                        Async="true", Timeout="600000")
            time.sleep(0.1)
        extra = {k: v for k, v in action.items() if k not in ("Action", "ActionID")}
        client.send(action["Action"], ActionID=action["ActionID"], **extra)
        complete = recorded[-1]["Event"]
        got = [m for m in client.until(lambda m: m.get("Event") == complete) if m.get("ActionID") == action["ActionID"]]
    finally:
        client.close()
    rec_shapes = {(m.get("Event") or "Response"): m["_order"] for m in recorded}
    for m in got:
        kind = m.get("Event") or "Response"
        assert kind in rec_shapes, kind
        assert m["_order"] == rec_shapes[kind], f"{name}: {kind} headers"
    assert got[0]["Message"] == recorded[0]["Message"]
    assert [m.get("Event") for m in got][0] is None and got[-1]["EventList"] == "Complete"

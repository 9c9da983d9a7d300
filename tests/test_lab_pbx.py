"""The lab PBX over real TCP with a raw-socket AMI client: login, ping, every outcome of the plan,
ids, variables and the robot, queue, conference, CoreShowChannels, Hangup, events control."""

from __future__ import annotations

import time

import pytest

from autodialer.lab import LabOptions, running_lab
from test_lab_rawami import RawAmi


@pytest.fixture
def ami(lab_pbx):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    assert c.login()["Response"] == "Success"
    yield c
    c.close()
    assert lab_pbx.errors == []  # no exception inside a simulated call


def drain(c: RawAmi, lab, quiet: float = 0.25, limit: float = 10.0) -> list[dict]:
    """Every message until the lab has no call left and the line is quiet."""
    out = getattr(c, "backlog", [])
    c.backlog = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            out.append(c.read(quiet))
        except TimeoutError:
            if lab.active_calls() == 0:
                return out
    raise AssertionError(f"calls still running: {lab.active_calls()}")


def originate(c: RawAmi, number: str, context: str = "dialer-outbound", *pairs, **headers) -> dict:
    h = {"Channel": f"Local/{number}@{context}", "Context": "from-dialer", "Exten": "s", "Priority": "1",
         "Async": "true", "Timeout": "10000", "CallerID": '"Dialer" <1000>'}
    h.update(headers)
    resp, seen = c.action("Originate", *pairs, **h)
    c.backlog = getattr(c, "backlog", []) + seen  # events of earlier calls, for drain()
    return resp


def events(msgs, name, **match):
    return [m for m in msgs if m.get("Event") == name and all(m.get(k) == v for k, v in match.items())]


# --- session basics ------------------------------------------------------------------------------

def test_banner_login_ping_logoff(lab_pbx):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    assert c.banner == "Asterisk Call Manager/11.0.0"
    resp = c.login()
    assert resp["_order"] == ["Response", "ActionID", "Message"]
    assert resp["Message"] == "Authentication accepted"
    pong, _ = c.action("Ping", ActionID="p-1")
    assert pong["Response"] == "Success" and pong["Ping"] == "Pong" and pong["ActionID"] == "p-1"
    assert abs(float(pong["Timestamp"]) - time.time()) < 5
    bye, _ = c.action("Logoff", ActionID="bye")
    assert (bye["Response"], bye["Message"]) == ("Goodbye", "Thanks for all the fish.")
    with pytest.raises(ConnectionError):
        c.read(2)


def test_wrong_secret_is_refused_and_closed(lab_pbx):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    resp = c.login(secret="nope")
    assert (resp["Response"], resp["Message"]) == ("Error", "Authentication failed")
    with pytest.raises(ConnectionError):
        c.read(2)


def test_actions_before_login_and_unknown_actions(lab_pbx):
    c = RawAmi(lab_pbx.host, lab_pbx.port)
    resp, _ = c.action("Originate", Channel="Local/79061234561@sim-pstn", Exten="s", Context="from-dialer")
    assert (resp["Response"], resp["Message"]) == ("Error", "Permission denied")
    assert c.login()["Response"] == "Success"
    resp, _ = c.action("NoSuchThing")
    assert (resp["Response"], resp["Message"]) == ("Error", "Invalid/unknown command")
    assert lab_pbx.active_calls() == 0


def test_secret_never_in_reprs(lab_pbx):
    assert "dialer-secret" not in repr(lab_pbx)
    assert "dialer-secret" not in repr(LabOptions())
    assert "dialer-secret" in lab_pbx.url  # the URL is for AUTODIALER_AMI_URL


# --- the numbering plan -----------------------------------------------------------------------------

# digit: OriginateResponse (Response, Reason), Hangup cause of ;1 and ;2, DialEnd DialStatus (None: none sent)
PLAN = {
    "1": ("Success", "4", "16", "16", "ANSWER"),
    "2": ("Failure", "5", "0", "17", "BUSY"),
    "3": ("Failure", "3", "19", "19", None),
    "4": ("Failure", "8", "0", "34", "CONGESTION"),
    "5": ("Failure", "0", "1", "1", "NOANSWER"),
    "6": ("Success", "4", "16", "16", "ANSWER"),
    "0": ("Success", "4", "16", "16", "ANSWER"),
}


@pytest.mark.parametrize("digit", list(PLAN))
def test_each_outcome_of_the_plan(ami, lab_pbx, digit):
    number = "7906123456" + digit
    assert originate(ami, number, ActionID="o-1")["Message"] == "Originate successfully queued"
    msgs = drain(ami, lab_pbx)
    response, reason, cause1, cause2, dialstatus = PLAN[digit]
    (resp,) = events(msgs, "OriginateResponse")
    assert (resp["Response"], resp["Reason"], resp["ActionID"]) == (response, reason, "o-1")
    assert resp["Uniqueid"] != "<unknown>" if response == "Success" else resp["Uniqueid"] == "<unknown>"
    hangups = {m["Channel"][-2:]: m for m in events(msgs, "Hangup")}
    assert (hangups[";1"]["Cause"], hangups[";2"]["Cause"]) == (cause1, cause2)
    assert hangups[";2"]["Context"] == "dialer-outbound"
    assert [m["DialStatus"] for m in events(msgs, "DialEnd")] == ([dialstatus] if dialstatus else [])
    if digit == "1":
        (done,) = events(msgs, "UserEvent", UserEvent="DialerDone")
        assert done["Context"] == "dialer-done" and done["Privilege"] == "user,all"
    if digit == "3":
        assert [m["DialStatus"] for m in events(msgs, "DialState")] == ["RINGING"]


def test_channel_ids_come_back(ami, lab_pbx):
    originate(ami, "79061234561", ChannelId="att-1", OtherChannelId="att-1-b", Account="camp-9")
    originate(ami, "79061234562", ChannelId="att-2")
    msgs = drain(ami, lab_pbx)
    new = {m["Channel"]: m for m in events(msgs, "Newchannel")}
    ids = sorted((m["Uniqueid"], m["Linkedid"]) for m in new.values())
    assert ids == [("att-1", "att-1"), ("att-1-b", "att-1"), ("att-2", "att-2"), ("att-2;2", "att-2")]
    by_id = {m["Uniqueid"]: m for m in events(msgs, "OriginateResponse")}
    assert by_id["att-1"]["Response"] == "Success" and by_id["att-2"]["Reason"] == "5"
    assert {m["AccountCode"] for m in new.values() if m["Uniqueid"].startswith("att-1")} == {"camp-9"}


def test_synchronous_originate_answers_after_the_call_is_decided(ami, lab_pbx):
    resp = originate(ami, "79061234562", Async="false")
    assert (resp["Response"], resp["Message"]) == ("Error", "Originate failed")
    assert ami.backlog and ami.backlog[0]["Event"] == "Newchannel"  # the events came first
    resp = originate(ami, "79061234561", Async="no")
    assert (resp["Response"], resp["Message"]) == ("Success", "Originate successfully queued")
    drain(ami, lab_pbx)


def test_dtmf_from_the_destination_reaches_the_callee(ami, lab_pbx):
    originate(ami, "79061234566", Exten="dtmf", Variable="DTMF_DIGITS=7")
    msgs = drain(ami, lab_pbx)
    (sim,) = events(msgs, "UserEvent", UserEvent="SimDTMF")
    assert (sim["Digit"], sim["ReadStatus"], sim["Number"]) == ("7", "OK", "79061234566")
    assert [m["Digit"] for m in events(msgs, "DTMFEnd")] == ["7"]


@pytest.mark.parametrize("press,result", [("1", "confirmed"), ("2", "cancelled"), ("9", "no_input"), (None, "no_input")])
def test_order_robot_reports_the_key_the_callee_pressed(ami, lab_pbx, press, result):
    pairs = [("Variable", "ATTEMPT_ID=a-17"), ("Variable", "ORDER_TEXT=two pizzas")]
    if press:
        pairs.append(("Variable", f"SIM_PRESS={press},ORDER_ID=4711"))
    # Without SIM_PRESS, ...6 stays on the line 11 s (it waits 10 s for a digit); the robot with no
    # order number to say gives up after 2 x 5 s.
    originate(ami, "79061234561" if press else "79061234566", "dialer-outbound", *pairs, Context="dialer-robot-order")
    msgs = drain(ami, lab_pbx)
    (res,) = events(msgs, "UserEvent", UserEvent="DialerResult")
    assert (res["AttemptId"], res["Key"], res["Result"]) == ("a-17", press or "", result)
    assert res["Context"] == "dialer-robot-order" and res["Priority"] == "11"


def test_order_robot_operator_goes_to_the_queue(ami, lab_pbx):
    originate(ami, "79061234561", "dialer-outbound", ("Variable", "SIM_PRESS=3,ATTEMPT_ID=a-3"), Context="dialer-robot-order")
    msgs = drain(ami, lab_pbx)
    (res,) = events(msgs, "UserEvent", UserEvent="DialerResult")
    assert res["Result"] == "operator"
    names = [m.get("Event") for m in msgs]
    for name in ("QueueCallerJoin", "AgentCalled", "AgentConnect", "QueueCallerLeave", "AgentComplete"):
        assert name in names, name
    assert names.index("DialerResult" if False else "UserEvent") < names.index("QueueCallerJoin")


def test_unknown_technology_fails_like_asterisk(ami, lab_pbx):
    assert originate(ami, "x", Channel="PJSIP/79061234561@trunk")["Response"] == "Success"
    msgs = drain(ami, lab_pbx)
    (resp,) = events(msgs, "OriginateResponse")
    assert (resp["Response"], resp["Reason"], resp["Channel"]) == ("Failure", "0", "PJSIP/79061234561@trunk")
    resp, _ = ami.action("Originate", Channel="nonsense", Exten="s", Context="from-dialer", Async="true")
    assert (resp["Response"], resp["Message"]) == ("Error", "Invalid channel")
    resp, _ = ami.action("Originate", Channel="Local/1@sim-pstn", Exten="s", Timeout="soon", Async="true")
    assert resp["Message"] == "Invalid timeout"


def test_application_originate(ami, lab_pbx):
    originate(ami, "79061234561", Context="", Exten="", Application="Wait", Data="1")
    msgs = drain(ami, lab_pbx)
    (resp,) = events(msgs, "OriginateResponse")
    assert (resp["Application"], resp["Data"], resp["Reason"]) == ("Wait", "1", "4")


# --- CoreShowChannels and Hangup ---------------------------------------------------------------------

def test_coreshowchannels_and_hangup_by_name(ami, lab_pbx):
    originate(ami, "79061234563", Timeout="600000")  # rings for 10 scaled minutes
    ami.until(lambda m: m.get("Event") == "DialState")
    resp, _ = ami.action("CoreShowChannels", ActionID="cs-1")
    assert (resp["EventList"], resp["Message"]) == ("start", "Channels will follow")
    items = ami.until(lambda m: m.get("Event") == "CoreShowChannelsComplete")
    chans = [m for m in items if m.get("Event") == "CoreShowChannel"]
    assert len(chans) == 2 and all(m["ActionID"] == "cs-1" for m in chans)
    assert items[-1]["ListItems"] == "2" and items[-1]["EventList"] == "Complete"
    assert chans[0]["_order"][:2] == ["Event", "ActionID"] and chans[0]["Duration"].count(":") == 2
    leg1 = next(m["Channel"] for m in chans if m["Channel"].endswith(";1"))
    resp, _ = ami.action("Hangup", Channel=leg1)
    assert (resp["Response"], resp["Message"]) == ("Success", "Channel Hungup")
    msgs = drain(ami, lab_pbx)
    (orig,) = events(msgs, "OriginateResponse")
    assert (orig["Response"], orig["Reason"]) == ("Failure", "1")
    assert {m["Cause"] for m in events(msgs, "Hangup")} == {"16"}
    resp, _ = ami.action("Hangup", Channel=leg1)
    assert (resp["Response"], resp["Message"]) == ("Error", "No such channel")


def test_hangup_by_regex_ends_answered_calls(ami, lab_pbx):
    originate(ami, "79061234563", Timeout="600000")  # both ring (Wait(40): 0.8 s scaled)
    originate(ami, "79061234573", Timeout="600000")
    originate(ami, "79061234583", Timeout="600000")
    resp, _ = ami.action("Hangup", Channel="/^Local/790612345[78]3@dialer-outbound-.*;1$/", Cause="21")
    assert (resp["Response"], resp["EventList"]) == ("Success", "start")
    done = ami.until(lambda m: m.get("Event") == "ChannelsHungupListComplete")
    assert done[-1]["ListItems"] == "2"
    assert len([m for m in done if m.get("Event") == "ChannelHungup"]) == 2
    msgs = drain(ami, lab_pbx)
    reasons = sorted(m["Reason"] for m in events(msgs, "OriginateResponse"))
    assert reasons == ["1", "1", "3"]
    assert sorted(m["Cause"] for m in events(msgs, "HangupRequest") if m["Channel"].endswith(";1")) == ["21", "21"]


# --- queue -----------------------------------------------------------------------------------------

def _summary(c):
    c.send("QueueSummary", Queue="support")
    msgs = c.until(lambda m: m.get("Event") == "QueueSummaryComplete")
    return next(m for m in msgs if m.get("Event") == "QueueSummary")


def test_queue_summary_and_status_with_busy_agents():
    with running_lab(time_scale=0.02, agents=2, agent_talk=10.0) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login(Events="off")
        s = _summary(c)
        assert (s["LoggedIn"], s["Available"], s["Callers"]) == ("2", "2", "0")
        for n in ("79061234561", "79061234571", "79061234581"):
            originate(c, n, Context="dialer-queue", Exten="s")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            s = _summary(c)
            if s["Available"] == "0" and s["Callers"] == "1":
                break
            time.sleep(0.02)
        assert (s["LoggedIn"], s["Available"], s["Callers"]) == ("2", "0", "1")
        c.send("QueueStatus", Queue="support", ActionID="qs")
        msgs = c.until(lambda m: m.get("Event") == "QueueStatusComplete")
        params = next(m for m in msgs if m.get("Event") == "QueueParams")
        assert params["Strategy"] == "rrmemory" and params["Calls"] == "1"
        members = [m for m in msgs if m.get("Event") == "QueueMember"]
        assert [(m["Name"], m["InCall"], m["Status"]) for m in members] == [("Agent One", "1", "2"), ("Agent Two", "1", "2")]
        assert len([m for m in msgs if m.get("Event") == "QueueEntry"]) == 1
        assert msgs[-1]["ListItems"] == "4" and all(m["ActionID"] == "qs" for m in msgs)
        c.close()


def test_inbound_caller_abandons_when_no_agent_is_free():
    with running_lab(time_scale=0.02, agents=0) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        lab.inbound_call(caller="79161234567", queue="support", abandon_after=2.0)
        msgs = c.until(lambda m: m.get("Event") == "QueueCallerAbandon", timeout=5)
        join = next(m for m in msgs if m.get("Event") == "QueueCallerJoin")
        assert join["CallerIDNum"] == "79161234567" and join["Queue"] == "support"
        assert msgs[-1]["Queue"] == "support" and msgs[-1]["Position"] == "1"
        drain(c, lab)
        c.send("QueueStatus", Queue="support")
        params = next(m for m in c.until(lambda m: m.get("Event") == "QueueStatusComplete") if m.get("Event") == "QueueParams")
        assert params["Abandoned"] == "1"
        c.close()


def test_conference_room(ami, lab_pbx):
    for n in ("79061234561", "79061234571"):
        originate(ami, n, "dialer-outbound", ("Variable", "CONF_ROOM=room-7"), Context="dialer-conference")
    msgs = drain(ami, lab_pbx)
    assert [m["Conference"] for m in events(msgs, "ConfbridgeJoin")] == ["room-7", "room-7"]
    assert len(events(msgs, "ConfbridgeLeave")) == 2
    assert len(events(msgs, "ConfbridgeStart")) == 1 and len(events(msgs, "ConfbridgeEnd")) == 1


# --- events control ----------------------------------------------------------------------------------

def test_events_off_filter_and_userevent_action(lab_pbx):
    quiet = RawAmi(lab_pbx.host, lab_pbx.port)
    quiet.login(Events="off")
    only_user = RawAmi(lab_pbx.host, lab_pbx.port)
    only_user.login()
    resp, _ = only_user.action("Filter", Operation="Add", Filter="UserEvent: Hello")
    assert resp["Message"] == "Filter Added Successfully"
    talker = RawAmi(lab_pbx.host, lab_pbx.port)
    talker.login()
    originate(talker, "79061234562")
    resp, _ = talker.action("UserEvent", UserEvent="Hello", Foo="bar")
    assert resp["Response"] == "Success"
    ev = only_user.until(lambda m: "Event" in m)[-1]
    assert (ev["Event"], ev["UserEvent"], ev["Foo"]) == ("UserEvent", "Hello", "bar")
    pong, seen = quiet.action("Ping")
    assert seen == []
    resp, _ = quiet.action("Events", EventMask="on")
    assert resp["Events"] == "On"
    for c in (quiet, only_user, talker):
        c.close()


# --- random mode -------------------------------------------------------------------------------------

def _reasons(seed):
    with running_lab(time_scale=0.001, mode="random", seed=seed) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        for i in range(120):
            originate(c, f"7900000{i:04d}", ActionID=f"r-{i}", Timeout="30000")
        msgs = drain(c, lab, limit=20)
        c.close()
    return {m["ActionID"]: m["Reason"] for m in msgs if m.get("Event") == "OriginateResponse"}


def test_random_mode_mixes_outcomes_and_is_seedable():
    a = _reasons(7)
    assert len(a) == 120
    counts = {r: list(a.values()).count(r) for r in set(a.values())}
    assert set(counts) <= {"4", "5", "3", "8", "0"} and counts.get("4", 0) > 40 and len(counts) >= 4
    assert _reasons(7) == a

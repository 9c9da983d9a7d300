"""The lab's destinations for click-to-call, the survey robot and conference assembly.

Mirrors the contexts `dialer-callback`, `dialer-robot-survey` and `dialer-conference-join` of
asterisk-lab/extensions.conf (priorities included), like dests.py does for the others. The
operator of click-to-call is `Local/<ext>@dialer-operators` (calls.py answers it at once).
"""

from __future__ import annotations

import time

from autodialer.lab import plan
from autodialer.lab.channels import BUSY, RINGING, UP, Channel

PROMPT_SECONDS = 1.0  # one survey prompt (greeting, question, goodbye)
CLIENT_TALK_SECONDS = {"answered": 2.0, "short": 1.0, "dtmf": 2.0, "press": 2.0}

# DIALSTATUS -> the click-to-call result the dialplan reports (dialer-callback, priorities 3-8)
CALLBACK_RESULTS = {"ANSWER": "connected", "BUSY": "client_busy", "NOANSWER": "client_no_answer",
                    "CONGESTION": "client_congestion", "CHANUNAVAIL": "client_unavailable"}


async def dial_client(call, l1: Channel, number: str, timeout: float) -> tuple[str, int]:
    """Dial(Local/<number>@dialer-outbound,<timeout>,g) from `l1`: the simulated PSTN answers as
    the numbering plan says (last digit). Returns (DIALSTATUS, HANGUPCAUSE)."""
    outcome = plan.outcome_for(number)
    c1, c2 = call.open_pair(number, "dialer-outbound", linkedid=l1.linkedid, names=("c1", "c2"), dial=False)
    c2.at(priority=outcome.priority)
    call.emit("DialBegin", l1.snapshot() + c1.snapshot("Dest") + f"DialString: {number}@dialer-outbound\r\n")

    def end(status: str, cause: int) -> tuple[str, int]:
        call.emit("DialEnd", l1.snapshot() + c1.snapshot("Dest") + f"DialStatus: {status}\r\n")
        for ch in (c1, c2):
            if ch.alive:
                call.hangup_channel(ch, cause)
        return status, cause

    if outcome.answered:
        c2.state = c1.state = UP
        call.emit("Newstate", c2.snapshot())
        call.emit("Newstate", c1.snapshot())
        call.emit("DialEnd", l1.snapshot() + c1.snapshot("Dest") + "DialStatus: ANSWER\r\n")
        await call.wait(CLIENT_TALK_SECONDS.get(outcome.name, 2.0), False)
        for ch in (c2, c1):  # the client hangs up; `g` goes on in the dialplan
            call.hangup_channel(ch, 16)
        return "ANSWER", 16
    if outcome.name == "busy":
        c2.state = BUSY
        call.emit("Newstate", c2.snapshot())
        return end("BUSY", 17)
    if outcome.name == "congestion":
        c2.state = BUSY
        call.emit("Newstate", c2.snapshot())
        return end("CONGESTION", 34)
    if outcome.name == "no_answer":
        c1.state = RINGING
        call.emit("Newstate", c1.snapshot())
        call.emit("DialState", l1.snapshot() + c1.snapshot("Dest") + "DialStatus: RINGING\r\n")
        await call.wait(timeout, False)
        return end("NOANSWER", 19)
    return end("CHANUNAVAIL", 1)  # unallocated


async def _dialer_callback(call, l1: Channel, exten: str) -> None:
    """dialer-callback,s: the operator answered; Dial the client, report DialerResult."""
    if exten != "s":
        return
    v = call.vars
    number = v.get("CLIENT_NUMBER", "")
    try:
        ring = float(v.get("CLIENT_RING") or 30)
    except ValueError:
        ring = 30.0
    l1.at("dialer-callback", "s", 2, "Dial", f"Local/{number}@dialer-outbound,{v.get('CLIENT_RING', '')},g")
    status, cause = await dial_client(call, l1, number, ring)
    l1.at(priority=9, app="UserEvent", appdata="DialerResult")
    call.user_event(l1, "DialerResult", (("AttemptId", v.get("ATTEMPT_ID", "")),
                                         ("Result", CALLBACK_RESULTS.get(status, "client_failed")),
                                         ("DialStatus", status), ("HangupCause", str(cause))))
    l1.at(priority=10, app="UserEvent", appdata="DialResult")
    call.user_event(l1, "DialResult", (("Number", number), ("DialStatus", status), ("HangupCause", str(cause))))
    l1.at(priority=11, app="Hangup", appdata="")


async def _robot_survey(call, l1: Channel, exten: str) -> None:
    """dialer-robot-survey,s: greeting, one Read per question (UserEvent DialerAnswer each),
    DialerResult (completed / partial / no_input), goodbye."""
    from autodialer.lab.dests import read_digit

    if exten != "s":
        return
    v = call.vars
    attempt = v.get("ATTEMPT_ID", "")
    try:
        count = int(v.get("SURVEY_QUESTIONS") or 0)
    except ValueError:
        count = 0
    if v.get("SURVEY_GREETING"):
        l1.at("dialer-robot-survey", "s", 5, "ExecIf", f"1?Playback({v['SURVEY_GREETING']})")
        await call.wait(PROMPT_SECONDS, False)
    answered = 0
    for q in range(1, count + 1):
        prompt = v.get(f"SURVEY_Q{q}", "")
        l1.at("dialer-robot-survey", "s", 8, "Read", f"KEY,{prompt},1,,2,5")
        key = await read_digit(call, l1, PROMPT_SECONDS + 5.0, False)
        if key is None:
            key = await read_digit(call, l1, PROMPT_SECONDS + 5.0, False)
        key = key or ""
        answered += 1 if key else 0
        l1.at(priority=9, app="UserEvent", appdata="DialerAnswer")
        call.user_event(l1, "DialerAnswer", (("AttemptId", attempt), ("Question", str(q)), ("Key", key)))
    result = "completed" if count and answered == count else ("partial" if answered else "no_input")
    l1.at(priority=14, app="UserEvent", appdata="DialerResult")
    call.user_event(l1, "DialerResult", (("AttemptId", attempt), ("Result", result), ("Answered", str(answered))))
    if v.get("SURVEY_GOODBYE"):
        l1.at(priority=15, app="ExecIf", appdata=f"1?Playback({v['SURVEY_GOODBYE']})")
        await call.wait(PROMPT_SECONDS, False)
    l1.at(priority=16, app="Hangup", appdata="")


async def _conference_join(call, l1: Channel, exten: str) -> None:
    """dialer-conference-join,s: report DialerResult joined, then ConfBridge as moderator (marked),
    participant (waits for the moderator, leaves when the moderator leaves) or listener (the same,
    muted)."""
    if exten != "s":
        return
    v = call.vars
    room = v.get("CONF_ROOM", "")
    if not room:
        return
    role = v.get("CONF_ROLE", "") or "participant"
    l1.at("dialer-conference-join", "s", 2, "UserEvent", "DialerResult")
    call.user_event(l1, "DialerResult", (("AttemptId", v.get("ATTEMPT_ID", "")), ("Result", "joined"), ("Role", role)))
    moderator = role == "moderator"
    if moderator:
        l1.at(priority=7, app="ConfBridge", appdata=f"{room},dialer_bridge,dialer_moderator")
    elif role == "listener":
        l1.at(priority=9, app="ConfBridge", appdata=f"{room},dialer_bridge,dialer_listener")
    else:
        l1.at(priority=5, app="ConfBridge", appdata=f"{room},dialer_bridge,dialer_participant")
    await call.pbx.conference(room).attend(call, l1, False, marked=moderator, end_marked=not moderator,
                                           muted=role == "listener")


async def _dialer_recall(call, l1: Channel, exten: str) -> None:
    """dialer-recall,s: Queue(${QUEUE}) for a called-back client; DialerQueue if nobody answered."""
    if exten != "s":
        return
    queue = call.vars.get("QUEUE", "") or "support"
    l1.at("dialer-recall", "s", 2, "Queue", f"{queue},,,,60")
    status = await call.pbx.queue(queue).enter(call, l1, 60.0, False)
    if status == "ANSWERED":
        return
    l1.at(priority=3, app="UserEvent", appdata="DialerQueue")
    call.user_event(l1, "DialerQueue", (("AttemptId", call.vars.get("ATTEMPT_ID", "")), ("QueueStatus", status)))
    l1.at(priority=4, app="Hangup", appdata="")


async def run_queue_first(call) -> None:
    """The first leg Local/<client>@dialer-queue-first: leg ;2 waits in queue ${QUEUE} without
    answering (Queue option r); when an operator takes it, both legs go Up, the Originate
    succeeds and leg ;1 runs its destination (dialer-callback dials the client). No operator
    within the Originate's timeout: Reason 3, as an unanswered ring."""
    from autodialer.lab.calls import HungUp

    req = call.req
    queue = call.vars.get("QUEUE") or "support"
    l1, l2 = call.open_pair(req.exten, req.context, req.channel_id, req.other_channel_id)
    l2.at(priority=2, app="Queue", appdata=f"{queue},r,,,60")
    l1.state = RINGING  # the caller side hears ringing until an operator answers
    call.emit("Newstate", l1.snapshot())

    def connected() -> None:
        l2.state = l1.state = UP
        call.emit("Newstate", l2.snapshot())
        call.emit("Newstate", l1.snapshot())
        call.emit("DialEnd", l1.snapshot("Dest") + "DialStatus: ANSWER\r\n")
        call.originate_response(4)
        call.answered_at = time.time()
        call.dest_task = call.pbx.loop.create_task(call._dest_side())

    try:
        status = await call.pbx.queue(queue).enter(call, l2, min(60.0, req.timeout), True, on_connect=connected)
    except HungUp:
        by, leg, cause = call.hangup_by
        call.cause = cause
        if call.answered_at is None:
            await call.play(plan.HANGUP_BEFORE_ANSWER)
        else:
            call._stop_dest()
            await call._finish(plan.DEST_FIRST if by == "dest" else plan.AMI_HANGUP_LEG1)
        return
    if status != "ANSWERED":  # nobody took it in time
        call.cause = 19
        await call.play((("HangupRequest", "2", 19), ("OriginateResponse", 3), ("Hangup", "1", 19), ("Hangup", "2", 19)))
        return
    call._stop_dest()
    await call._finish(plan.QUEUE_ENDED)  # the operator hung up


CONTEXTS = {
    "dialer-recall": _dialer_recall,
    "dialer-callback": _dialer_callback,
    "dialer-robot-survey": _robot_survey,
    "dialer-conference-join": _conference_join,
}

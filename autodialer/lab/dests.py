"""What the answered leg ;1 does where the Originate sent it (Context/Exten/Priority or Application).

Mirrors asterisk-lab/extensions.conf: from-dialer (s, digits, dtmf, queue, echo), dialer-robot-order,
dialer-queue, dialer-conference; an Application originate runs that application. Priorities match
the config so events show the same Context/Exten/Priority a real Asterisk would.
"""

from __future__ import annotations

import asyncio
import re

from autodialer.lab.channels import Channel

SAY_DIGIT_SECONDS = 0.6  # one digits/N prompt
DTMF_SECONDS = 0.1  # DTMFBegin -> DTMFEnd (ami_6.txt)
_DIGITS = re.compile(r"[+0-9]+")


async def read_digit(call, ch: Channel, timeout: float, main: bool) -> str | None:
    """Read(VAR,,1,...): the next DTMF digit received on `ch`, or None after `timeout` seconds."""
    if ch.inbox:
        return ch.inbox.pop(0)
    fut = call.pbx.loop.create_future()
    ch.digit_waiter = fut
    try:
        return await call.wait(timeout, main, fut)
    finally:
        ch.digit_waiter = None


async def send_dtmf(call, to: Channel, digits: str, main: bool) -> None:
    """SendDTMF(digits): the far leg reports DTMFBegin/DTMFEnd (Direction: Received) and may Read them."""
    for d in digits:
        if not to.alive:
            return
        call.emit("DTMFBegin", to.snapshot() + f"Digit: {d}\r\nDirection: Received\r\n", "dtmf")
        await call.wait(DTMF_SECONDS, main)
        call.emit("DTMFEnd", to.snapshot() + f"Digit: {d}\r\nDurationMs: {int(DTMF_SECONDS * 1000)}\r\nDirection: Received\r\n", "dtmf")
        w = to.digit_waiter
        if w is not None and not w.done():
            w.set_result(d)
        else:
            to.inbox.append(d)


async def run_destination(call) -> None:
    """Run leg ;1 through its destination; returning means ;1 hangs up (Hangup())."""
    req = call.req
    l1 = call.legs["1"]
    if req.application:
        await _application(call, l1, req.application, req.data)
        return
    ctx, exten = req.dest_context, req.dest_exten or "s"
    runner = _CONTEXTS.get(ctx)
    if runner is None:
        return  # no such extension: Asterisk hangs the leg up at once
    await runner(call, l1, exten)


async def _sleep(call, seconds: float) -> None:
    await call.wait(seconds, False)


async def _application(call, l1: Channel, app: str, data: str) -> None:
    l1.at(app=app, appdata=data)
    name = app.lower()
    if name == "wait":
        try:
            await _sleep(call, float(data or 0))
        except ValueError:
            return
    elif name == "playback":
        await _sleep(call, 1.0)
    elif name in ("echo", "musiconhold"):
        await call.wait(None, False)
    elif name == "queue":
        parts = data.split(",")
        timeout = float(parts[4]) if len(parts) > 4 and parts[4] else None
        await call.pbx.queue(parts[0]).enter(call, l1, timeout, False)
    elif name == "confbridge":
        await call.pbx.conference(data.split(",")[0]).attend(call, l1, False)
    elif name == "userevent":
        name_, _, rest = data.partition(",")
        headers = [tuple(p.split(":", 1)) for p in rest.split(",") if ":" in p]
        call.user_event(l1, name_, [(k.strip(), v.strip()) for k, v in headers])


async def _from_dialer(call, l1: Channel, exten: str) -> None:
    v = call.vars
    if exten == "s" or _DIGITS.fullmatch(exten):
        l1.at("from-dialer", exten, 1, "Gosub", f"dialer-done,s,1({exten})")
        l1.at("dialer-done", "s", 1, "NoOp", "")
        l1.at(priority=2, app="Playback", appdata="silence/1")
        await _sleep(call, 1.0)
        l1.at(priority=3, app="UserEvent", appdata="DialerDone")
        call.user_event(l1, "DialerDone", (("Exten", exten),))
        l1.at("from-dialer", exten, 2, "Hangup", "")
    elif exten == "dtmf":
        l1.at("from-dialer", "dtmf", 2, "Wait", "1")
        await _sleep(call, 1.0)
        digits = v.get("DTMF_DIGITS") or "5"
        l1.at(priority=3, app="SendDTMF", appdata=digits)
        await send_dtmf(call, call.legs["2"], digits, False)
        l1.at(priority=4, app="Wait", appdata="3")
        await _sleep(call, 3.0)
        l1.at(priority=5, app="UserEvent", appdata="DialerDone")
        call.user_event(l1, "DialerDone", (("Exten", "dtmf"),))
        l1.at(priority=6, app="Hangup", appdata="")
    elif exten == "queue":
        l1.at("from-dialer", "queue", 2, "Queue", "support,,,,60")
        status = await call.pbx.queue("support").enter(call, l1, 60.0, False)
        if status == "ANSWERED":
            return  # the queue hangs the caller up after the agent
        l1.at(priority=3, app="UserEvent", appdata="DialerDone")
        call.user_event(l1, "DialerDone", (("Exten", "queue"), ("QueueStatus", status)))
        l1.at(priority=4, app="Hangup", appdata="")
    elif exten == "echo":
        l1.at("from-dialer", "echo", 1, "Echo", "")
        await call.wait(None, False)


ROBOT_RESULTS = {"1": "confirmed", "2": "cancelled", "3": "operator"}


async def _robot_order(call, l1: Channel, exten: str) -> None:
    """dialer-robot-order,s: Read(KEY,<order number digits>,1,,2,5) (the prompt is interruptible),
    report DialerResult; 3 -> queue support, then DialerQueue if the queue gave up."""
    if exten != "s":
        return
    v = call.vars
    attempt = v.get("ATTEMPT_ID", "")
    order = v.get("ORDER_ID", "")
    l1.at("dialer-robot-order", "s", 9, "Read", f"KEY,{'&'.join('digits/' + c for c in order)},1,,2,5")
    # The first try's 5 s start when the prompt (the order number) has been said.
    key = await read_digit(call, l1, SAY_DIGIT_SECONDS * len(order) + 5.0, False)
    if key is None:
        key = await read_digit(call, l1, 5.0, False)
    key = key or ""
    result = ROBOT_RESULTS.get(key, "no_input")
    v["KEY"] = key
    l1.at(priority=11, app="UserEvent", appdata="DialerResult")
    call.user_event(l1, "DialerResult", (("AttemptId", attempt), ("Key", key), ("Result", result)))
    if result != "operator":
        l1.at(priority=13, app="Hangup", appdata="")
        return
    l1.at(priority=14, app="Queue", appdata="support,,,,60")
    status = await call.pbx.queue("support").enter(call, l1, 60.0, False)
    if status == "ANSWERED":
        return
    l1.at(priority=15, app="UserEvent", appdata="DialerQueue")
    call.user_event(l1, "DialerQueue", (("AttemptId", attempt), ("QueueStatus", status)))
    l1.at(priority=16, app="Hangup", appdata="")


async def _dialer_queue(call, l1: Channel, exten: str) -> None:
    if exten != "s":
        return
    l1.at("dialer-queue", "s", 2, "Queue", "support,,,,60")
    status = await call.pbx.queue("support").enter(call, l1, 60.0, False)
    if status == "ANSWERED":
        return
    l1.at(priority=3, app="UserEvent", appdata="DialerQueue")
    call.user_event(l1, "DialerQueue", (("AttemptId", call.vars.get("ATTEMPT_ID", "")), ("QueueStatus", status)))
    l1.at(priority=4, app="Hangup", appdata="")


async def _dialer_conference(call, l1: Channel, exten: str) -> None:
    if exten != "s":
        return
    room = call.vars.get("CONF_ROOM", "")
    if not room:
        return
    l1.at("dialer-conference", "s", 2, "ConfBridge", f"{room},dialer_bridge,dialer_user")
    await call.pbx.conference(room).attend(call, l1, False)


_CONTEXTS = {
    "from-dialer": _from_dialer,
    "dialer-robot-order": _robot_order,
    "dialer-queue": _dialer_queue,
    "dialer-conference": _dialer_conference,
}

# Click-to-call, the survey robot and conference assembly (kinds.py imports this module lazily).
from autodialer.lab import kinds as _kinds  # noqa: E402

_CONTEXTS.update(_kinds.CONTEXTS)

# Predictive dialing: the queue within 2 s, else the abandoned message (abandon.py).
from autodialer.lab import abandon as _abandon  # noqa: E402

_CONTEXTS.update(_abandon.CONTEXTS)

__all__ = ["run_destination", "read_digit", "send_dtmf", "asyncio"]

"""One simulated call: the originate's dial phase, the callee (leg ;2) and the destination (leg ;1).

Both legs execute the dialplan (autodialer/lab/dialplan): the callee leg its Local context
(sim-pstn / dialer-outbound in plan mode, sim-queue, sim-conf, sim-agents, dialer-operators), the
answered leg where the Originate sent it; dialer-queue-first's callee waits in its Queue(...,r)
unanswered until an operator takes it. What
the Local channel driver and the originate thread emit around them (the legs' Newstates,
DialEnd, OriginateResponse, the hangup orders) is data recorded from Asterisk 22 (`plan.py`).
The callee side runs in the call's own task and can be interrupted (HungUp) by the destination
side finishing, by an AMI Hangup, or by the lab stopping; the destination side runs in a second
task that is cancelled when the callee side ends first. dial-out (its callee leg Dial()s the
PSTN with recorded inner orders) and random mode keep their callee in Python.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from autodialer.lab import dtmf, plan
from autodialer.lab.channels import CAUSE_TXT, RINGING, UP, Channel, parse_callerid
from autodialer.lab.dialplan import Exec, StopPbx


log = logging.getLogger(__name__)


class HungUp(Exception):
    """The call was ended from elsewhere while this side was waiting."""


class OriginateTimedOut(Exception):
    """The callee did not answer within the Originate's Timeout (Reason 3)."""


def _timeout(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


@dataclass
class OriginateRequest:
    """What to dial. `source` is "ami" (sends OriginateResponse), "spool" (call file) or "inbound"."""

    exten: str
    context: str
    dest_context: str | None = None
    dest_exten: str | None = None
    dest_priority: int = 1
    application: str | None = None
    data: str = ""
    channel_id: str | None = None
    other_channel_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    callerid: str | None = None
    timeout: float = 30.0  # seconds, before scaling
    account: str = ""
    action_id: str | None = None
    source: str = "ami"
    requested_channel: str = ""  # as sent, for failed OriginateResponses


class Call:
    def __init__(self, pbx, req: OriginateRequest):
        self.pbx = pbx
        self.req = req
        self.scale = pbx.options.time_scale
        self.vars: dict[str, str] = dict(req.variables)
        self.legs: dict[str, Channel] = {}
        self.dialstrings: dict[str, str] = {}
        self.cid_num, self.cid_name = parse_callerid(req.callerid)
        self.cause = 16
        self.hangup_by: tuple | None = None
        self._waiter: asyncio.Future | None = None
        self.dest_task: asyncio.Task | None = None
        self.task: asyncio.Task | None = None
        self.reason: int | None = None  # OriginateResponse Reason
        self.done: asyncio.Future = pbx.loop.create_future()  # resolves to the Reason
        self.on_response = None  # callback(reason) for synchronous originates
        self.ring_seconds = 0.0
        self.talk_seconds = 0.0
        self.answered_at: float | None = None
        self.dest_exec: Exec | None = None  # leg ;1 in the dialplan (its h extension runs on hangup)
        self.callee_exec: Exec | None = None  # leg ;2 in the dialplan (sim-pstn, plan mode)
        self.deadline = 0.0  # loop time the Originate's Timeout ends (callee not answered by then: Reason 3)
        self.ringing = False

    # --- waiting ------------------------------------------------------------------------------
    async def wait(self, seconds: float | None, main: bool, fut: asyncio.Future | None = None):
        """Wait `seconds` (scaled; None = forever) or until `fut` resolves. The callee side (main)
        raises HungUp when the call is ended elsewhere; the destination side is cancelled instead."""
        loop = self.pbx.loop
        if fut is None:
            fut = loop.create_future()
        if main:
            if self.hangup_by is not None:
                raise HungUp
            self._waiter = fut
        handle = loop.call_later(seconds * self.scale, _timeout, fut) if seconds is not None else None
        try:
            result = await fut
            if main and self.hangup_by is not None and self.hangup_by[0] != "done":
                # Ended elsewhere in the same turn of the loop as this wait's end: the other side's
                # earlier deadline ran first (timers fire in deadline order), so it hung up first.
                raise HungUp
            return result
        finally:
            if handle is not None:
                handle.cancel()
            if main:
                self._waiter = None

    def request_hangup(self, by: str, leg: str = "1", cause: int = 16) -> None:
        """End the call from outside the callee side: by "dest" (;1 finished), "ami" or "stop"."""
        if self.hangup_by is not None:
            return
        self.hangup_by = (by, leg, cause)
        w = self._waiter
        if w is not None and not w.done():
            w.set_exception(HungUp())

    # --- events -------------------------------------------------------------------------------
    def emit(self, name: str, body: str, priv: str = "call") -> None:
        self.pbx.emit(name, body, priv)

    def open_pair(self, exten: str, context: str, uid1: str | None = None, uid2: str | None = None,
                  linkedid: str | None = None, names: tuple[str, str] = ("1", "2"), dial: bool = True) -> tuple[Channel, Channel]:
        """Create a Local channel pair (Newchannel x2), give both legs the caller ID, emit DialBegin."""
        l1, l2 = self.pbx.new_local_pair(exten, context, self, uid1, uid2, linkedid, names)
        l1.account = l2.account = self.req.account
        self.legs[names[0]], self.legs[names[1]] = l1, l2
        self.dialstrings[names[0]] = f"{exten}@{context}"
        self.emit("Newchannel", l1.snapshot())
        self.emit("Newchannel", l2.snapshot())
        for ch in (l1, l2):
            ch.cid_num = ch.conn_num = self.cid_num
            ch.cid_name = ch.conn_name = self.cid_name
        if dial:
            self.emit("DialBegin", l1.snapshot("Dest") + f"DialString: {exten}@{context}\r\n")
        return l1, l2

    def user_event(self, ch: Channel, name: str, headers) -> None:
        body = ch.snapshot() + f"UserEvent: {name}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        self.emit("UserEvent", body, "user")

    def originate_response(self, reason: int) -> None:
        self.reason = reason
        req = self.req
        if self.on_response is not None:
            self.on_response(reason)
            self.on_response = None
        if req.source != "ami":
            return
        ok = reason == 4
        l1 = self.legs.get("1")
        parts = []
        if req.action_id is not None:
            parts.append(f"ActionID: {req.action_id}\r\n")
        parts.append(f"Response: {'Success' if ok else 'Failure'}\r\n")
        parts.append(f"Channel: {l1.name if ok and l1 else req.requested_channel}\r\n")
        if req.application:
            parts.append(f"Application: {req.application}\r\nData: {req.data}\r\n")
        else:
            parts.append(f"Context: {req.dest_context}\r\nExten: {req.dest_exten}\r\n")
        if ok and l1:
            uid = l1.uniqueid
        else:
            uid = req.channel_id or "<unknown>"
        parts.append(f"Reason: {reason}\r\nUniqueid: {uid}\r\nCallerIDNum: {self.cid_num}\r\nCallerIDName: {self.cid_name}\r\n")
        self.emit("OriginateResponse", "".join(parts))

    async def play(self, steps) -> None:
        """Walk a sequence from plan.py."""
        legs = self.legs
        for step in steps:
            kind = step[0]
            if kind == "Newstate":
                ch = legs[step[1]]
                ch.state = step[2]
                self.emit("Newstate", ch.snapshot())
            elif kind in ("HangupRequest", "SoftHangupRequest"):
                ch = legs[step[1]]
                if not ch.alive:
                    continue
                if step[1] == "1":
                    self._stop_dest()
                cause = self.cause if step[2] == "c" else step[2]
                self.emit(kind, ch.snapshot() + f"Cause: {cause}\r\n")
            elif kind == "Hangup":
                ch = legs[step[1]]
                if not ch.alive:
                    continue
                if step[1] == "1":
                    self._stop_dest()
                    if self.dest_exec is not None and self.dest_exec.ch is ch:
                        await self.dest_exec.run_h()
                cause = self.cause if step[2] == "c" else step[2]
                self.hangup_channel(ch, cause)
            elif kind in ("DialBegin", "DialEnd", "DialState"):
                src = legs[step[1]] if step[1] else None
                dest = legs[step[2]]
                body = (src.snapshot() if src else "") + dest.snapshot("Dest")
                if kind == "DialBegin":
                    body += f"DialString: {self.dialstrings.get(step[2], dest.exten)}\r\n"
                else:
                    body += f"DialStatus: {step[3]}\r\n"
                self.emit(kind, body)
            elif kind == "OriginateResponse":
                self.originate_response(step[1])
            elif kind == "ring":
                await self.wait(self.ring_seconds, True)
            elif kind == "sleep":
                await self.wait(self.talk_seconds if step[1] == "talk" else step[1], True)
            elif kind == "DialResult":
                l2 = legs["2"]
                l2.at(priority=3, app="UserEvent", appdata="DialResult")
                self.user_event(l2, "DialResult", (("Number", self.req.exten), ("DialStatus", step[1]),
                                                   ("HangupCause", str(step[2]))))
                l2.at(priority=4, app="Hangup", appdata="")
            else:  # pragma: no cover - a typo in plan.py
                raise ValueError(f"unknown plan step {step!r}")

    def hangup_channel(self, ch: Channel, cause: int) -> None:
        self.emit("Hangup", ch.snapshot() + f"Cause: {cause}\r\nCause-txt: {CAUSE_TXT.get(cause, 'Unknown')}\r\n")
        ch.alive = False
        ch.ended_at, ch.cause = time.monotonic(), cause
        self.pbx.forget_channel(ch)

    def _stop_dest(self) -> None:
        t = self.dest_task
        if t is not None and not t.done() and t is not asyncio.current_task():
            t.cancel()

    # --- the whole call -----------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a lab bug: keep it visible to tests, end the call cleanly
            self.pbx.errors.append(f"{self.req.requested_channel}: {exc!r}")
            log.exception("lab call %s failed", self.req.requested_channel)
        finally:
            self._stop_dest()
            for ch in list(self.legs.values()):
                if ch.alive:  # the lab is stopping: leave no channel behind
                    ch.alive = False
                    self.pbx.forget_channel(ch)
            if self.reason is None:
                self.reason = 0
            if self.on_response is not None:
                self.on_response(self.reason)
            if not self.done.done():
                self.done.set_result(self.reason)
            self.pbx.call_ended(self)
            if self.pbx.cdr is not None and not self.pbx.stopping:
                self.pbx.cdr.record(self, list(self.legs.values()))

    async def _run(self) -> None:
        ctx = self.req.context
        if ctx in ("sim-pstn", "dialer-outbound"):
            await self._run_pstn()
        elif ctx == "dial-out":
            await self._run_dial_out()
        elif ctx == "dialer-queue-first":
            await self._run_callee_dialplan()
        elif ctx in ("sim-queue", "sim-conf", "sim-agents", "dialer-operators"):
            await self._run_callee_dialplan()
        else:  # not in the lab dialplan: Asterisk fails the originate without a channel
            self.originate_response(0)

    def _pick_outcome(self) -> plan.Outcome:
        sim_press = self.vars.get("SIM_PRESS")
        if sim_press and not set(sim_press) <= plan.PRESS_ALLOWED:
            sim_press = None
        if self.pbx.options.mode == "plan":
            return plan.outcome_for(self.req.exten, sim_press)
        return self.pbx.random_outcome(self)

    # --- the callee (leg ;2) running the dialplan: sim-pstn / dialer-outbound in plan mode ---------
    async def _run_callee_dialplan(self) -> None:
        """Leg ;2 executes Local/<number>@<context> from priority 1. Until it answers, what it
        does decides the originate (Answer: success; Busy/Congestion/Hangup or the Originate's
        Timeout: failure, with the event orders of the recordings in plan.py); afterwards it talks
        until one side hangs up."""
        req = self.req
        l1, l2 = self.open_pair(req.exten, req.context, req.channel_id, req.other_channel_id)
        x = self.callee_exec = Exec(self.pbx.dialplan, self, l2, dict(self.vars), main=True)
        x.callee = True
        self.deadline = self.pbx.loop.time() + req.timeout * self.scale
        try:
            cause = await x.run(req.context, req.exten, 1)
        except HungUp:
            by, leg, cause = self.hangup_by
            self.cause = cause
            if self.answered_at is None:
                await self.play(plan.HANGUP_BEFORE_ANSWER)
                return
            self._stop_dest()
            if by == "ami":
                await self._finish(plan.AMI_HANGUP_LEG2 if leg == "2" else plan.AMI_HANGUP_LEG1)
            else:
                await self._finish(plan.DEST_FIRST)
            return
        except OriginateTimedOut:
            await self.play(plan.ring_timeout(19))
            return
        if x.over:  # Busy()/Congestion() played the originate's end
            return
        if x.queue_ended:  # an agent took the call and hung up: the queue ends the caller (ami_queue_call.txt)
            self._stop_dest()
            await self._finish(plan.QUEUE_ENDED)
            return
        if self.answered_at is None:  # Hangup(cause) (or no more priorities) before answering
            cause = cause or 16
            self.cause = cause
            await self.play(plan.ring_timeout(cause) if self.ringing else plan.unanswered_hangup(cause))
            return
        self._stop_dest()
        await self._finish(plan.CALLEE_FIRST)

    async def callee_answer(self) -> None:
        """Answer() on leg ;2: the originate succeeds and ;1 goes to its destination."""
        await self.play(plan.answer_sequence(self.req.context, self.req.exten))
        self.answered_at = time.time()
        self.dest_task = self.pbx.loop.create_task(self._dest_side())

    async def callee_refuse(self, x: Exec, kind: str) -> None:
        """Busy()/Congestion() on leg ;2 before the answer: the recorded failure sequence."""
        if kind == "busy":
            await self.play(plan.BUSY_SEQ_ALT if self.req.channel_id else plan.BUSY_SEQ)
        else:
            await self.play(plan.CONGESTION_SEQ)
        x.over = True

    def callee_connected(self) -> None:
        """Queue(...,r) on leg ;2 before the answer: an operator took it (dialer-queue-first):
        both legs go Up, the Originate succeeds, ;1 runs its destination."""
        l1, l2 = self.legs["1"], self.legs["2"]
        l2.state = l1.state = UP
        self.emit("Newstate", l2.snapshot())
        self.emit("Newstate", l1.snapshot())
        self.emit("DialEnd", l1.snapshot("Dest") + "DialStatus: ANSWER\r\n")
        self.originate_response(4)
        self.answered_at = time.time()
        self.dest_task = self.pbx.loop.create_task(self._dest_side())

    def callee_remaining(self) -> float:
        """Lab seconds left of the Originate's Timeout."""
        return max(self.deadline - self.pbx.loop.time(), 0.0) / self.scale

    async def callee_ringing(self) -> None:
        if not self.ringing:
            self.ringing = True
            await self.play(plan.RINGING)

    async def callee_wait(self, seconds: float | None, fut=None):
        """A wait of leg ;2 before the answer ends at the Originate's Timeout at the latest."""
        remaining = max(self.deadline - self.pbx.loop.time(), 0.0) / self.scale
        if seconds is not None and seconds < remaining:
            return await self.wait(seconds, True, fut)
        if fut is None:
            fut = self.pbx.loop.create_future()
        await self.wait(remaining, True, fut)
        if fut.done() and not fut.cancelled() and fut.result() is not None:
            return fut.result()
        raise OriginateTimedOut

    async def _run_pstn(self) -> None:
        if self.pbx.options.mode == "plan":
            await self._run_callee_dialplan()
            return
        req = self.req
        outcome = self._pick_outcome()
        l1, l2 = self.open_pair(req.exten, req.context, req.channel_id, req.other_channel_id)
        l2.at(priority=outcome.priority)
        if outcome.ring_limit is not None and self.pbx.options.mode == "plan":
            self.ring_seconds = min(req.timeout, outcome.ring_limit)
            if outcome.ring_limit < req.timeout:
                l2.at(priority=outcome.priority + 1)  # Wait(40) ran out: Hangup(19)
        elif self.pbx.options.mode == "plan":
            self.ring_seconds = req.timeout
        dial = outcome.dial_alt if (outcome.dial_alt and req.channel_id) else outcome.dial
        try:
            await self.play(dial)
        except HungUp:
            self.cause = self.hangup_by[2]
            await self.play(plan.HANGUP_BEFORE_ANSWER)
            return
        if not outcome.answered:
            return
        await self._talk(self._callee_ops(outcome))

    def _callee_ops(self, outcome: plan.Outcome) -> tuple:
        if outcome.callee:
            return outcome.callee
        # random mode: answered, talks, hangs up
        return (("at", 8, "Wait", f"{self.talk_seconds:g}"), ("wait", self.talk_seconds), ("hangup", 9))

    async def _talk(self, callee_ops, *, end_order=plan.CALLEE_FIRST) -> None:
        """Answered: run the destination (;1) and the callee (;2) until one side hangs up."""
        self.answered_at = time.time()
        self.dest_task = self.pbx.loop.create_task(self._dest_side())
        try:
            order = await self._callee_side(callee_ops) or end_order
        except HungUp:
            by, leg, cause = self.hangup_by
            self.cause = cause
            if by == "ami":
                order = plan.AMI_HANGUP_LEG2 if leg == "2" else plan.AMI_HANGUP_LEG1
            else:
                order = plan.DEST_FIRST
        self._stop_dest()
        await self._finish(order)

    async def _finish(self, order) -> None:
        self.hangup_by = self.hangup_by or ("done", "2", 16)  # no more interruptions
        await self.play(order)
        for ch in list(self.legs.values()):  # legs the order does not name (dial-out's inner pair)
            if ch.alive:
                self.emit("SoftHangupRequest", ch.snapshot() + "Cause: 16\r\n")
                self.hangup_channel(ch, 16)

    async def _callee_side(self, ops):
        l2 = self.legs["2"]
        fmt = {"exten": self.req.exten}
        for op in ops:
            kind = op[0]
            if kind == "at":
                l2.at(priority=op[1], app=op[2], appdata=op[3].format_map(_Vars(self.vars, fmt)))
            elif kind == "wait":
                await self.wait(op[1], True)
            elif kind == "read":
                digit = await dtmf.read_digit(self, l2, op[2], True)
                self.vars[op[1]] = digit or ""
                self.vars["READSTATUS"] = "OK" if digit else "TIMEOUT"
            elif kind == "userevent":
                self.user_event(l2, op[1], [(k, v.format_map(_Vars(self.vars, fmt))) for k, v in op[2]])
            elif kind == "senddtmf":
                await dtmf.send_dtmf(self, self.legs["1"], self.vars.get("SIM_PRESS", ""), True)
            elif kind == "hangup":
                l2.at(priority=op[1], app="Hangup", appdata="")
                return None
        return None

    async def _dest_side(self) -> None:
        """Leg ;1 where the Originate sent it: the dialplan (Context/Exten/Priority) or one
        application, executed by the interpreter; when it leaves the dialplan, ;1 hangs up."""
        req = self.req
        x = self.dest_exec = Exec(self.pbx.dialplan, self, self.legs["1"], self.vars, main=False)
        cause = None
        try:
            if req.application:
                try:
                    await x.exec_app(req.application, req.data)
                except StopPbx as stop:
                    cause = stop.cause
            else:
                cause = await x.run(req.dest_context, req.dest_exten or "s", req.dest_priority)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a lab bug: recorded, and the leg hangs up
            self.pbx.errors.append(f"{self.req.requested_channel} destination: {exc!r}")
            log.exception("lab destination of %s failed", self.req.requested_channel)
        self.request_hangup("dest", "1", cause or 16)

    async def _run_dial_out(self) -> None:
        """dial-out: ;2 answers at once and Dial()s Local/<n>@sim-pstn for 10 s (ami_dialout_*.txt)."""
        req = self.req
        outcome = self._pick_outcome()
        key = plan.DIALOUT_FOR_OUTCOME.get(outcome.name, "answered")
        response_first, tail = plan.DIALOUT[key]
        if key == "answered":
            self.talk_seconds = {"answered": 2.0, "short": 1.0, "dtmf": 11.0, "press": 21.0}.get(outcome.name, self.talk_seconds)
        l1, l2 = self.open_pair(req.exten, req.context, req.channel_id, req.other_channel_id)
        l2.at(priority=1, app="Answer", appdata="")
        await self.play(plan.DIALOUT_ANSWER)
        if response_first:
            self.originate_response(4)
        self.answered_at = time.time()
        self.dest_task = self.pbx.loop.create_task(self._dest_side())
        await asyncio.sleep(0)  # ;1 reaches its destination (dialer-done's Playback) before Dial() reports
        l2.at(priority=2, app="Dial", appdata=f"Local/{req.exten}@sim-pstn,10")
        i1, i2 = self.open_pair(req.exten, "sim-pstn", linkedid=l1.linkedid, names=("i1", "i2"), dial=False)
        i2.at(priority=outcome.priority)
        try:
            await self.play(tail)
        except HungUp:
            by, leg, cause = self.hangup_by
            self.cause = cause
            await self._finish(plan.AMI_HANGUP_LEG2 if (by == "ami" and leg == "2") else plan.DEST_FIRST)
            if not response_first and self.reason is None:
                self.originate_response(4)
            return
        if self.reason is None:
            self.originate_response(4)


class _Vars(dict):
    """format_map source: channel variables, then fixed fields; unknown names are empty."""

    def __init__(self, variables, fixed):
        super().__init__(variables)
        self.update(fixed)

    def __missing__(self, key):
        return ""

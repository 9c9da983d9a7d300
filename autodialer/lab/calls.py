"""One simulated call: the originate's dial phase, the callee (leg ;2) and the destination (leg ;1).

Both legs execute the dialplan (autodialer/lab/dialplan): the callee leg its Local context
(sim-pstn / dialer-outbound, dial-out, sim-queue, sim-conf, sim-agents, dialer-operators), the
answered leg where the Originate sent it; dialer-queue-first's callee waits in its Queue(...,r)
unanswered until an operator takes it. A Dial() in either leg runs its own callee leg in the
dialplan too (autodialer/lab/dialed.py). In random mode the simulated PSTN's callee is drawn per
call (LabPBX.random_callee: ring and talk times, busy, ...) and handed to sim-pstn as lab-only
variables; the dialplan's lab-only branch `or` and its o2-o5 branches act it out. What the Local
channel driver and the originate thread emit around them (the legs' Newstates, DialEnd,
OriginateResponse, the hangup orders) is data recorded from Asterisk 22 (`plan.py`).
The callee side runs in the call's own task and can be interrupted (HungUp) by the destination
side finishing, by an AMI Hangup, or by the lab stopping; the destination side runs in a second
task that is cancelled when the callee side ends first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from autodialer.lab import plan
from autodialer.lab.channels import CAUSE_TXT, UP, Channel, parse_callerid
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
        self.answered_at: float | None = None
        self.dest_exec: Exec | None = None  # leg ;1 in the dialplan (its h extension runs on hangup)
        self.callee_exec: Exec | None = None  # leg ;2 in the dialplan
        self.lingering: list[tuple[Channel, int]] = []  # legs Dial() hung up that are still indicating busy
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
            elif kind == "Lingering":
                self.hang_up_lingering()
            else:  # pragma: no cover - a typo in plan.py
                raise ValueError(f"unknown plan step {step!r}")

    def hang_up_lingering(self) -> None:
        """The legs Dial() hung up while they indicated busy/congestion: the hangup reached them."""
        lingering, self.lingering = self.lingering, []
        for ch, cause in lingering:
            if ch.alive:
                self.hangup_channel(ch, cause)

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
        if self.req.context in CALLEE_CONTEXTS:
            await self._run_callee_dialplan()
        else:  # not in the lab dialplan: Asterisk fails the originate without a channel
            self.originate_response(0)

    # --- the callee (leg ;2) running the dialplan -----------------------------------------------
    async def _run_callee_dialplan(self) -> None:
        """Leg ;2 executes Local/<number>@<context> from priority 1. Until it answers, what it
        does decides the originate (Answer: success; Busy/Congestion/Hangup or the Originate's
        Timeout: failure, with the event orders of the recordings in plan.py); afterwards it talks
        until one side hangs up."""
        req = self.req
        l1, l2 = self.open_pair(req.exten, req.context, req.channel_id, req.other_channel_id)
        variables = dict(self.vars)  # Local channels copy the Originate's variables to ;2
        if self.pbx.options.mode == "random" and req.context in PSTN_CONTEXTS:
            variables.update(self.pbx.random_callee())  # what this callee does, for sim-pstn to act out
        x = self.callee_exec = Exec(self.pbx.dialplan, self, l2, variables, main=True)
        x.callee = OriginateCallee(self)
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
        self.cause = cause or 16
        self._stop_dest()
        if x.dialed:  # ;2 Dial()ed (dial-out): ami_dialout_*.txt
            await self._finish(plan.DIALOUT_END_LINGERING if self.lingering else plan.DIALOUT_END)
        else:
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

    async def _finish(self, order) -> None:
        self.hangup_by = self.hangup_by or ("done", "2", 16)  # no more interruptions
        await self.play(order)
        self.hang_up_lingering()
        for ch in list(self.legs.values()):  # legs the order does not name (a Dial()'s pair)
            if ch.alive:
                self.emit("SoftHangupRequest", ch.snapshot() + "Cause: 16\r\n")
                self.hangup_channel(ch, 16)

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


class OriginateCallee:
    """Exec.callee of an originate's leg ;2: before the answer its applications decide the
    originate (the Call plays the recorded sequences)."""

    def __init__(self, call: Call):
        self.call = call

    @property
    def answered(self) -> bool:
        return self.call.answered_at is not None

    async def answer(self) -> None:
        await self.call.callee_answer()

    async def refuse(self, x: Exec, kind: str) -> bool:
        await self.call.callee_refuse(x, kind)
        return True  # the originate failed: the leg is gone

    async def ringing(self) -> None:
        await self.call.callee_ringing()

    async def wait(self, seconds: float | None, fut=None):
        return await self.call.callee_wait(seconds, fut)


PSTN_CONTEXTS = ("sim-pstn", "dialer-outbound")
# The contexts a lab Originate's Channel Local/<exten>@<context> may name (the others fail the originate).
CALLEE_CONTEXTS = frozenset(PSTN_CONTEXTS + ("dial-out", "dialer-queue-first", "sim-queue", "sim-conf", "sim-agents",
                                             "dialer-operators"))

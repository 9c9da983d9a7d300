"""The far end of Dial(Local/<number>@<context>): a Local pair whose ;2 runs the dialplan.

The callee is not Python: its leg executes <number>@<context> (sim-pstn / dialer-outbound in
the lab) like any other leg, and what its applications do before the answer is what Dial()
sees, read as app_dial.c reads it (Asterisk 22):
- Answer(): DIALSTATUS ANSWER; the two are bridged until one hangs up.
- Busy() / Congestion(): the control frame ends the dial (BUSY 17 / CONGESTION 34); Dial hangs
  its ;1 up at once, while ;2 goes on indicating until the hangup reaches it (its Hangup comes
  later: ami_dialout_79061234562.txt).
- Ringing(): the caller's DialState RINGING; Dial's timeout ends it (NOANSWER).
- Hangup(cause) before the answer: DialEnd as ast_hangup_cause_to_dial_status(cause), DIALSTATUS
  as handle_cause() counts it (17 BUSY, 34 CONGESTION, 16/19 NOANSWER, any other CHANUNAVAIL), and
  the caller's hangup cause becomes the callee's (ami_dialout_79061234565.txt: cause 1).
Event order: the pair's Newchannels at once; DialBegin before the callee's first indication, or,
for a callee that hangs up before indicating anything, after its hangup (the Local ;2 ran first,
as recorded).
"""

from __future__ import annotations

import asyncio
import logging

from autodialer.lab.channels import BUSY, RINGING, UP
from autodialer.lab.dialplan.engine import Exec

log = logging.getLogger(__name__)

PSTN_CONTEXTS = ("sim-pstn", "dialer-outbound")


def dial_end_status(cause: int) -> str:
    """main/dial.c ast_hangup_cause_to_dial_status: the DialEnd of a callee that hung up."""
    return {17: "BUSY", 34: "CONGESTION", 3: "CHANUNAVAIL", 20: "CHANUNAVAIL"}.get(cause, "NOANSWER")


def dial_status(cause: int) -> str:
    """app_dial.c handle_cause: DIALSTATUS when the only callee hung up unanswered."""
    return {17: "BUSY", 34: "CONGESTION", 16: "NOANSWER", 19: "NOANSWER"}.get(cause, "CHANUNAVAIL")


class DialedCallee:
    """Leg ;2 of Dial()'s Local pair running the dialplan, as the `callee` of its Exec."""

    def __init__(self, x: Exec, number: str, context: str):
        self.x = x
        self.call = call = x.call
        self.number, self.context = number, context
        loop = call.pbx.loop
        self.c1, self.c2 = call.open_pair(number, context, linkedid=x.ch.linkedid, names=("c1", "c2"), dial=False)
        variables: dict[str, str] = {}  # Dial() passes only inheritable variables: the lab marks none
        if call.pbx.options.mode == "random" and context in PSTN_CONTEXTS:
            variables.update(call.pbx.random_callee())
        self.exec = Exec(call.pbx.dialplan, call, self.c2, variables, main=False)
        self.exec.callee = self
        self.exec.peer = x.ch
        self.result: asyncio.Future = loop.create_future()  # (status, cause) once the dial phase is over
        self.ended: asyncio.Future = loop.create_future()  # the callee left the dialplan
        self.answered = False
        self.begun = False
        self._ringing = False
        self.task = loop.create_task(self._run())

    # --- what the callee's applications do before the answer (Exec.callee) -----------------------
    def begin(self) -> None:
        if not self.begun:
            self.begun = True
            self.call.emit("DialBegin", self.x.ch.snapshot() + self.c1.snapshot("Dest")
                           + f"DialString: {self.number}@{self.context}\r\n")

    def _settle(self, status: str, cause: int) -> None:
        if not self.result.done():
            self.result.set_result((status, cause))

    async def answer(self) -> None:
        self.begin()
        c1, c2, emit = self.c1, self.c2, self.call.emit
        c2.state = c1.state = UP
        emit("Newstate", c2.snapshot())
        emit("Newstate", c1.snapshot())
        emit("DialEnd", self.x.ch.snapshot() + c1.snapshot("Dest") + "DialStatus: ANSWER\r\n")
        self.answered = True
        self._settle("ANSWER", 16)

    async def refuse(self, x: Exec, kind: str) -> bool:
        """Busy()/Congestion(): Dial sees the indication; the app goes on indicating (False)."""
        self.begin()
        self.c2.state = BUSY
        self.call.emit("Newstate", self.c2.snapshot())
        self._settle(*(("BUSY", 17) if kind == "busy" else ("CONGESTION", 34)))
        return False

    async def ringing(self) -> None:
        self.begin()
        if not self._ringing:
            self._ringing = True
            self.c1.state = RINGING
            self.call.emit("Newstate", self.c1.snapshot())
            self.call.emit("DialState", self.x.ch.snapshot() + self.c1.snapshot("Dest") + "DialStatus: RINGING\r\n")

    async def wait(self, seconds: float | None, fut=None):
        return await self.call.wait(seconds, False, fut)

    # --- the callee's leg ----------------------------------------------------------------------
    async def _run(self) -> None:
        call = self.call
        try:
            cause = await self.exec.run(self.context, self.number, 1) or 16
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a lab bug: recorded, and the callee hangs up
            call.pbx.errors.append(f"{self.c2.name}: {exc!r}")
            log.exception("lab dialed callee %s failed", self.c2.name)
            cause = 16
        if not self.result.done():  # hung up (or ran out of priorities) before answering
            c1, c2 = self.c1, self.c2
            call.emit("SoftHangupRequest", c2.snapshot() + "Cause: 16\r\n")
            call.emit("HangupRequest", c1.snapshot() + f"Cause: {cause}\r\n")
            call.hangup_channel(c2, cause)
            self._settle("HANGUP", cause)
        elif self.answered:  # the bridged callee hung up
            for ch in (self.c2, self.c1):
                if ch.alive:
                    call.hangup_channel(ch, 16)
        if not self.ended.done():
            self.ended.set_result(cause)

    def stop(self) -> None:
        if not self.task.done():
            self.task.cancel()

    def hang_up(self, cause: int) -> None:
        for ch in (self.c2, self.c1):
            if ch.alive:
                self.call.hangup_channel(ch, cause)


def _relay(source: asyncio.Future, loop) -> asyncio.Future:
    """A future that resolves with `source` (a caller's wait may fail its own future on hangup)."""
    fut = loop.create_future()
    source.add_done_callback(lambda f: fut.done() or fut.set_result(f.result()))
    return fut


async def dial_local(x: Exec, number: str, context: str, timeout: float | None) -> tuple[str, int]:
    """Dial() of one Local/<number>@<context> from the channel of `x`: (DIALSTATUS, HANGUPCAUSE)."""
    call, loop = x.call, x.call.pbx.loop
    x.dialed = True
    far = DialedCallee(x, number, context)
    emit = call.emit

    def dial_end(status: str) -> None:
        emit("DialEnd", x.ch.snapshot() + far.c1.snapshot("Dest") + f"DialStatus: {status}\r\n")

    try:
        await asyncio.sleep(0)  # the Local ;2 starts at once: it runs up to its first wait or its end
        far.begin()
        got = far.result.result() if far.result.done() else await x.wait(timeout, _relay(far.result, loop))
    except BaseException:  # the caller was hung up while the callee rang
        far.stop()
        if far.c1.alive and not far.answered:
            dial_end("CANCEL")
        far.hang_up(16)
        raise
    if got is None:  # Dial's timeout
        far.stop()
        dial_end("NOANSWER")
        for ch in (far.c1, far.c2):
            emit("SoftHangupRequest", ch.snapshot() + "Cause: 16\r\n")
            call.hangup_channel(ch, 19)
        return "NOANSWER", 19
    status, cause = got
    if status == "ANSWER":
        try:
            await x.wait(None, _relay(far.ended, loop))  # bridged until the callee hangs up
        except BaseException:
            far.stop()
            far.hang_up(16)
            raise
        return "ANSWER", 16
    if status in ("BUSY", "CONGESTION"):
        far.stop()
        dial_end(status)
        emit("HangupRequest", far.c2.snapshot() + "Cause: 0\r\n")
        emit("SoftHangupRequest", far.c2.snapshot() + "Cause: 16\r\n")
        call.hangup_channel(far.c1, 0)
        call.lingering.append((far.c2, cause))  # ;2 is still indicating: it goes when the hangup reaches it
        return status, cause
    # the callee hung up unanswered
    dial_end(dial_end_status(cause))
    call.hangup_channel(far.c1, cause)
    x.hangupcause = cause
    return dial_status(cause), cause


__all__ = ["DialedCallee", "dial_local", "dial_end_status", "dial_status", "PSTN_CONTEXTS"]

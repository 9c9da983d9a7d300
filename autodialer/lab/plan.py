"""The lab numbering plan and the event sequences Asterisk 22.10.1 produced for it, as data.

Every sequence below is copied from a transcript in tests/fixtures/asterisk-22 (the file is
named next to it); `calls.py` only interprets them. A step is a tuple:

  ("Newstate", leg, state)             set the leg's state, emit Newstate
  ("DialBegin"|"DialEnd"|"DialState", src_leg|None, dest_leg[, DialStatus])
  ("HangupRequest"|"SoftHangupRequest", leg, cause)
  ("Hangup", leg, cause)               emit Hangup (Cause, Cause-txt), the leg is gone
  ("OriginateResponse", reason)        4 = Success, anything else Failure
  ("ring",)                            wait for the ring timeout (or the answer, in random mode)
  ("sleep", seconds)                   plain wait (scaled)
  ("DialResult", dialstatus, cause)    the dial-out context's UserEvent
A cause of "c" means the cause of the call's hangup; legs are "1"/"2" (the Local pair) and
"i1"/"i2" (the pair Dial() creates in dial-out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autodialer.lab.channels import BUSY, RINGING, UP

# --- the originate's dial phase, per outcome -------------------------------------------------

# ami_full_79061234561.txt: OriginateResponse, then both legs Up, then DialEnd.
ANSWER = (("OriginateResponse", 4), ("Newstate", "1", UP), ("Newstate", "2", UP), ("DialEnd", None, "1", "ANSWER"))
# ami_6.txt: the callee leg reports Up first.
ANSWER_CALLEE_FIRST = (("OriginateResponse", 4), ("Newstate", "2", UP), ("Newstate", "1", UP), ("DialEnd", None, "1", "ANSWER"))
# ami_queue_call.txt (Local/support@sim-queue answers at once): OriginateResponse last.
ANSWER_AT_ONCE = (("Newstate", "2", UP), ("Newstate", "1", UP), ("DialEnd", None, "1", "ANSWER"), ("OriginateResponse", 4))
# ami_full_79061234562.txt
BUSY_SEQ = (("Newstate", "2", BUSY), ("DialEnd", None, "1", "BUSY"), ("HangupRequest", "2", 0), ("SoftHangupRequest", "2", 16),
            ("OriginateResponse", 5), ("Hangup", "1", 0), ("Hangup", "2", 17))
# ami_chanid.txt: the same busy call (ChannelId set) raced differently: ;1 hangs up before ;2's
# SoftHangupRequest. The lab uses this order when the Originate sets ChannelId, so both orders occur.
BUSY_SEQ_ALT = (("Newstate", "2", BUSY), ("DialEnd", None, "1", "BUSY"), ("HangupRequest", "2", 0), ("OriginateResponse", 5),
                ("Hangup", "1", 0), ("SoftHangupRequest", "2", 16), ("Hangup", "2", 17))
# ami_full_79061234563.txt (no DialEnd: the ring timeout ends the originate)
RING_SEQ = (("Newstate", "1", RINGING), ("DialState", None, "1", "RINGING"), ("ring",), ("HangupRequest", "2", 19),
            ("OriginateResponse", 3), ("Hangup", "1", 19), ("SoftHangupRequest", "2", 16), ("Hangup", "2", 19))
# ami_full_79061234564.txt (the callee leg shows Busy for congestion too)
CONGESTION_SEQ = (("Newstate", "2", BUSY), ("DialEnd", None, "1", "CONGESTION"), ("HangupRequest", "2", 0),
                  ("SoftHangupRequest", "2", 16), ("Hangup", "2", 34), ("Hangup", "1", 0), ("OriginateResponse", 8))
# ami_full_79061234565.txt
UNALLOCATED_SEQ = (("SoftHangupRequest", "2", 16), ("HangupRequest", "1", 1), ("DialEnd", None, "1", "NOANSWER"),
                   ("Hangup", "2", 1), ("Hangup", "1", 1), ("OriginateResponse", 0))
# Random mode: ring, then answer (if the answer comes before the Originate Timeout).
RING_THEN_ANSWER = (("Newstate", "1", RINGING), ("DialState", None, "1", "RINGING"), ("ring",)) + ANSWER
# The dialer hung up leg ;1 before the answer (AMI Hangup): the originate fails with Reason 1.
HANGUP_BEFORE_ANSWER = (("HangupRequest", "1", "c"), ("HangupRequest", "2", "c"), ("SoftHangupRequest", "2", 16),
                        ("OriginateResponse", 1), ("Hangup", "1", "c"), ("Hangup", "2", "c"))

# --- the end of an answered call: who hung up first ------------------------------------------

# ami_full_79061234561.txt: the destination (leg ;1, e.g. from-dialer) hung up.
DEST_FIRST = (("SoftHangupRequest", "1", 16), ("HangupRequest", "2", "c"), ("SoftHangupRequest", "2", 16),
              ("Hangup", "2", "c"), ("Hangup", "1", "c"))
# ami_6.txt: the callee (leg ;2, sim-pstn) hung up.
CALLEE_FIRST = (("SoftHangupRequest", "2", 16), ("HangupRequest", "1", "c"), ("SoftHangupRequest", "1", 16),
                ("Hangup", "1", "c"), ("Hangup", "2", "c"))
# ami_queue_call.txt: the queue ended the caller leg ;2 after the agent hung up.
QUEUE_ENDED = (("SoftHangupRequest", "2", 16), ("HangupRequest", "1", "c"), ("Hangup", "2", "c"), ("Hangup", "1", "c"))
# AMI Hangup action on one leg (HangupRequest carries the requested cause).
AMI_HANGUP_LEG1 = (("HangupRequest", "1", "c"), ("HangupRequest", "2", "c"), ("SoftHangupRequest", "2", 16),
                   ("Hangup", "2", "c"), ("Hangup", "1", "c"))
AMI_HANGUP_LEG2 = (("HangupRequest", "2", "c"), ("HangupRequest", "1", "c"), ("SoftHangupRequest", "1", 16),
                   ("Hangup", "1", "c"), ("Hangup", "2", "c"))

def answer_sequence(context: str, exten: str) -> tuple:
    """The answer's event order as recorded (the legs' Newstates race): the simulated PSTN's by
    the number, the lab's answering contexts (sim-queue, sim-conf, ...) as ami_queue_call.txt."""
    if context not in ("sim-pstn", "dialer-outbound"):
        return ANSWER_AT_ONCE
    return ANSWER_CALLEE_FIRST if exten[-1:] == "6" else ANSWER


# Ringing() before the answer (ami_full_79061234563.txt), and the end of an unanswered ring
# (the Originate's Timeout, or Hangup(cause) after Ringing()).
RINGING = (("Newstate", "1", RINGING), ("DialState", None, "1", "RINGING"))


def ring_timeout(cause: int) -> tuple:
    return (("HangupRequest", "2", cause), ("OriginateResponse", 3), ("Hangup", "1", cause),
            ("SoftHangupRequest", "2", 16), ("Hangup", "2", cause))


def unanswered_hangup(cause: int) -> tuple:
    """Hangup(cause) before the answer without ringing: shaped as the unallocated number's."""
    return (("SoftHangupRequest", "2", 16), ("HangupRequest", "1", cause), ("DialEnd", None, "1", "NOANSWER"),
            ("Hangup", "2", cause), ("Hangup", "1", cause), ("OriginateResponse", 0))


# --- sim-pstn: the outcome is the last digit -------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One line of the numbering plan: where leg ;2 sits, its dial phase, and what it does once up."""

    name: str
    priority: int  # sim-pstn priority of ;2 when the outcome shows (Newstate, Hangup)
    dial: tuple
    ring_limit: float | None = None  # Wait(40): the callee stops ringing by itself
    callee: tuple = field(default=())  # after the answer; ops interpreted by calls.callee_script
    answered: bool = False
    dial_alt: tuple | None = None  # the other recorded ordering, used when the Originate sets ChannelId


# Callee ops: ("at", priority, app, data) ("wait", s) ("read", var, timeout) ("userevent", name, ((k, template),...))
# ("senddtmf",) ("hangup", priority)
PLAN = {
    "1": Outcome("answered", 7, ANSWER, callee=(("at", 8, "Wait", "2"), ("wait", 2.0), ("hangup", 9)), answered=True),
    "2": Outcome("busy", 10, BUSY_SEQ, dial_alt=BUSY_SEQ_ALT),
    "3": Outcome("no_answer", 13, RING_SEQ, ring_limit=40.0),
    "4": Outcome("congestion", 15, CONGESTION_SEQ),
    "5": Outcome("unallocated", 17, UNALLOCATED_SEQ),
    "6": Outcome("dtmf", 18, ANSWER_CALLEE_FIRST, answered=True, callee=(
        ("at", 19, "Read", "SIM_DIGIT,,1,,1,10"), ("read", "SIM_DIGIT", 10.0),
        ("at", 20, "UserEvent", "SimDTMF"),
        ("userevent", "SimDTMF", (("Number", "{exten}"), ("Digit", "{SIM_DIGIT}"), ("ReadStatus", "{READSTATUS}"))),
        ("at", 21, "Wait", "1"), ("wait", 1.0), ("hangup", 22))),
    "other": Outcome("short", 4, ANSWER, callee=(("at", 5, "Wait", "1"), ("wait", 1.0), ("hangup", 6)), answered=True),
    # Lab-only branch `op` (SIM_PRESS set, digit 1 or other): answer, wait 1 s, press, stay 20 s.
    "press": Outcome("press", 23, ANSWER, answered=True, callee=(
        ("at", 24, "Wait", "1"), ("wait", 1.0), ("at", 25, "SendDTMF", "{SIM_PRESS}"), ("senddtmf",),
        ("at", 26, "Wait", "20"), ("wait", 20.0), ("hangup", 27))),
}

PRESS_ALLOWED = frozenset("0123456789*#ABCDabcd")


def outcome_for(number: str, sim_press: str | None = None) -> Outcome:
    """The plan line for `number` (last digit), honouring the lab-only SIM_PRESS variable."""
    last = number[-1:] if number else ""
    key = last if last in ("1", "2", "3", "4", "5", "6") else "other"
    if sim_press and key in ("1", "other"):
        return PLAN["press"]
    return PLAN[key]


# --- dial-out: leg ;2 answers at once and Dial()s the number (ami_dialout_*.txt) -------------

DIALOUT_ANSWER = (("Newstate", "2", UP), ("Newstate", "1", UP), ("DialEnd", None, "1", "ANSWER"))

# (OriginateResponse right after the answer?, the steps after the inner legs' Newchannel)
DIALOUT = {
    # ami_dialout_79061234562.txt (the OriginateResponse came last there)
    "busy": (False, (
        ("DialBegin", "2", "i1"), ("Newstate", "i2", BUSY), ("DialEnd", "2", "i1", "BUSY"), ("HangupRequest", "i2", 0),
        ("SoftHangupRequest", "i2", 16), ("Hangup", "i1", 0), ("DialResult", "BUSY", 17), ("SoftHangupRequest", "2", 16),
        ("HangupRequest", "1", 16), ("Hangup", "i2", 17), ("SoftHangupRequest", "1", 16), ("Hangup", "2", 16),
        ("OriginateResponse", 4), ("Hangup", "1", 16))),
    # ami_dialout_79061234565.txt
    "unallocated": (True, (
        ("SoftHangupRequest", "i2", 16), ("HangupRequest", "i1", 1), ("Hangup", "i2", 1), ("DialBegin", "2", "i1"),
        ("DialEnd", "2", "i1", "NOANSWER"), ("Hangup", "i1", 1), ("DialResult", "CHANUNAVAIL", 1),
        ("SoftHangupRequest", "2", 16), ("HangupRequest", "1", 1), ("Hangup", "2", 1), ("SoftHangupRequest", "1", 16),
        ("Hangup", "1", 1))),
    # Not recorded: shaped like busy.
    "congestion": (True, (
        ("DialBegin", "2", "i1"), ("Newstate", "i2", BUSY), ("DialEnd", "2", "i1", "CONGESTION"), ("HangupRequest", "i2", 0),
        ("SoftHangupRequest", "i2", 16), ("Hangup", "i1", 0), ("DialResult", "CONGESTION", 34),
        ("SoftHangupRequest", "2", 16), ("HangupRequest", "1", 16), ("Hangup", "i2", 34), ("SoftHangupRequest", "1", 16),
        ("Hangup", "2", 16), ("Hangup", "1", 16))),
    # Not recorded: Dial(...,10) times out.
    "no_answer": (True, (
        ("DialBegin", "2", "i1"), ("Newstate", "i1", RINGING), ("DialState", "2", "i1", "RINGING"), ("sleep", 10.0),
        ("DialEnd", "2", "i1", "NOANSWER"), ("SoftHangupRequest", "i1", 16), ("Hangup", "i1", 16),
        ("SoftHangupRequest", "i2", 16), ("Hangup", "i2", 16), ("DialResult", "NOANSWER", 16),
        ("SoftHangupRequest", "2", 16), ("HangupRequest", "1", 16), ("Hangup", "2", 16), ("SoftHangupRequest", "1", 16),
        ("Hangup", "1", 16))),
    # Not recorded: answered; the callee's talk time, then everything clears (no DialResult: no `g` option).
    "answered": (True, (
        ("DialBegin", "2", "i1"), ("Newstate", "i2", UP), ("Newstate", "i1", UP), ("DialEnd", "2", "i1", "ANSWER"),
        ("sleep", "talk"), ("SoftHangupRequest", "i2", 16), ("HangupRequest", "i1", 16), ("Hangup", "i1", 16),
        ("Hangup", "i2", 16), ("SoftHangupRequest", "2", 16), ("HangupRequest", "1", 16), ("Hangup", "2", 16),
        ("SoftHangupRequest", "1", 16), ("Hangup", "1", 16))),
}

DIALOUT_FOR_OUTCOME = {"busy": "busy", "unallocated": "unallocated", "congestion": "congestion", "no_answer": "no_answer"}

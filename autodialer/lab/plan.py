"""The event sequences Asterisk 22.10.1 produced around the lab dialplan, as data.

Every sequence below is copied from a transcript in tests/fixtures/asterisk-22 (the file is
named next to it); `calls.py` only interprets them. A step is a tuple:

  ("Newstate", leg, state)             set the leg's state, emit Newstate
  ("DialBegin"|"DialEnd"|"DialState", src_leg|None, dest_leg[, DialStatus])
  ("HangupRequest"|"SoftHangupRequest", leg, cause)
  ("Hangup", leg, cause)               emit Hangup (Cause, Cause-txt), the leg is gone
  ("OriginateResponse", reason)        4 = Success, anything else Failure
  ("Lingering",)                       the legs a Dial() hung up while they indicated busy go
A cause of "c" means the cause of the call's hangup; legs are "1"/"2" (the Local pair). What the
callee does (and so which sequence plays) is the dialplan's: the lab executes extensions.conf.
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
# ami_full_79061234564.txt (the callee leg shows Busy for congestion too)
CONGESTION_SEQ = (("Newstate", "2", BUSY), ("DialEnd", None, "1", "CONGESTION"), ("HangupRequest", "2", 0),
                  ("SoftHangupRequest", "2", 16), ("Hangup", "2", 34), ("Hangup", "1", 0), ("OriginateResponse", 8))
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


# --- dial-out: leg ;2 answered at once, Dial()ed the number, reported DialResult, hung up -----

# ami_dialout_79061234565.txt (the callee hung up unanswered: cause 1 throughout).
DIALOUT_END = (("SoftHangupRequest", "2", 16), ("HangupRequest", "1", "c"), ("Hangup", "2", "c"),
               ("SoftHangupRequest", "1", 16), ("Hangup", "1", "c"))
# ami_dialout_79061234562.txt: the busy callee, hung up by Dial() while it indicated busy, goes
# between (its own cause, 17). The OriginateResponse, sent by the originate thread, raced the
# dialplan there and came next to last; the lab sends it at the answer (as in the other recording).
DIALOUT_END_LINGERING = (("SoftHangupRequest", "2", 16), ("HangupRequest", "1", "c"), ("Lingering",),
                         ("SoftHangupRequest", "1", 16), ("Hangup", "2", "c"), ("Hangup", "1", "c"))

"""How one call's AMI facts become a CallStatus (the taxonomy lives in `autodialer.telephony.outcomes`).

The facts, all as Asterisk 22 reports them (see tests/fixtures/asterisk-22):

- `reason`: OriginateResponse `Reason`, the last control frame the originated leg saw
  (0 failed, 1 hangup, 3 ring timeout, 4 answered, 5 busy, 8 congestion). It is not the cause.
- `causes`: the Q.850 `Cause` of every Hangup of the call's legs, in arrival order. On Local
  channels busy and congestion hang up the originated leg ;1 with Cause 0: the meaningful cause
  (17, 34) is on the ;2 leg, so we look at every leg, not just ;1.
- `dial_status`: DialEnd `DialStatus` of the originated leg (none when the ring timed out).
- `answered`: the originated leg reached Up.
- `result_dial_status` / `result_cause`: the "dial-out" style, where the first leg answers at once
  and the dialplan Dial()s the number itself and reports `UserEvent: DialResult` with DIALSTATUS
  (and HANGUPCAUSE). The originate then always "succeeds" (Reason 4); the result is in the event.

Decision, first rule that applies:

| # | when                                           | status                                   |
|---|------------------------------------------------|------------------------------------------|
| 0 | the dialplan reported `UserEvent: DialerAbandoned` (answered, no operator within 2 s) | ABANDONED |
| 0 | AMD's verdict (`UserEvent: DialerAMD`) made the dialplan hang up (MACHINE, or NOTSURE with action hangup), or leave a message (played to its end: MACHINE_MESSAGE, else MACHINE) | MACHINE / MACHINE_MESSAGE |
| 1 | a DialResult DIALSTATUS was reported           | ANSWER -> ANSWERED; else a decisive cause (below) wins; else DIALSTATUS_STATUS |
| 2 | answered (leg Up, or Reason 4)                 | ANSWERED                                 |
| 3 | a decisive cause on any leg (first one)        | CAUSE_STATUS[cause]                      |
| 4 | a Reason that names an outcome (1, 3, 5, 8)    | REASON_STATUS[reason]                    |
| 5 | a DialEnd status that names an outcome         | DIALSTATUS_STATUS[dial_status]           |
| 6 | otherwise (Reason 0 and no cause, no report)   | FAILED                                   |

A cause is decisive when it is in CAUSE_STATUS and is not 16 (Normal Clearing, which every leg of
an answered call also carries) or 0 (Unknown, what Local ;1 legs carry). Examples: unallocated is
Reason 0 + cause 1 -> INVALID_NUMBER; ring timeout is Reason 3 + cause 19 -> NO_ANSWER; busy is
Reason 5 + causes (0, 17) -> BUSY with cause 17; Reason 0 and no cause -> FAILED.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from autodialer.telephony.outcomes import CallStatus

# OriginateResponse Reason (AST_CONTROL_* of the last frame) -> status. 0 and 4 are absent on
# purpose: 0 says nothing (the cause decides), 4 is handled as "answered".
REASON_STATUS: dict[int, CallStatus] = {
    1: CallStatus.REJECTED,  # AST_CONTROL_HANGUP before answer: the far end hung up on us
    3: CallStatus.NO_ANSWER,  # AST_CONTROL_RINGING was the last frame: ring timeout
    5: CallStatus.BUSY,
    8: CallStatus.CONGESTION,
}

# Q.850 cause -> status.
CAUSE_STATUS: dict[int, CallStatus] = {
    1: CallStatus.INVALID_NUMBER,  # Unallocated (unassigned) number
    22: CallStatus.INVALID_NUMBER,  # Number changed
    28: CallStatus.INVALID_NUMBER,  # Invalid number format (address incomplete)
    16: CallStatus.ANSWERED,  # Normal Clearing (not decisive on its own, see NON_DECISIVE)
    17: CallStatus.BUSY,  # User busy
    18: CallStatus.NO_ANSWER,  # No user responding
    19: CallStatus.NO_ANSWER,  # User alerting, no answer
    21: CallStatus.REJECTED,  # Call Rejected
    34: CallStatus.CONGESTION,  # Circuit/channel congestion
    38: CallStatus.CONGESTION,  # Network out of order
    41: CallStatus.CONGESTION,  # Temporary failure
    42: CallStatus.CONGESTION,  # Switching equipment congestion
    102: CallStatus.CONGESTION,  # Recovery on timer expiry
}
NON_DECISIVE = frozenset({0, 16})

# DIALSTATUS (DialEnd DialStatus, or the dialplan's ${DIALSTATUS}) -> status.
DIALSTATUS_STATUS: dict[str, CallStatus] = {
    "ANSWER": CallStatus.ANSWERED,
    "BUSY": CallStatus.BUSY,
    "NOANSWER": CallStatus.NO_ANSWER,
    "CONGESTION": CallStatus.CONGESTION,
    "CHANUNAVAIL": CallStatus.INVALID_NUMBER,
    "DONTCALL": CallStatus.REJECTED,
    "TORTURE": CallStatus.REJECTED,
    "CANCEL": CallStatus.FAILED,  # our side hung up before an answer
    "INVALIDARGS": CallStatus.FAILED,
}

# Asterisk's ast_cause2str() texts, for causes we learn without a Cause-txt (DialResult HANGUPCAUSE).
CAUSE_TEXT: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    2: "No route to specified transmit network",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    22: "Number changed",
    27: "Destination out of order",
    28: "Invalid number format",
    29: "Facility rejected",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    44: "Requested channel not available",
    102: "Recovery on timer expiry",
}


def _decisive(causes: Iterable[int]) -> int | None:
    for cause in causes:
        if cause not in NON_DECISIVE and cause in CAUSE_STATUS:
            return cause
    return None


def classify(
    reason: int | None,
    causes: Sequence[int] = (),
    dial_status: str | None = None,
    *,
    answered: bool = False,
    result_dial_status: str | None = None,
    result_cause: int | None = None,
    abandoned: bool = False,
    amd_verdict=None,
) -> CallStatus:
    """The status of one call from its AMI facts (rules in the module docstring). `amd_verdict`:
    an autodialer.telephony.amd.Verdict when the call ran AMD."""
    if abandoned:
        return CallStatus.ABANDONED
    if amd_verdict is not None and amd_verdict.status in ("MACHINE", "NOTSURE"):
        if amd_verdict.action == "hangup":
            return CallStatus.MACHINE
        if amd_verdict.action == "message":
            return CallStatus.MACHINE_MESSAGE if amd_verdict.message_left else CallStatus.MACHINE
    all_causes = ([result_cause] if result_cause else []) + list(causes)
    if result_dial_status:
        by_dialstatus = DIALSTATUS_STATUS.get(result_dial_status.upper(), CallStatus.FAILED)
        if by_dialstatus is CallStatus.ANSWERED:
            return CallStatus.ANSWERED
        decisive = _decisive(all_causes)
        return CAUSE_STATUS[decisive] if decisive is not None else by_dialstatus
    if answered or reason == 4:
        return CallStatus.ANSWERED
    decisive = _decisive(all_causes)
    if decisive is not None:
        return CAUSE_STATUS[decisive]
    if reason in REASON_STATUS:
        return REASON_STATUS[reason]
    if dial_status and dial_status.upper() in DIALSTATUS_STATUS:
        return DIALSTATUS_STATUS[dial_status.upper()]
    return CallStatus.FAILED


def meaningful_cause(status: CallStatus, causes: Sequence[int] = (), *, result_cause: int | None = None) -> int | None:
    """The Q.850 cause to report for `status`: the first cause that explains the status (17 for
    BUSY even though ;1 says 0), else the first informative one, else whatever was seen."""
    all_causes = ([result_cause] if result_cause else []) + list(causes)
    for cause in all_causes:
        if CAUSE_STATUS.get(cause) is status:
            return cause
    for cause in all_causes:
        if cause not in NON_DECISIVE:
            return cause
    for cause in all_causes:
        if cause:
            return cause
    return all_causes[0] if all_causes else None


def cause_text(cause: int | None) -> str | None:
    if cause is None:
        return None
    return CAUSE_TEXT.get(cause, f"Cause {cause}")

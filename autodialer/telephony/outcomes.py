"""The outcome taxonomy: what happened to one call attempt, and whether it may be retried.

This module holds the shared vocabulary (statuses, the CallResult record). How AMI reasons,
Q.850 causes and DIALSTATUS map onto statuses is `classify()` in `autodialer.telephony.classify`.

| status         | AMI Reason / Q.850 / DIALSTATUS                | retryable |
|----------------|------------------------------------------------|-----------|
| ANSWERED       | 4 / 16 / ANSWER                                | no (done) |
| BUSY           | 5 / 17 / BUSY                                  | yes       |
| NO_ANSWER      | 3 / 18, 19 / NOANSWER                          | yes       |
| CONGESTION     | 8 / 34, 38, 41, 42, 102 / CONGESTION           | yes       |
| REJECTED       | 1 / 21                                         | yes       |
| INVALID_NUMBER | 0 / 1, 28 / CHANUNAVAIL                        | no        |
| FAILED         | 0, no cause; or no report from Asterisk        | yes       |
| ABANDONED      | answered, no operator within 2 s (pacing)      | no (72 h) |
| MACHINE        | answered by a machine (AMD), hung up on        | yes (2 h+, another hour) |
| MACHINE_MESSAGE| a machine, and the voicemail drop was left     | no (done) |
| BLOCKED        | on an exclusion list (never dialed)            | no        |
| UNKNOWN        | ended during an AMI outage, no CDR to say how  | yes (1 d) |
| NOT_SENT       | Originate never left, or refused: nothing rang | given back, not counted |

A click-to-call whose operator never answered keeps its operator leg's status (NO_ANSWER,
BUSY...) with the failure kind `operator_unanswered`: the client's number was never dialed, so
it counts against none of the client's limits (NOT_REACHING_FAILURES).

Why a call failed, when the engine or the dialer gave up on it, is `CallResult.failure` (a
FailureKind, the `attempts.failure` column): never a prefix of the error text, which is for people.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


class CallStatus(str, enum.Enum):
    ANSWERED = "ANSWERED"
    BUSY = "BUSY"
    NO_ANSWER = "NO_ANSWER"
    CONGESTION = "CONGESTION"
    REJECTED = "REJECTED"
    INVALID_NUMBER = "INVALID_NUMBER"
    FAILED = "FAILED"
    ABANDONED = "ABANDONED"
    MACHINE = "MACHINE"
    MACHINE_MESSAGE = "MACHINE_MESSAGE"  # AMD said machine and the campaign's message was left on it
    BLOCKED = "BLOCKED"
    UNKNOWN = "UNKNOWN"  # it ended while the AMI link was down and no CDR says how: maybe answered
    NOT_SENT = "NOT_SENT"  # the Originate never left or Asterisk refused it: nothing rang, not counted

    @property
    def retryable(self) -> bool:
        return self in RETRYABLE

    def __str__(self) -> str:  # so f"{status}" prints "BUSY", not "CallStatus.BUSY"
        return self.value


class FailureKind(str, enum.Enum):
    """Why an attempt did not end the ordinary way, as a field (CallResult.failure) and a column
    (attempts.failure). Code decides on this, never on the wording of `error`."""

    NOT_SENT = "not_sent"  # the Originate never left: link down, timed out waiting for it, unsafe value
    REFUSED = "refused"  # Asterisk answered the Originate with Response: Error: nothing rang
    LINK_LOST = "link_lost"  # the AMI link dropped and the call's end could not be followed
    UNKNOWN = "unknown"  # ended while the AMI link was down, and no CDR says how
    STOPPED_RINGING = "stopped_ringing"  # predictive pacing hung it up while it rang (no operator free)
    NO_REPORT = "no_report"  # Asterisk never reported (its end) within the engine's deadline
    RUN_DIED = "run_died"  # the run that placed it died with the call in flight
    # Click-to-call: the operator's leg (dialed first) never answered (no answer, busy, failed),
    # so the client, the callee, was never dialed; the status is the operator leg's.
    OPERATOR_UNANSWERED = "operator_unanswered"

    def __str__(self) -> str:
        return self.value


# How status_counts() names the NO_ANSWER attempts pacing stopped while they rang: they do not use
# up the callee's NO_ANSWER attempts, only the total cap.
STOPPED_KEY = "STOPPED"

RETRYABLE = frozenset(
    {
        CallStatus.BUSY,
        CallStatus.NO_ANSWER,
        CallStatus.CONGESTION,
        CallStatus.REJECTED,
        CallStatus.FAILED,
        CallStatus.MACHINE,
        CallStatus.UNKNOWN,
    }
)


@dataclass
class CallResult:
    """Everything known about one originate attempt, as recorded in the `attempts` table."""

    attempt_id: str
    number: str
    status: CallStatus
    reason: int | None = None  # OriginateResponse Reason (0 failed, 1 hangup, 3 ring timeout, 4 answered, 5 busy, 8 congestion)
    cause: int | None = None  # the meaningful Q.850 cause (17 for busy, though the Local ;1 leg says 0)
    cause_txt: str | None = None
    dial_status: str | None = None  # DialEnd DialStatus / DIALSTATUS
    channel_id: str | None = None  # the per-attempt ChannelId we set (Uniqueid of leg ;1)
    other_channel_id: str | None = None
    channel: str | None = None  # e.g. Local/79061234561@sim-pstn-00000005;1
    action_id: str | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    talk_seconds: float | None = None
    events: list[dict[str, str]] = field(default_factory=list)  # UserEvents reported for this call
    error: str | None = None  # why the engine gave up, in words for people (`failure` says it for code)
    stopped: bool = False  # the pacer ended it while it rang (stop_ringing): NO_ANSWER, retried by the policy
    failure: FailureKind | None = None  # why it failed, when the engine or the dialer gave up on it
    # Answering-machine detection (autodialer/telephony/amd.py), when the campaign has it on:
    amd_status: str | None = None  # AMDSTATUS: HUMAN, MACHINE, NOTSURE, HANGUP
    amd_cause: str | None = None  # AMDCAUSE, e.g. MAXWORDS-3-2
    amd_action: str | None = None  # what the dialplan did: connect, hangup, message
    amd_seconds: float | None = None  # from the answer to the verdict

    @property
    def retryable(self) -> bool:
        return self.status.retryable

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: enums as their value, datetimes as ISO 8601."""
        out = asdict(self)
        out["status"] = self.status.value
        out["failure"] = self.failure.value if self.failure is not None else None
        for key in ("queued_at", "answered_at", "ended_at"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        return out


# -- what the compliance rules count (one definition each; SQL forms in autodialer.store.facts) --

# An attempt reached the callee's phone (counted by the contact-frequency limits and the
# compliance report) unless it never left or nothing could ring: not sent, refused by Asterisk at
# once, a blocked number, a click-to-call whose operator never answered (the client's number was
# never dialed). Everything else sent to the network counts, in flight (DIALING) included: a
# congested or failed call may have rung, and a limit must not be passed on a guess.
NOT_REACHING_STATUSES = frozenset({CallStatus.NOT_SENT, CallStatus.BLOCKED})
NOT_REACHING_FAILURES = frozenset({FailureKind.NOT_SENT, FailureKind.REFUSED, FailureKind.OPERATOR_UNANSWERED})

# Live-answered (the denominator of every abandonment rate: TCPA, Ofcom) and abandoned (the
# numerator): a person answered and was not connected to an operator or the recorded message in
# time. The ONE place that says which attempts are abandoned: pacing (PacingStats, the
# predictive window), Store.live_answers, and the SQL view `live_answers` (autodialer.store.facts)
# that the compliance and analyst views read. People AMD took for machines are weighted in
# (is_machine_hangup below; the view's `machine_hangup` column). A new kind of abandoned call is
# added here and in that view's next migration.
LIVE_ANSWERED_STATUSES = frozenset({CallStatus.ANSWERED, CallStatus.ABANDONED})
ABANDONED_STATUSES = frozenset({CallStatus.ABANDONED})
# A MACHINE hang-up (AMD said machine, or not sure, and the dialplan hung up: amd_action
# 'hangup') may have been a person: it counts as the campaign's amd.false_machine_rate of an
# abandoned live call (autodialer/telephony/amd.py), in the pacer and in the compliance report alike.
MACHINE_HANGUP_ACTION = "hangup"


def reached_callee(status: CallStatus | str, failure: FailureKind | str | None) -> bool:
    """Whether an attempt counts against the callee's contact-frequency limits (see above)."""
    if status != "DIALING" and CallStatus(status) in NOT_REACHING_STATUSES:
        return False
    return failure is None or FailureKind(failure) not in NOT_REACHING_FAILURES


def stopped_by_pacing(result: "CallResult") -> bool:
    """Pacing hung the call up while it rang (the engine's stop_ringing; the attempts column
    stopped_by_pacing). The one definition: `result.stopped`, set by the engine that stopped it;
    as a failure kind it is STOPPED_RINGING on the NO_ANSWER this makes (a callee who answered as
    the hangup travelled is ABANDONED, stopped, with no failure kind); a result built with only
    the failure kind counts too."""
    return bool(result.stopped) or (result.failure is not None
                                    and FailureKind(result.failure) is FailureKind.STOPPED_RINGING)


def is_abandoned(result: "CallResult") -> bool:
    """Whether a finished call counts as abandoned (see ABANDONED_STATUSES)."""
    return result.status in ABANDONED_STATUSES


def is_machine_hangup(result: "CallResult") -> bool:
    """A call AMD hung up on (see MACHINE_HANGUP_ACTION): weighted as abandoned by false_machine_rate."""
    return result.status is CallStatus.MACHINE and result.amd_action == MACHINE_HANGUP_ACTION


def is_live_answered(result: "CallResult") -> bool:
    return result.status in LIVE_ANSWERED_STATUSES

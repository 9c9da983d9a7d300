"""classify(): (Reason, causes, DialStatus, ...) -> CallStatus, and the cause we report."""

import pytest

from autodialer.telephony.outcomes import CallStatus as S
from autodialer.telephony.classify import cause_text, classify, meaningful_cause

# (reason, hangup causes in arrival order, DialEnd status, answered, DialResult status, DialResult cause) -> (status, cause)
TABLE = [
    # The recorded lab plan (tests/fixtures/asterisk-22/README.md).
    ((4, [16, 16], "ANSWER", True, None, None), (S.ANSWERED, 16)),
    ((5, [0, 17], "BUSY", False, None, None), (S.BUSY, 17)),  # Local ;1 says 0, ;2 says 17
    ((5, [17, 0], "BUSY", False, None, None), (S.BUSY, 17)),
    ((3, [19, 19], None, False, None, None), (S.NO_ANSWER, 19)),  # ring timeout
    ((8, [34, 0], "CONGESTION", False, None, None), (S.CONGESTION, 34)),
    ((8, [0, 34], "CONGESTION", False, None, None), (S.CONGESTION, 34)),
    ((0, [1, 1], "NOANSWER", False, None, None), (S.INVALID_NUMBER, 1)),  # unallocated: DialEnd says NOANSWER
    # Reason alone, when no leg reported a cause (e.g. OriginateResponse came, Hangups did not).
    ((5, [], None, False, None, None), (S.BUSY, None)),
    ((8, [], None, False, None, None), (S.CONGESTION, None)),
    ((3, [], None, False, None, None), (S.NO_ANSWER, None)),
    ((1, [], None, False, None, None), (S.REJECTED, None)),
    ((4, [], None, False, None, None), (S.ANSWERED, None)),
    # Reason 0 (failed): the cause decides; no cause -> FAILED.
    ((0, [], None, False, None, None), (S.FAILED, None)),
    ((0, [0, 0], None, False, None, None), (S.FAILED, 0)),
    ((0, [16], None, False, None, None), (S.FAILED, 16)),
    ((None, [], None, False, None, None), (S.FAILED, None)),
    ((0, [21, 21], None, False, None, None), (S.REJECTED, 21)),
    ((1, [21], None, False, None, None), (S.REJECTED, 21)),
    ((0, [28], None, False, None, None), (S.INVALID_NUMBER, 28)),
    ((0, [22], None, False, None, None), (S.INVALID_NUMBER, 22)),
    ((0, [0, 18], None, False, None, None), (S.NO_ANSWER, 18)),
    ((0, [38], None, False, None, None), (S.CONGESTION, 38)),
    ((0, [41], None, False, None, None), (S.CONGESTION, 41)),
    ((0, [42], None, False, None, None), (S.CONGESTION, 42)),
    ((0, [102], None, False, None, None), (S.CONGESTION, 102)),
    ((0, [0, 0], "CHANUNAVAIL", False, None, None), (S.INVALID_NUMBER, 0)),
    ((0, [], "BUSY", False, None, None), (S.BUSY, None)),
    # Unknown causes do not decide; the Reason does.
    ((5, [0, 127], None, False, None, None), (S.BUSY, 127)),
    # Answered calls stay ANSWERED whatever other legs (queue agents...) say.
    ((4, [19, 16, 16], "ANSWER", True, None, None), (S.ANSWERED, 16)),
    ((None, [16, 16], None, True, None, None), (S.ANSWERED, 16)),
    # The dial-out style: the first leg answers at once, the dialplan reports DialResult.
    ((4, [0, 17, 16, 16], "ANSWER", True, "BUSY", None), (S.BUSY, 17)),
    ((4, [1, 1, 1, 1], "ANSWER", True, "CHANUNAVAIL", None), (S.INVALID_NUMBER, 1)),
    ((4, [16, 16], "ANSWER", True, "ANSWER", None), (S.ANSWERED, 16)),
    ((4, [16, 16], "ANSWER", True, "NOANSWER", 19), (S.NO_ANSWER, 19)),
    ((4, [16, 16], "ANSWER", True, "CONGESTION", None), (S.CONGESTION, 16)),
    ((4, [16, 16], "ANSWER", True, "CHANUNAVAIL", 34), (S.CONGESTION, 34)),  # the cause beats CHANUNAVAIL
    ((4, [16, 16], "ANSWER", True, "CANCEL", None), (S.FAILED, 16)),
    ((4, [16, 16], "ANSWER", True, "noanswer", None), (S.NO_ANSWER, 16)),
]


@pytest.mark.parametrize("facts, expected", TABLE, ids=[f"{f[0]}-{f[1]}-{f[2]}-{f[4]}" for f, _ in TABLE])
def test_classify_table(facts, expected):
    reason, causes, dial_status, answered, result_status, result_cause = facts
    status = classify(reason, causes, dial_status, answered=answered, result_dial_status=result_status, result_cause=result_cause)
    assert (status, meaningful_cause(status, causes, result_cause=result_cause)) == expected


def test_cause_texts_are_asterisks():
    assert cause_text(17) == "User busy"
    assert cause_text(1) == "Unallocated (unassigned) number"
    assert cause_text(19) == "User alerting, no answer"
    assert cause_text(34) == "Circuit/channel congestion"
    assert cause_text(999) == "Cause 999"
    assert cause_text(None) is None


def test_every_status_of_the_dial_taxonomy_is_reachable():
    reached = {classify(*facts[:3], answered=facts[3], result_dial_status=facts[4], result_cause=facts[5]) for facts, _ in TABLE}
    assert reached >= {S.ANSWERED, S.BUSY, S.NO_ANSWER, S.CONGESTION, S.REJECTED, S.INVALID_NUMBER, S.FAILED}

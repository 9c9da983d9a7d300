"""Retry policy: after an attempt ends with a status, is the contact done, or when may it be
called again? Intervals and attempt limits are per outcome, plus a total cap per contact.

The decision is pure (no clock, no database): the campaign flow feeds it the counts from the
store, then `retry_at` (pure too: every instant is given) turns the delay into the contact's next
attempt time: inside the calling window (`CallingWindows.next_open_all`), for an outcome with
`other_hour` at a local hour of day none of its earlier attempts began in (MACHINE: a voicemail
at 10:05 is tried again at another hour, not at 10:05 the next day), and where the
contact-frequency limits let a call start, so the contact is not claimed once for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Iterable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from autodialer.rules.durations import parse_duration
from autodialer.telephony.outcomes import CallStatus

ABANDON_QUIET_SECONDS = 72 * 3600  # Ofcom: no repeat within 72 h of an abandoned call


def _intervals(value):
    if isinstance(value, (list, tuple)):
        return [parse_duration(v) for v in value]
    return [parse_duration(value)]


Intervals = Annotated[list[float], BeforeValidator(_intervals)]


class OutcomeRetry(BaseModel):
    """How to retry one outcome: `interval` (one duration or a list, the last repeats) and how
    many attempts may end with this outcome before the contact is given up. `other_hour`: the
    retry, at least `interval` later, is at a local hour of day (the callee's) that none of the
    contact's attempts with this outcome began in: later the same day if the window still has such
    an hour, else at one in a later day's window (see retry_at)."""

    model_config = ConfigDict(extra="forbid")
    interval: Intervals
    max_attempts: int = Field(ge=1, le=50)
    other_hour: bool = False

    @field_validator("interval")
    @classmethod
    def _not_empty(cls, v):
        if not v:
            raise ValueError("at least one interval is needed")
        return v

    def delay_after(self, nth: int) -> float:
        """Delay after the nth attempt (1-based) that ended with this outcome."""
        return self.interval[min(nth, len(self.interval)) - 1]


def _default_outcomes() -> dict[CallStatus, OutcomeRetry]:
    S = CallStatus
    return {
        S.BUSY: OutcomeRetry(interval=["5m", "10m", "20m"], max_attempts=5),
        S.NO_ANSWER: OutcomeRetry(interval=["30m", "2h"], max_attempts=3),
        S.CONGESTION: OutcomeRetry(interval=["2m", "10m"], max_attempts=3),
        S.REJECTED: OutcomeRetry(interval="1h", max_attempts=2),
        S.FAILED: OutcomeRetry(interval=["5m", "15m"], max_attempts=3),
        # Issue 17: a machine (voicemail) is tried again later in the day, at another hour
        # (2 h on at least; 17:30 with a 21:00 close: 19:30; 20:10: the next day's opening).
        S.MACHINE: OutcomeRetry(interval="2h", max_attempts=2, other_hour=True),
        # Ended during an AMI outage with no CDR to say how: it may have been answered, so not
        # soon (a day), and only once more by default.
        S.UNKNOWN: OutcomeRetry(interval="24h", max_attempts=2),
    }


NEVER_RETRIED = frozenset({CallStatus.ANSWERED, CallStatus.INVALID_NUMBER, CallStatus.BLOCKED})


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay: float | None  # seconds from the end of this attempt; None when done
    reason: str


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcomes: dict[CallStatus, OutcomeRetry] = Field(default_factory=_default_outcomes)
    max_attempts: int = Field(default=6, ge=1, le=100)  # total cap per contact, all outcomes

    @model_validator(mode="after")
    def _check(self):
        # A policy that names its outcomes still retries UNKNOWN the long way unless it says
        # otherwise (`UNKNOWN: {interval: ..., max_attempts: 1}` makes it final).
        self.outcomes.setdefault(CallStatus.UNKNOWN, _default_outcomes()[CallStatus.UNKNOWN])
        # Likewise MACHINE (AMD hung up on a voicemail): again later in the day, at another hour.
        # MACHINE_MESSAGE (a message was left) is final unless the policy names it.
        self.outcomes.setdefault(CallStatus.MACHINE, _default_outcomes()[CallStatus.MACHINE])
        for status in self.outcomes:
            if status is CallStatus.NOT_SENT:
                raise ValueError("outcomes.NOT_SENT: an attempt that never left is given back at once, not retried by the policy")
            if status in NEVER_RETRIED:
                raise ValueError(f"outcomes.{status.value}: this outcome is never retried")
        abandoned = self.outcomes.get(CallStatus.ABANDONED)
        if abandoned and min(abandoned.interval) < ABANDON_QUIET_SECONDS:
            raise ValueError("outcomes.ABANDONED: interval must be at least 72h (no repeat within 72 h of an abandoned call)")
        return self

    def decide(self, status: CallStatus, *, status_count: int, total_attempts: int,
               counts: bool = True) -> RetryDecision:
        """`status_count`: attempts of this contact that ended with `status`, this one included
        (if it `counts`); `total_attempts`: all attempts of this contact, this one included.
        `counts=False`: this attempt says nothing of the callee (pacing stopped it while it
        rang): retried at the outcome's interval without using up its attempts; the total cap
        still holds."""
        rule = self.outcomes.get(status)
        if rule is None:
            return RetryDecision(False, None, f"{status.value} is final")
        if total_attempts >= self.max_attempts:
            return RetryDecision(False, None, f"attempt cap reached ({total_attempts}/{self.max_attempts})")
        if not counts:
            delay = rule.delay_after(max(1, status_count))
            return RetryDecision(True, delay, f"{status.value} (stopped while ringing, not counted): retry in {delay:g}s")
        if status_count >= rule.max_attempts:
            return RetryDecision(False, None, f"{status.value} limit reached ({status_count}/{rule.max_attempts})")
        delay = rule.delay_after(status_count)
        return RetryDecision(True, delay, f"{status.value} {status_count}/{rule.max_attempts}: retry in {delay:g}s")


UTC = timezone.utc
_OTHER_HOUR_STEPS = 24 * 14  # an hour at a time, two weeks: then every hour the window has was tried


def _local_zone(zones: list[str]):
    from zoneinfo import ZoneInfo

    return ZoneInfo(zones[0]) if zones else UTC


def open_at_other_hour(earliest: datetime, windows, zones: list[str], avoid: Iterable[datetime] = ()) -> datetime | None:
    """The first instant >= `earliest` at which `windows` (autodialer.rules.windows.CallingWindows) is
    open in every one of `zones` and the local hour of day in the first zone (the callee's
    calendar, as the attempt rows' local_start) is none of the local hours of `avoid` (when the
    earlier attempts began). The same day if its window still has such an hour, else the first
    such hour of a later day's window. If the window opens at no other hour at all (a one-hour
    window, or every hour tried) the plain next opening. None: the window never opens again."""
    first = windows.next_open_all(earliest, zones)
    tz = _local_zone(zones)
    hours = {a.astimezone(tz).hour for a in avoid}
    t = first
    for _ in range(_OTHER_HOUR_STEPS):
        if t is None:
            return None
        local = t.astimezone(tz)
        if local.hour not in hours:
            return t
        hour_start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        t = windows.next_open_all(max(hour_start + timedelta(hours=1), t + timedelta(minutes=1)), zones)
    return first


def retry_at(earliest: datetime, windows, zones: list[str], *, avoid: Iterable[datetime] = (),
             frequency=None, history: list | None = None) -> datetime | None:
    """When a contact whose retry is due no sooner than `earliest` is next called: inside the
    window in every zone, at another hour than `avoid`'s (an `other_hour` outcome; else pass
    nothing), and, with `frequency` (autodialer.rules.frequency.FrequencyRule) and `history` (the
    number's counted calls in every campaign, this one included: start times or (start,
    abandoned) pairs), at the first time the contact-frequency limits let a call start, so the
    contact is not claimed only to be put off by the limits. None: never (the window never
    opens again)."""
    avoid = list(avoid)
    t = earliest
    for _ in range(32):  # the limits only relax later, the hour rule only moves forward
        t = open_at_other_hour(t, windows, zones, avoid)
        if t is None or frequency is None:
            return t
        limited = frequency.verdict(history or [], t)
        if limited is None:
            return t
        if limited.until is None:
            return None
        if limited.until <= t:
            return t
        t = limited.until
    return t

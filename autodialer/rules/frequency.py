"""Contact-frequency limits: how often one phone number may be called, across every campaign in
the outcome database, counted in the callee's local calendar.

```yaml
limits:            # per campaign; AUTODIALER_CONTACT_LIMITS holds the global default
  per_day: 1       # calls that reached the callee's phone, per local calendar day
  per_week: 2      # ... per local ISO week (Monday 00:00 to Monday 00:00)
  per_month: 8     # ... per local calendar month
  min_gap: 4h      # at least this long between two such calls
```

What counts is `outcomes.reached_callee` (one definition, in SQL too): every attempt sent to the
network, whatever its outcome, in any campaign, in flight included; never one that was not sent
or that Asterisk refused, nor a blocked number. A number whose zone is not narrowed to one
(several candidates) is held to the limits in every candidate's calendar.

The rule is pure (no clock, no database): `FrequencyRule.verdict(history, now)` says whether a
call may start now and, if not, the next instant it may (aligned to the calling window). The
store asks it inside the claim's transaction, under a per-number lock (Store.claim_attempt), so
two campaigns sharing a number can never both pass the check at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autodialer.rules.durations import parse_duration
from autodialer.errors import ConfigError

UTC = timezone.utc
LIMITS_VAR = "AUTODIALER_CONTACT_LIMITS"
COUNTS = ("per_24h", "per_day", "per_week", "per_month")
GAPS = ("min_gap", "after_abandoned")
_MAX_GAP = 31 * 86400.0


class ContactLimits(BaseModel):
    """Unset fields are no limit. `tighter(other)` is the strictest of both, field by field."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    per_24h: int | None = Field(default=None, ge=1, le=1000)  # in any rolling 24 hours (Florida's wording)
    per_day: int | None = Field(default=None, ge=1, le=1000)
    per_week: int | None = Field(default=None, ge=1, le=5000)
    per_month: int | None = Field(default=None, ge=1, le=20000)
    min_gap: float | None = None  # seconds; accepts "4h", "72h"
    after_abandoned: float | None = None  # no call within this long of an abandoned one (Ofcom: 72h)

    @field_validator("min_gap", "after_abandoned", mode="before")
    @classmethod
    def _gap(cls, v):
        if v is None:
            return None
        seconds = parse_duration(v)
        if seconds > _MAX_GAP:
            raise ValueError(f"at most 31 days ({seconds:g} s given)")
        return seconds or None

    @property
    def any(self) -> bool:
        return any(getattr(self, f) is not None for f in (*COUNTS, *GAPS))

    def tighter(self, other: "ContactLimits | None") -> "ContactLimits":
        if other is None:
            return self
        out = {}
        for f in COUNTS:
            given = [v for v in (getattr(self, f), getattr(other, f)) if v is not None]
            out[f] = min(given) if given else None
        for f in GAPS:
            gaps = [v for v in (getattr(self, f), getattr(other, f)) if v is not None]
            out[f] = max(gaps) if gaps else None
        return ContactLimits(**out)

    def loosened(self, floor: "ContactLimits") -> list[str]:
        """The fields where these limits allow more than `floor` does (a preset's): each as
        `per_day: 3 is looser than 1`."""
        problems = []
        for f in COUNTS:
            mine, theirs = getattr(self, f), getattr(floor, f)
            if theirs is not None and (mine is None or mine > theirs):
                problems.append(f"{f}: {mine} is looser than {theirs}")
        for f in GAPS:
            mine, theirs = getattr(self, f), getattr(floor, f)
            if theirs is not None and (mine is None or mine < theirs):
                problems.append(f"{f}: {mine} s is shorter than {theirs:g} s")
        return problems

    def lookback(self) -> timedelta:
        """How far back the attempts that can decide a verdict go: a month (and a day for the
        zone offsets), or the gap if longer."""
        return timedelta(days=33) + timedelta(seconds=max(self.min_gap or 0, self.after_abandoned or 0))

    def describe(self) -> str:
        parts = [f"{f.replace('per_', '')} {getattr(self, f)}" for f in COUNTS if getattr(self, f) is not None]
        if self.min_gap:
            parts.append(f"gap {self.min_gap:g}s")
        if self.after_abandoned:
            parts.append(f"after abandoned {self.after_abandoned:g}s")
        return ", ".join(parts) or "none"


def global_limits(env: dict[str, str] | None = None) -> ContactLimits | None:
    """The deployment-wide default (AUTODIALER_CONTACT_LIMITS, a YAML mapping such as
    `{per_day: 3, per_week: 10, min_gap: 2h}`); None when unset. Every campaign is held to it
    and to its own limits, the stricter of the two."""
    import yaml

    env = os.environ if env is None else env
    text = (env.get(LIMITS_VAR) or "").strip()
    if not text:
        return None
    try:
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError("a mapping like {per_day: 3, min_gap: 2h}")
        return ContactLimits.model_validate(data)
    except (yaml.YAMLError, ValueError, ValidationError) as exc:
        raise ConfigError(f"{LIMITS_VAR}: {exc}".splitlines()[0] if not isinstance(exc, ValidationError)
                          else f"{LIMITS_VAR}: " + "; ".join(
                              f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                              for e in exc.errors())) from None


@dataclass(frozen=True)
class Limited:
    """A call that may not start now: the earliest instant it may, and which limit said so."""

    until: datetime | None  # None: the window never opens again
    reason: str


def _local_periods(t: datetime, tz) -> tuple[date, date, date]:
    d = t.astimezone(tz).date()
    return d, d - timedelta(days=d.weekday()), d.replace(day=1)


def _midnight(d: date, tz) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def next_allowed(limits: ContactLimits, history: list, now: datetime, zones: list[str]) -> tuple[datetime, str | None]:
    """The earliest instant >= `now` at which one more call keeps within `limits` in every one
    of `zones`' calendars, given the counted calls so far (`history`: their start times, or
    (start, abandoned) pairs); and the reason it is later than `now` (None when it is `now`)."""
    from zoneinfo import ZoneInfo

    tzs = [ZoneInfo(z) for z in zones] or [UTC]
    pairs = [h if isinstance(h, tuple) else (h, False) for h in history]
    past = sorted(h.astimezone(UTC) for h, _ in pairs if h <= now)
    abandoned = sorted(h.astimezone(UTC) for h, ab in pairs if ab and h <= now)
    t, why = now, None
    for _ in range(64):
        moved = False
        if limits.min_gap and past and t < past[-1] + timedelta(seconds=limits.min_gap):
            t, why, moved = past[-1] + timedelta(seconds=limits.min_gap), f"min_gap {limits.min_gap:g}s", True
        if limits.after_abandoned and abandoned and t < abandoned[-1] + timedelta(seconds=limits.after_abandoned):
            t, why, moved = (abandoned[-1] + timedelta(seconds=limits.after_abandoned),
                             f"after_abandoned {limits.after_abandoned:g}s", True)
        if limits.per_24h:
            recent = [h for h in past if t - timedelta(hours=24) < h <= t]
            if len(recent) >= limits.per_24h:
                t = recent[len(recent) - limits.per_24h] + timedelta(hours=24)
                why, moved = f"per_24h {len(recent)}/{limits.per_24h}", True
        for tz in tzs:
            day, week, month = _local_periods(t, tz)
            checks = (
                ("per_day", limits.per_day, lambda h: _local_periods(h, tz)[0] == day, _midnight(day + timedelta(days=1), tz)),
                ("per_week", limits.per_week, lambda h: _local_periods(h, tz)[1] == week, _midnight(week + timedelta(days=7), tz)),
                ("per_month", limits.per_month, lambda h: _local_periods(h, tz)[2] == month, _midnight(_next_month(month), tz)),
            )
            for name, cap, same, next_start in checks:
                if cap is None:
                    continue
                n = sum(1 for h in past if same(h))
                if n >= cap:
                    t, why, moved = next_start, f"{name} {n}/{cap} ({tz.key} calendar)", True
                    break
            if moved:
                break
        if not moved:
            return t, why
    return t, why


@dataclass(frozen=True)
class FrequencyRule:
    """What the claim of one contact checks and records: the campaign's effective limits, the
    zones the callee's calendar and window are read in, and the calling window (a postponed
    call is aligned to its next opening; each attempt row records whether it started inside)."""

    limits: ContactLimits
    zones: tuple[str, ...]
    windows: object | None = None  # autodialer.rules.windows.CallingWindows
    min_ring: float = 0.0

    def facts(self, now: datetime) -> dict:
        """The attempt row's callee columns (migration 0007): the zones honoured, the local
        start in the first of them (the compliance view's calendar), and whether the window was
        open in every zone at the start (1 = it was not)."""
        from zoneinfo import ZoneInfo

        zones = list(self.zones)
        local = now.astimezone(ZoneInfo(zones[0])) if zones else now.astimezone(UTC)
        outside = None
        if self.windows is not None and zones:
            outside = int(not self.windows.is_open_all(now, zones))
        return {"callee_zones": " ".join(zones) or None, "local_start": local.strftime("%Y-%m-%d %H:%M:%S"),
                "outside_window": outside}

    def verdict(self, history: list, now: datetime) -> Limited | None:
        """None: the call may start now. Else when it may, and why not now."""
        t, why = next_allowed(self.limits, history, now, list(self.zones))
        if why is None:
            return None
        if self.windows is not None:
            for _ in range(16):  # the next window opening, then the limits again (they only relax later)
                opens = self.windows.next_start_all(t, list(self.zones), self.min_ring)
                if opens is None:
                    return Limited(None, f"contact limit ({why}); the window never opens again")
                t2, again = next_allowed(self.limits, history, opens, list(self.zones))
                if again is None:
                    t = opens
                    break
                t = t2
        return Limited(t, f"contact limit {why}")

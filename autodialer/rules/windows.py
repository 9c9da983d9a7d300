"""Calling windows, evaluated in the callee's local time (zoneinfo, so DST is handled).

A window is a set of weekdays and a local start/end time; blackout dates are local dates on
which nobody is called. `next_open(after, tz)` is the earliest instant >= `after` at which a
callee in `tz` may be called; the campaign uses it both to pick due contacts and to push a
retry that would land outside the window to the next opening.
"""

from __future__ import annotations

import functools

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = timezone.utc
_SEARCH_DAYS = 400  # a window that never opens within a year is a configuration error


def _expand_days(value):
    """Accept `mon-fri`, `sat,sun`, `[mon, tue]`, `daily`; return a list of weekday names."""
    if isinstance(value, str):
        value = [value]
    out: list[str] = []
    for item in value:
        for part in str(item).lower().replace(" ", "").split(","):
            if part in ("daily", "all", "*"):
                out.extend(WEEKDAYS)
            elif "-" in part:
                first, last = part.split("-", 1)
                if first not in WEEKDAYS or last not in WEEKDAYS:
                    raise ValueError(f"{part!r} is not a weekday range like mon-fri")
                i, j = WEEKDAYS.index(first), WEEKDAYS.index(last)
                if j < i:
                    raise ValueError(f"{part!r}: the range must go forward (mon-fri, not fri-mon)")
                out.extend(WEEKDAYS[i : j + 1])
            elif part in WEEKDAYS:
                out.append(part)
            else:
                raise ValueError(f"{part!r} is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
    return sorted(set(out), key=WEEKDAYS.index)


Days = Annotated[list[str], BeforeValidator(_expand_days)]


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Moscow)") from None


@functools.lru_cache(maxsize=1024)
def usable_zone(name) -> bool:
    """Whether `name` is a zone a window can be evaluated in. `Etc/Unknown` (what phonenumbers
    gives a number it cannot place) is not: it would silently act as UTC."""
    if not isinstance(name, str) or name == "Etc/Unknown":
        return False
    try:
        zone(name)
    except ValueError:
        return False
    return True


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: Days
    start: time
    end: time

    @model_validator(mode="after")
    def _start_before_end(self):
        if not self.start < self.end:
            raise ValueError(f"start {self.start} must be before end {self.end} (windows do not cross midnight)")
        if not self.days:
            raise ValueError("a window needs at least one weekday")
        return self


@functools.lru_cache(maxsize=64)
def holiday_dates(calendar: str, year: int) -> frozenset[date]:
    """The public holidays (and the days off they move to) of `calendar` ('RU', or 'US-FL': a
    country and optionally its subdivision) in `year`: the official production calendar kept in
    autodialer.rules.calendars (RU 2026, 2027), else the `holidays` package's."""
    from autodialer.rules.calendars import official

    if (cal := official(calendar, year)) is not None:
        return cal.days_off
    import holidays

    country, _, subdiv = calendar.partition("-")
    return frozenset(holidays.country_holidays(country, subdiv=subdiv or None, years=year))


def working_weekend_days(calendar: str, year: int) -> dict[date, date]:
    """The Saturdays and Sundays of `calendar`'s `year` that are working days (a Russian
    transfer: Saturday 20 February 2027 works for Monday 22 February), each with the weekday it
    works as (autodialer.rules.calendars; none for the years and calendars it does not keep)."""
    from autodialer.rules.calendars import working_weekend_days as days

    return days(calendar, year)


class HolidayWindow(BaseModel):
    """On a public holiday of `calendar` (callee's local date) this window applies instead of the
    weekday's (ru-230fz: 09:00-20:00, as on weekends); `closed: true`: nobody is called."""

    model_config = ConfigDict(extra="forbid")
    calendar: str = "RU"
    start: time | None = None
    end: time | None = None
    closed: bool = False

    @model_validator(mode="after")
    def _check(self):
        try:
            holiday_dates(self.calendar, 2027)
        except Exception as exc:
            raise ValueError(f"calendar {self.calendar!r}: not a country the holidays package knows ({exc})") from None
        if self.closed:
            return self
        if self.start is None or self.end is None or not self.start < self.end:
            raise ValueError("holidays: give start and end (start before end), or closed: true")
        return self

    def is_holiday(self, day: date) -> bool:
        return day in holiday_dates(self.calendar, day.year)

    def works_as(self, day: date) -> date | None:
        """For a Saturday or Sunday the calendar makes a working day, the day whose weekday's
        window applies (the day off it was swapped with); else None."""
        return working_weekend_days(self.calendar, day.year).get(day)


def _default_windows() -> list[Window]:
    # Inside every regulation in the field notes: TCPA 8-21, Ofcom, 230-FZ (weekdays 8-22, weekends 9-20).
    return [
        Window(days="mon-fri", start=time(9), end=time(21)),
        Window(days="sat-sun", start=time(10), end=time(20)),
    ]


class CallingWindows(BaseModel):
    model_config = ConfigDict(extra="forbid")
    windows: list[Window] = Field(default_factory=_default_windows, min_length=1)
    blackout_dates: list[date] = Field(default_factory=list)
    holidays: HolidayWindow | None = None

    @field_validator("windows")
    @classmethod
    def _sorted(cls, windows: list[Window]) -> list[Window]:
        return sorted(windows, key=lambda w: w.start)

    def _spans(self, day: date, tz: ZoneInfo):
        """The open spans [start, end) of a local date, as UTC instants."""
        if day in self.blackout_dates:
            return
        if self.holidays is not None and self.holidays.is_holiday(day):
            if not self.holidays.closed:
                yield (datetime.combine(day, self.holidays.start, tzinfo=tz).astimezone(UTC),
                       datetime.combine(day, self.holidays.end, tzinfo=tz).astimezone(UTC))
            return
        weekday = WEEKDAYS[day.weekday()]
        if self.holidays is not None and (works_as := self.holidays.works_as(day)) is not None:
            weekday = WEEKDAYS[works_as.weekday()]  # a working Saturday: a working day's window
        for w in self.windows:
            if weekday in w.days:
                start = datetime.combine(day, w.start, tzinfo=tz).astimezone(UTC)
                end = datetime.combine(day, w.end, tzinfo=tz).astimezone(UTC)
                yield start, end

    def local_spans(self, day: date) -> list[tuple[time, time]]:
        """The open spans of a local date as local times (for comparing windows)."""
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("UTC")
        return [(s.time(), e.time()) for s, e in self._spans(day, tz)]

    def within(self, outer: "CallingWindows") -> list[str]:
        """Where these windows open outside `outer` (a preset's), checked on every kind of day
        (each weekday, and a holiday of outer's calendar): `mon 07:00-22:00 is outside 08:00-22:00`."""
        problems = []
        probe = date(2027, 9, 13)  # a Monday of a week without holidays in RU, US or the UK
        kinds = [(WEEKDAYS[i], probe + timedelta(days=i)) for i in range(7)]
        cal = outer.holidays or self.holidays
        if cal is not None:
            kinds.append(("holiday", next(d for d in sorted(holiday_dates(cal.calendar, 2027)))))
        for name, day in kinds:
            theirs = outer.local_spans(day)
            for s, e in self.local_spans(day):
                if not any(os <= s and e <= oe for os, oe in theirs):
                    allowed = ", ".join(f"{os:%H:%M}-{oe:%H:%M}" for os, oe in theirs) or "closed"
                    problems.append(f"{name} {s:%H:%M}-{e:%H:%M} is outside {allowed}")
        return problems

    def next_open(self, after: datetime, tz_name: str) -> datetime | None:
        """Earliest instant >= `after` (aware) when the window is open for a callee in `tz_name`."""
        tz = zone(tz_name)
        local_day = after.astimezone(tz).date()
        for offset in range(-1, _SEARCH_DAYS):  # -1: a window of yesterday's local date cannot still be open, but DST folds make it cheap to check
            for start, end in self._spans(local_day + timedelta(days=offset), tz):
                if end > after:
                    return max(start, after)
        return None

    def is_open(self, now: datetime, tz_name: str) -> bool:
        return self.next_open(now, tz_name) == now

    # A callee whose zone is ambiguous (a mobile range spanning several zones) may only be called
    # when the window is open in every zone they might be in.
    def next_open_all(self, after: datetime, tz_names: list[str]) -> datetime | None:
        """Earliest instant >= `after` when the window is open in every one of `tz_names`."""
        t = after
        for _ in range(64 * max(1, len(tz_names))):
            moved = False
            for name in tz_names:
                opens = self.next_open(t, name)
                if opens is None:
                    return None
                if opens != t:
                    t, moved = opens, True
            if not moved:
                return t
            if t - after > timedelta(days=_SEARCH_DAYS):
                return None
        return None

    def is_open_all(self, now: datetime, tz_names: list[str]) -> bool:
        return all(self.is_open(now, name) for name in tz_names)

    def closes_at(self, now: datetime, tz_name: str) -> datetime | None:
        """End of the window open at `now`, or None if it is closed."""
        tz = zone(tz_name)
        local_day = now.astimezone(tz).date()
        for offset in (-1, 0):
            for start, end in self._spans(local_day + timedelta(days=offset), tz):
                if start <= now < end:
                    return end
        return None

    def open_through_all(self, now: datetime, until: datetime, tz_names: list[str]) -> bool:
        """Whether the window is open at `now` and stays open until `until` in every zone
        (windows that touch, 09-13 and 13-18, count as one span)."""
        for name in tz_names:
            t = now
            while t < until:
                end = self.closes_at(t, name)
                if end is None or end <= t:
                    return False
                t = end
        return True

    def can_start(self, now: datetime, tz_names: list[str], min_ring: float) -> bool:
        """A call may start at `now` only if it can ring `min_ring` seconds before the window
        closes: one started at 20:59:55 for a 21:00 close would ring into the closed window or
        be cut before the callee could reach the phone."""
        return self.open_through_all(now, now + timedelta(seconds=min_ring), tz_names)

    def next_start_all(self, after: datetime, tz_names: list[str], min_ring: float) -> datetime | None:
        """Earliest instant >= `after` at which `can_start` holds."""
        t = self.next_open_all(after, tz_names)
        for _ in range(64):
            if t is None or self.can_start(t, tz_names, min_ring):
                return t
            t = self.next_open_all(t + timedelta(seconds=min_ring), tz_names)
        return None

"""Official production calendars (Russia's производственный календарь) as data: which dates are
days off and which Saturdays or Sundays are working days, by law, for the years the government
has fixed them. The windows (autodialer.rules.windows) read them for the calendar `RU` (the ru-230fz
preset's): a day off takes the holiday window (09-20 under 230-FZ, as on weekends), a working
Saturday the window of the weekday it works for (08-22). Other years and calendars come from the
`holidays` package, which knows the days off but not the working Saturdays.

How a Russian year's calendar is made (Labour Code art. 112):
- part 1: the non-working public holidays: 1-6 and 8 January (New Year holidays), 7 January
  (Christmas), 23 February, 8 March, 1 May, 9 May, 12 June, 4 November;
- part 2: a holiday that falls on a Saturday or Sunday moves the day off to the next working day
  (not the January ones);
- part 5: the government moves two of the days off of the January holidays that fell on a
  weekend to other working days of the year, and may swap other days off (a Saturday becomes a
  working day, a Monday a day off), by a decree published the year before.

Sources, one per year (check a new decree against this table; `RU_CALENDAR` is the whole of it):
- 2026: Government Decree of 24.09.2025 No. 1466 "О переносе выходных дней в 2026 году": from
  Saturday 3 January to Friday 9 January, from Sunday 4 January to Thursday 31 December; by art.
  112 part 2, 8 March (Sunday) to Monday 9 March and 9 May (Saturday) to Monday 11 May. No working
  Saturday.
- 2027: the Government Decree "О переносе выходных дней в 2027 году" (КонсультантПлюс document
  cons_doc_LAW_544706, archived 19.09.2026, the source the `holidays` package 0.109 cites for its
  2027 transfers, which these match; its text was not read here): from Saturday 2 January to
  Friday 5 November, from Sunday 3 January to Friday 31 December, from Saturday 20 February to
  Monday 22 February (20 February 2027 is a working day); by art. 112 part 2, 1 May (Saturday)
  to Monday 3 May, 9 May (Sunday) to Monday 10 May, 12 June (Saturday) to Monday 14 June. The
  same transfers as 2021's, a year with the same weekdays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class YearCalendar:
    days_off: frozenset[date]  # public holidays and the days off moved by art. 112 or the decree
    working: dict[date, date]  # a working Saturday/Sunday -> the day off it was swapped with (whose weekday it works as)


def _days(year: int, *month_days: tuple[int, int]) -> set[date]:
    return {date(year, m, d) for m, d in month_days}


def _art112_holidays(year: int) -> set[date]:
    return {date(year, 1, d) for d in range(1, 9)} | _days(year, (2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4))


RU_CALENDAR: dict[int, YearCalendar] = {
    2026: YearCalendar(
        days_off=frozenset(_art112_holidays(2026) | _days(2026, (1, 9), (12, 31), (3, 9), (5, 11))),
        working={},
    ),
    2027: YearCalendar(
        days_off=frozenset(_art112_holidays(2027) | _days(2027, (11, 5), (12, 31), (2, 22), (5, 3), (5, 10), (6, 14))),
        working={date(2027, 2, 20): date(2027, 2, 22)},
    ),
}

CALENDARS: dict[str, dict[int, YearCalendar]] = {"RU": RU_CALENDAR}


def official(calendar: str, year: int) -> YearCalendar | None:
    """The production calendar of `calendar` for `year` kept here, None when there is none."""
    return CALENDARS.get(calendar, {}).get(year)


def working_weekend_days(calendar: str, year: int) -> dict[date, date]:
    """The Saturdays and Sundays of `year` that are working days, each with the day off it was
    swapped with (its weekday's window applies); empty where no official calendar is kept."""
    cal = official(calendar, year)
    return dict(cal.working) if cal is not None else {}


def _check() -> None:
    for year, cal in RU_CALENDAR.items():
        for day, swapped in cal.working.items():
            assert day.weekday() >= 5 and day not in cal.days_off and swapped in cal.days_off, (year, day)
            assert swapped.weekday() < 5 and abs(swapped - day) < timedelta(days=366)


_check()

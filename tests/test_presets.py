"""Regulatory presets (autodialer/rules/presets.py): their windows in callee time across both DST
changes of 2027 (US 14 March / 7 November, EU 28 March / 31 October; Russia has none), Russian
public holidays and day-off transfers (the production calendar kept in autodialer/rules/calendars.py
for 2026-2027, the `holidays` package otherwise), and the rule that a campaign may
only tighten its preset."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from autodialer.campaigns.campaign import MIN_RING_SECONDS, Campaign
from autodialer.errors import ConfigError
from autodialer.rules.frequency import ContactLimits

UTC = timezone.utc
BASE = {"name": "p", "kind": "bot", "schedule": {"cron": "0 9 * * *"}, "destination": {"type": "robot"}}


def campaign(preset: str, **extra) -> Campaign:
    return Campaign.model_validate({**BASE, "preset": preset, **extra})


def opens(c: Campaign, day: tuple, zone: str) -> datetime:
    """When the window opens on a local date (searching from that date's local midnight)."""
    return c.windows.next_open(datetime(*day, tzinfo=ZoneInfo(zone)), zone)


@pytest.mark.parametrize("preset, zone, day, open_utc, close_utc", [
    # us-tcpa 08-21 in New York: EST (UTC-5) before 14 March, EDT (UTC-4) after, EST again from 7 November.
    ("us-tcpa", "America/New_York", (2027, 3, 13), (13, 0), (2, 0)),
    ("us-tcpa", "America/New_York", (2027, 3, 14), (12, 0), (1, 0)),
    ("us-tcpa", "America/New_York", (2027, 11, 6), (12, 0), (1, 0)),
    ("us-tcpa", "America/New_York", (2027, 11, 7), (13, 0), (2, 0)),
    ("us-tcpa", "America/Los_Angeles", (2027, 3, 14), (15, 0), (4, 0)),
    # us-florida 08-20: the panhandle is Central time.
    ("us-florida", "America/Chicago", (2027, 3, 13), (14, 0), (2, 0)),
    ("us-florida", "America/Chicago", (2027, 3, 14), (13, 0), (1, 0)),
    ("us-florida", "America/New_York", (2027, 11, 7), (13, 0), (1, 0)),
    # uk-ofcom keeps the campaign's default windows (weekend 10-20): GMT, then BST from 28 March.
    ("uk-ofcom", "Europe/London", (2027, 3, 27), (10, 0), (20, 0)),
    ("uk-ofcom", "Europe/London", (2027, 3, 28), (9, 0), (19, 0)),
    ("uk-ofcom", "Europe/London", (2027, 10, 31), (10, 0), (20, 0)),
    # ru-230fz: Kaliningrad has no summer time (the EU changes do not move it): 08-22 weekdays = 06-20 UTC.
    ("ru-230fz", "Europe/Kaliningrad", (2027, 3, 26), (6, 0), (20, 0)),
    ("ru-230fz", "Europe/Kaliningrad", (2027, 3, 29), (6, 0), (20, 0)),
    ("ru-230fz", "Europe/Kaliningrad", (2027, 11, 1), (6, 0), (20, 0)),
    # ... weekends 09-20 (Sunday 28 March: 07-18 UTC).
    ("ru-230fz", "Europe/Kaliningrad", (2027, 3, 28), (7, 0), (18, 0)),
])
def test_preset_windows_across_dst(preset, zone, day, open_utc, close_utc):
    c = campaign(preset)
    start = opens(c, day, zone)
    assert start.astimezone(ZoneInfo(zone)).date().isoformat() == "%04d-%02d-%02d" % day
    assert (start.hour, start.minute) == open_utc
    end = c.windows.closes_at(start, zone)
    assert (end.hour, end.minute) == close_utc
    # A call may start at the opening, and not in the last MIN_RING_SECONDS before the close.
    assert c.windows.can_start(start, [zone], MIN_RING_SECONDS)
    assert not c.windows.can_start(end - timedelta(seconds=10), [zone], MIN_RING_SECONDS)


@pytest.mark.parametrize("day, hour", [
    ((2027, 1, 7), 9),    # Christmas (Thursday): holiday window 09-20
    ((2027, 2, 22), 9),   # Monday, the day off moved from Saturday 20 February
    ((2027, 2, 23), 9),   # Defender of the Fatherland Day (Tuesday)
    ((2027, 2, 24), 8),   # an ordinary Wednesday: 08-22
    ((2027, 11, 4), 9),   # Unity Day
    ((2027, 12, 31), 9),  # the day off moved from 3 January
    # The production calendar kept as data (autodialer/rules/calendars.py):
    ((2027, 2, 20), 8),   # Saturday 20 February 2027, a working day (for Monday 22): 08-22
    ((2027, 2, 21), 9),   # the Sunday after it: a weekend
    ((2027, 2, 27), 9),   # an ordinary Saturday
    ((2027, 11, 5), 9),   # Friday, the day off moved from Saturday 2 January
    ((2027, 6, 14), 9),   # Monday, Russia Day (Saturday 12 June) moved by art. 112
    ((2027, 5, 3), 9), ((2027, 5, 10), 9), ((2027, 5, 4), 8),
    ((2026, 1, 9), 9),    # Friday, the day off moved from Saturday 3 January 2026 (Decree No. 1466)
    ((2026, 12, 31), 9),  # Thursday, moved from Sunday 4 January
    ((2026, 3, 9), 9), ((2026, 5, 11), 9),  # 8 March (Sunday), 9 May (Saturday) moved to the Monday
    ((2026, 1, 12), 8), ((2026, 11, 5), 8), ((2026, 12, 30), 8),  # working weekdays
])
def test_ru_230fz_holidays_get_the_weekend_window(day, hour):
    c = campaign("ru-230fz")
    start = opens(c, day, "Asia/Vladivostok")  # UTC+10
    local = start.astimezone(ZoneInfo("Asia/Vladivostok"))
    assert (local.date().isoformat(), local.hour) == ("%04d-%02d-%02d" % day, hour)
    close = c.windows.closes_at(start, "Asia/Vladivostok").astimezone(local.tzinfo)
    assert close.hour == (20 if hour == 9 else 22)


def test_presets_set_limits_and_abandonment_together():
    ru = campaign("ru-230fz")
    assert ru.limits == ContactLimits(per_day=1, per_week=2, per_month=8)
    tcpa = campaign("us-tcpa")
    assert (tcpa.pacing.abandon_cap, tcpa.pacing.window, tcpa.pacing.connect_within) == (0.03, 30 * 86400, 2.0)
    ofcom = campaign("uk-ofcom")
    assert (ofcom.pacing.window, ofcom.limits.after_abandoned) == (86400, 72 * 3600)
    fl = campaign("us-florida")
    assert (fl.limits.per_24h, fl.limits.per_day) == (3, 3)
    # The 2 s after AMD run from the end of the called person's greeting (TCPA (a)(7), Ofcom)
    assert [c.pacing.connect_from for c in (tcpa, ofcom, fl)] == ["greeting_end"] * 3
    assert ru.pacing is None or ru.pacing.connect_from == "answer"


def test_the_connect_time_start_reaches_the_dialplan_with_amd():
    """pacing.connect_from is sent to [dialer-amd] as AMD_CONNECT_FROM (an enum of two words);
    a campaign under a greeting_end preset may count from the answer (stricter), never the
    reverse (no preset counts from the answer today: the floor's check, by hand)."""
    amd = {"amd": {"machine": "hangup"}, "destination": {"type": "context", "context": "dialer-predictive", "exten": "s"}}
    sent = campaign("us-tcpa", **amd).call_variables({}, attempt_id="a1")
    assert (sent["AMD_CONNECT_FROM"], sent["AMD_CONNECT_MS"]) == ("greeting_end", "2000")
    stricter = campaign("us-tcpa", pacing={"connect_from": "answer"}, **amd)
    assert stricter.call_variables({}, attempt_id="a1")["AMD_CONNECT_FROM"] == "answer"
    with pytest.raises(ValueError, match="connect_from"):
        campaign("us-tcpa", pacing={"connect_from": "greeting"})


def test_a_campaign_may_tighten_its_preset_but_not_loosen_it():
    c = campaign("ru-230fz", limits={"per_week": 1, "min_gap": "6h"},
                 windows={"windows": [{"days": "mon-fri", "start": "10:00", "end": "19:00"}]})
    assert c.limits == ContactLimits(per_day=1, per_week=1, per_month=8, min_gap=6 * 3600)
    assert c.windows.holidays is not None and c.windows.holidays.calendar == "RU"  # kept from the preset
    assert campaign("uk-ofcom", pacing={"abandon_cap": 0.01}).pacing.abandon_cap == 0.01
    for extra, says in [
        ({"limits": {"per_day": 2}}, "limits.per_day: 2 is looser than 1"),
        ({"windows": {"windows": [{"days": "daily", "start": "08:00", "end": "22:00"}]}}, "sat 08:00-22:00 is outside 09:00-20:00"),
        ({"windows": {"windows": [{"days": "mon-fri", "start": "08:00", "end": "22:00"}],
                      "holidays": {"calendar": "RU", "start": "08:00", "end": "22:00"}}}, "holiday 08:00-22:00 is outside 09:00-20:00"),
    ]:
        with pytest.raises(ValueError, match="preset ru-230fz may only be tightened: .*" + says):
            campaign("ru-230fz", **extra)
    with pytest.raises(ValueError, match="pacing.window: the regulation measures over 30 days, not 24 h"):
        campaign("us-tcpa", pacing={"window": "24h"})
    with pytest.raises(ValueError, match="preset: 'ru-152fz' is not a preset"):
        campaign("ru-152fz")


def test_a_campaign_file_with_a_preset_loads(tmp_path):
    from autodialer.campaigns.campaign import load_campaign

    path = tmp_path / "c.yaml"
    path.write_text("name: debts\nkind: order_confirmation\npreset: ru-230fz\nschedule: {cron: '0 9 * * *'}\n"
                    "destination: {type: robot}\nlimits: {per_day: 3}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"limits.per_day: 3 is looser than 1"):
        load_campaign(path)


def test_the_production_calendar_kept_matches_the_holidays_package_and_adds_the_working_saturdays():
    """The official days off for 2026 and 2027 are the `holidays` package's (a check on our
    data); what the package lacks is the working Saturday, which our data has."""
    import holidays

    from autodialer.rules.calendars import RU_CALENDAR
    from autodialer.rules.windows import holiday_dates, working_weekend_days

    for year in (2026, 2027):
        package = set(holidays.country_holidays("RU", years=year))
        assert set(holiday_dates("RU", year)) == set(RU_CALENDAR[year].days_off) == package, year
        assert not any(d.weekday() >= 5 for d in working_weekend_days("RU", year) if d in package)
    assert working_weekend_days("RU", 2026) == {}
    from datetime import date

    assert working_weekend_days("RU", 2027) == {date(2027, 2, 20): date(2027, 2, 22)}
    assert working_weekend_days("RU", 2025) == {} and working_weekend_days("US", 2027) == {}
    # Another year: the package's days off still apply.
    assert date(2025, 11, 3) in holiday_dates("RU", 2025)


def test_a_campaign_tightening_ru_230fz_follows_the_working_saturday():
    """Its own windows (09-21 weekdays, 10-19 weekends and holidays) inside the preset's; on
    the working Saturday the weekday's 09-21, on the Monday it moved the holiday's 10-19."""
    c = campaign("ru-230fz", windows={"windows": [{"days": "mon-fri", "start": "09:00", "end": "21:00"},
                                                  {"days": "sat-sun", "start": "10:00", "end": "19:00"}],
                                      "holidays": {"calendar": "RU", "start": "10:00", "end": "19:00"}})
    zone = "Europe/Moscow"
    for day, (start, end) in {(2027, 2, 20): (9, 21), (2027, 2, 22): (10, 19), (2027, 2, 27): (10, 19)}.items():
        t = opens(c, day, zone)
        assert (t.astimezone(ZoneInfo(zone)).hour, c.windows.closes_at(t, zone).astimezone(ZoneInfo(zone)).hour) == (start, end)

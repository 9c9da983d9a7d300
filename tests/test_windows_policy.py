"""Calling windows in the callee's local time (across DST and zones) and the retry policy."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from autodialer.rules.durations import parse_duration
from autodialer.telephony.outcomes import CallStatus
from autodialer.rules.policy import RetryPolicy
from autodialer.rules.windows import CallingWindows

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_window_is_local_time_of_the_callee():
    w = CallingWindows()
    # 2026-11-30 is a Monday. 06:30 UTC is 09:30 in Moscow (open) but 01:30 in New York (closed).
    now = utc(2026, 11, 30, 6, 30)
    assert w.is_open(now, "Europe/Moscow")
    assert not w.is_open(now, "America/New_York")
    assert w.next_open(now, "America/New_York") == utc(2026, 11, 30, 14, 0)  # 09:00 EST
    assert w.closes_at(now, "Europe/Moscow") == utc(2026, 11, 30, 18, 0)  # 21:00 MSK


def test_weekend_window_and_blackout():
    w = CallingWindows(
        windows=[{"days": "mon-fri", "start": "09:00", "end": "21:00"}, {"days": "sat", "start": "10:00", "end": "14:00"}],
        blackout_dates=[date(2026, 12, 31)],
    )
    # Friday 2026-12-04 21:30 Moscow: closed; next is Saturday 10:00 local = 07:00 UTC.
    assert w.next_open(utc(2026, 12, 4, 18, 30), "Europe/Moscow") == utc(2026, 12, 5, 7, 0)
    # Saturday 14:00 closes; Sunday has no window; Monday 09:00.
    assert w.next_open(utc(2026, 12, 5, 11, 0), "Europe/Moscow") == utc(2026, 12, 7, 6, 0)
    # Thursday 2026-12-31 is a blackout date: next opening is Friday 2027-01-01 09:00.
    assert w.next_open(utc(2026, 12, 31, 8, 0), "Europe/Moscow") == utc(2027, 1, 1, 6, 0)


def test_windows_across_dst():
    w = CallingWindows(windows=[{"days": "daily", "start": "09:00", "end": "21:00"}])
    # London: 09:00 is 09:00 UTC before 2026-03-29 and 08:00 UTC after (BST).
    assert w.next_open(utc(2026, 3, 28, 0, 0), "Europe/London") == utc(2026, 3, 28, 9, 0)
    assert w.next_open(utc(2026, 3, 29, 0, 0), "Europe/London") == utc(2026, 3, 29, 8, 0)
    # New York falls back on 2026-11-01: 21:00 EDT is 01:00 UTC, 21:00 EST is 02:00 UTC.
    assert w.closes_at(utc(2026, 10, 31, 20, 0), "America/New_York") == utc(2026, 11, 1, 1, 0)
    assert w.closes_at(utc(2026, 11, 1, 20, 0), "America/New_York") == utc(2026, 11, 2, 2, 0)
    # 01:30 UTC on 2026-11-01 is 21:30 EDT on Oct 31: closed, reopens 09:00 EST = 14:00 UTC.
    assert not w.is_open(utc(2026, 11, 1, 1, 30), "America/New_York")
    assert w.next_open(utc(2026, 11, 1, 1, 30), "America/New_York") == utc(2026, 11, 1, 14, 0)


def test_window_that_starts_in_a_dst_gap_opens_at_the_first_valid_instant():
    w = CallingWindows(windows=[{"days": "daily", "start": "02:30", "end": "05:00"}])
    # 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 -> 03:00 EDT = 07:00 UTC).
    opens = w.next_open(utc(2026, 3, 8, 5, 0), "America/New_York")
    assert opens == utc(2026, 3, 8, 7, 30)  # fold=0 reads the gap time with the old offset: 03:30 EDT


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"windows": [{"days": "mon-fri", "start": "21:00", "end": "09:00"}]}, "must be before end"),
        ({"windows": [{"days": "fri-mon", "start": "09:00", "end": "10:00"}]}, "must go forward"),
        ({"windows": [{"days": "funday", "start": "09:00", "end": "10:00"}]}, "is not a weekday"),
        ({"windows": []}, "at least 1"),
    ],
)
def test_bad_windows_name_the_problem(bad, words):
    with pytest.raises(ValidationError, match=words):
        CallingWindows(**bad)


def test_bad_time_zone():
    with pytest.raises(ValueError, match="not an IANA time zone"):
        CallingWindows().next_open(utc(2026, 1, 1), "Mars/Olympus")


def test_durations():
    assert parse_duration("1h30m") == 5400
    assert parse_duration(90) == 90 and parse_duration("90") == 90 and parse_duration("2d") == 172800
    for bad in ("5 minutes", "m", "-5s", "1h30"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_retry_policy_per_outcome_limits_and_total_cap():
    p = RetryPolicy(
        outcomes={"BUSY": {"interval": ["1m", "5m"], "max_attempts": 3}, "NO_ANSWER": {"interval": "1h", "max_attempts": 2}},
        max_attempts=4,
    )
    d = p.decide(CallStatus.BUSY, status_count=1, total_attempts=1)
    assert d.retry and d.delay == 60
    assert p.decide(CallStatus.BUSY, status_count=2, total_attempts=2).delay == 300
    assert p.decide(CallStatus.BUSY, status_count=3, total_attempts=3).retry is False  # per-outcome limit
    assert p.decide(CallStatus.NO_ANSWER, status_count=1, total_attempts=4).retry is False  # total cap
    assert p.decide(CallStatus.ANSWERED, status_count=1, total_attempts=1).retry is False
    assert p.decide(CallStatus.INVALID_NUMBER, status_count=1, total_attempts=1).retry is False
    # Not configured: final, even if retryable by nature.
    assert p.decide(CallStatus.CONGESTION, status_count=1, total_attempts=1).retry is False


def test_retry_policy_rejects_unsafe_settings():
    with pytest.raises(ValidationError, match="never retried"):
        RetryPolicy(outcomes={"ANSWERED": {"interval": "1h", "max_attempts": 2}})
    with pytest.raises(ValidationError, match="at least 72h"):
        RetryPolicy(outcomes={"ABANDONED": {"interval": "24h", "max_attempts": 2}})
    RetryPolicy(outcomes={"ABANDONED": {"interval": "72h", "max_attempts": 2}})


def test_ambiguous_zone_must_be_open_everywhere_even_if_the_campaigns_own_is_one():
    from types import SimpleNamespace

    from autodialer.campaigns.campaign import Campaign

    zones = ["Europe/Kaliningrad", "Europe/Moscow", "Asia/Kamchatka"]  # UTC+2, +3, +12
    contact = SimpleNamespace(timezones=zones)
    base = {"name": "t", "kind": "bot", "destination": {"type": "context", "context": "from-dialer"}}
    moscow = Campaign(**base, schedule={"cron": "0 9 * * *", "timezone": "Europe/Moscow"})
    # A Moscow business's list is not all in Moscow: the callee may be in Kamchatka.
    assert moscow.callee_zones(contact) == zones
    assert moscow.callee_zones(SimpleNamespace(timezones=[])) == ["Europe/Moscow"]
    utc_campaign = Campaign(**base, schedule={"cron": "0 9 * * *", "timezone": "UTC"})
    assert utc_campaign.callee_zones(contact) == zones

    w = CallingWindows(windows=[{"days": "daily", "start": "09:00", "end": "21:00"}])
    # Open in all three only while it is 09-21 in Kaliningrad (07-19 UTC) and in Kamchatka
    # (21:00 UTC the day before - 09:00 UTC): 07:00-09:00 UTC.
    assert w.next_open_all(utc(2026, 12, 1, 12, 0), zones) == utc(2026, 12, 2, 7, 0)
    assert w.is_open_all(utc(2026, 12, 2, 8, 30), zones)
    assert not w.is_open_all(utc(2026, 12, 2, 9, 30), zones)
    assert w.is_open(utc(2026, 12, 2, 9, 30), "Europe/Moscow")


def test_a_call_stopped_while_ringing_does_not_use_up_no_answer_attempts():
    """Predictive pacing ended it after min_ring: NO_ANSWER, retried at NO_ANSWER's interval, but
    not one of the callee's 3 no-answers. The total cap (6) still ends it."""
    from autodialer.rules.policy import RetryPolicy

    policy = RetryPolicy()
    third = policy.decide(CallStatus.NO_ANSWER, status_count=3, total_attempts=3)
    assert not third.retry and "limit reached" in third.reason
    stopped = policy.decide(CallStatus.NO_ANSWER, status_count=2, total_attempts=5, counts=False)
    assert stopped.retry and stopped.delay == 2 * 3600 and "not counted" in stopped.reason
    assert not policy.decide(CallStatus.NO_ANSWER, status_count=2, total_attempts=6, counts=False).retry


def test_a_call_starts_only_if_it_can_ring_min_ring_before_the_window_closes():
    w = CallingWindows(windows=[{"days": "daily", "start": "09:00", "end": "13:00"},
                                {"days": "daily", "start": "13:00", "end": "21:00"}])
    assert w.can_start(utc(2026, 12, 1, 20, 59, 45), ["UTC"], 15)  # rings until 21:00:00 exactly
    assert not w.can_start(utc(2026, 12, 1, 20, 59, 46), ["UTC"], 15)
    assert w.is_open(utc(2026, 12, 1, 20, 59, 46), "UTC")  # open, yet too late to start a call
    assert w.can_start(utc(2026, 12, 1, 12, 59, 50), ["UTC"], 15)  # windows that touch are one span
    # Not startable now: the next instant that is, next morning.
    assert w.next_start_all(utc(2026, 12, 1, 20, 59, 50), ["UTC"], 15) == utc(2026, 12, 2, 9, 0)
    # In every zone a callee may be in: 21:00 Moscow is 18:00 UTC.
    assert not w.can_start(utc(2026, 12, 1, 17, 59, 50), ["UTC", "Europe/Moscow"], 15)


def test_a_contact_with_no_usable_zone_is_called_in_the_campaigns_own_window():
    """phonenumbers gives `Etc/Unknown` for a number it cannot place: not fatal, not UTC, not
    'anywhere': the campaign's own zone."""
    from types import SimpleNamespace

    from autodialer.campaigns.campaign import Campaign

    base = {"name": "t", "kind": "bot", "destination": {"type": "context", "context": "from-dialer"}}
    moscow = Campaign(**base, schedule={"cron": "0 9 * * *", "timezone": "Europe/Moscow"})
    for bad in (["Etc/Unknown"], ["Mars/Olympus_Mons"], ["Etc/Unknown", "Mars/Olympus_Mons"]):
        assert moscow.callee_zones(SimpleNamespace(timezone=bad[0], timezones=bad)) == ["Europe/Moscow"]
    assert moscow.callee_zones(SimpleNamespace(timezone="Etc/Unknown", timezones=[])) == ["Europe/Moscow"]
    # A usable zone next to an unusable one is kept alone.
    assert moscow.callee_zones(SimpleNamespace(timezone=None, timezones=["Etc/Unknown", "Asia/Omsk"])) == ["Asia/Omsk"]


# -- MACHINE: again later the same day, at another hour (issue 17) --------------------------------

MSK = "Europe/Moscow"  # UTC+3 all year


def msk(day, hour, minute=0) -> datetime:
    return utc(2026, 11, day, hour - 3, minute)  # 2026-11-30 is a Monday


def test_machine_default_is_later_the_same_day_at_another_hour_and_a_left_message_is_done():
    from autodialer.rules.policy import retry_at

    p, w = RetryPolicy(), CallingWindows()  # mon-fri 09-21, sat-sun 10-20
    rule = p.outcomes[CallStatus.MACHINE]
    assert rule.other_hour and rule.interval == [7200.0]
    d = p.decide(CallStatus.MACHINE, status_count=1, total_attempts=1)
    assert d.retry and d.delay == 7200
    # A voicemail at 10:05 (ended 10:06): 12:06 the same day.
    assert retry_at(msk(30, 10, 6) + timedelta(seconds=d.delay), w, [MSK], avoid=[msk(30, 10, 5)]) == msk(30, 12, 6)
    # At 19:30: 21:31 is closed; tomorrow's opening, 09:00, is another hour.
    assert retry_at(msk(30, 21, 31), w, [MSK], avoid=[msk(30, 19, 30)]) == utc(2026, 12, 1, 6, 0)
    # Machines at 09:10 and 19:30: tomorrow at 09:00 is an hour already tried, so 10:00.
    assert retry_at(msk(30, 21, 31), w, [MSK], avoid=[msk(30, 9, 10), msk(30, 19, 30)]) == utc(2026, 12, 1, 7, 0)
    # A left message is final by default, also in a policy that names its own outcomes.
    for policy in (p, RetryPolicy(outcomes={"BUSY": {"interval": "5m", "max_attempts": 2}})):
        assert policy.decide(CallStatus.MACHINE_MESSAGE, status_count=1, total_attempts=1).retry is False
        assert policy.outcomes[CallStatus.MACHINE].other_hour


def test_another_hour_is_the_callees_local_hour_and_configurable():
    from autodialer.rules.policy import open_at_other_hour, retry_at

    w = CallingWindows()
    # 10:05 in Vladivostok (UTC+10) is 00:05 UTC: an hour on is 11:05 there, open, another hour.
    vl = utc(2026, 11, 30, 0, 5)
    assert open_at_other_hour(vl + timedelta(minutes=30), w, ["Asia/Vladivostok"], [vl]) == vl + timedelta(hours=1) - timedelta(minutes=5)
    # In the retry section: MACHINE every 30 min, another hour each time; without other_hour the plain window.
    p = RetryPolicy.model_validate({"outcomes": {"MACHINE": {"interval": "30m", "max_attempts": 4, "other_hour": True}}})
    assert p.outcomes[CallStatus.MACHINE].other_hour
    assert retry_at(msk(30, 10, 36), w, [MSK], avoid=[msk(30, 10, 5)]) == msk(30, 11, 0)
    plain = RetryPolicy.model_validate({"outcomes": {"MACHINE": {"interval": "30m", "max_attempts": 4}}})
    assert not plain.outcomes[CallStatus.MACHINE].other_hour
    assert retry_at(msk(30, 10, 36), w, [MSK]) == msk(30, 10, 36)
    with pytest.raises(ValidationError, match="other_hours"):
        RetryPolicy.model_validate({"outcomes": {"MACHINE": {"interval": "1h", "max_attempts": 2, "other_hours": True}}})
    # A window open one hour a day, that hour tried: the plain next opening (no other hour exists).
    one = CallingWindows.model_validate({"windows": [{"days": "daily", "start": "09:00", "end": "10:00"}]})
    assert retry_at(msk(30, 11, 0), one, [MSK], avoid=[msk(30, 9, 20)]) == msk(30, 9, 0) + timedelta(days=1)
    # A window that never opens again: None.
    gone = CallingWindows.model_validate({"windows": [{"days": "mon", "start": "09:00", "end": "10:00"}],
                                          "blackout_dates": [date(2026, 11, 30) + timedelta(days=7 * i) for i in range(1, 60)]})
    assert retry_at(msk(30, 11, 0), gone, [MSK], avoid=[msk(30, 9, 20)]) is None


def test_a_machine_retry_through_the_dialler_avoids_every_hour_a_machine_answered(tmp_path, db_url):
    """The store's attempt times decide the hours (the dialing core's record(), clock injected)."""
    from autodialer.dialer.dialing import ContactDialer
    from autodialer.telephony.outcomes import CallResult
    from tests.faultkit import load_into_store, numbers, write_campaign

    retry = {"max_attempts": 5, "outcomes": {"MACHINE": {"interval": "2h", "max_attempts": 4, "other_hour": True}}}
    windows = {"windows": [{"days": "mon-fri", "start": "09:00", "end": "21:00"}]}
    campaign, store, cid = load_into_store(write_campaign(tmp_path, numbers(1), retry=retry, windows=windows,
                                                          schedule={"cron": "0 9 * * *", "timezone": MSK}), db_url)
    contact = store.due_contacts(cid, now=msk(30, 9, 0))[0]
    assert campaign.callee_zones(contact) == [MSK]
    dialer = ContactDialer(campaign, store, engine=None, limiter=None, campaign_id=cid, run_id="t")

    def machine(n, start, end):
        assert store.claim_attempt(contact.id, attempt_id=f"m{n}", number=contact.phone, now=start, max_attempts=5)
        out = asyncio.run(dialer.record(contact, CallResult(attempt_id=f"m{n}", number=contact.phone,
                                                            status=CallStatus.MACHINE, ended_at=end)))
        assert store.contact(contact.id).next_attempt_at == out.next_attempt_at
        return out.next_attempt_at

    assert machine(1, msk(30, 9, 10), msk(30, 9, 11)) == msk(30, 11, 11)
    assert machine(2, msk(30, 11, 11), msk(30, 11, 12)) == msk(30, 13, 12)
    assert machine(3, msk(30, 19, 30), msk(30, 19, 31)) == msk(30, 10, 0) + timedelta(days=1)  # 09 was tried
    store.close()

"""Contact-frequency limits (autodialer/rules/frequency.py) across campaigns sharing a number, in the
callee's local calendar, checked inside the claim: the rule on its own (injected times), the
claim against real PostgreSQL and SQLite (two campaigns, threads racing for one number), and the
dialing core against the lab PBX (a contact over its limit is not dialed, not counted, and waits
for the next allowed time)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest

from autodialer.rules.frequency import ContactLimits, FrequencyRule, global_limits, next_allowed
from autodialer.errors import ConfigError
from autodialer.lab import running_lab
from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind, reached_callee
from autodialer.rules.windows import CallingWindows
from autodialer.dialer.dialing import ContactDialer, SkipKind
from autodialer.pacing.limits import CallLimiter
from autodialer.telephony.engine import DialEngine
from tests.faultkit import load_into_store, numbers, rows, session_for, write_campaign

UTC = timezone.utc
VLADIVOSTOK, MOSCOW = "Asia/Vladivostok", "Europe/Moscow"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the rule ---------------------------------------------------------------------------------

def test_per_day_is_the_callees_local_day():
    one = ContactLimits(per_day=1)
    called = at(2026, 12, 1, 13, 0)  # 23:00 in Vladivostok, 16:00 in Moscow
    # Vladivostok's next day starts at 14:00 UTC; Moscow's at 21:00 UTC.
    assert next_allowed(one, [called], called + timedelta(minutes=5), [VLADIVOSTOK])[0] == at(2026, 12, 1, 14, 0)
    assert next_allowed(one, [called], called + timedelta(minutes=5), [MOSCOW])[0] == at(2026, 12, 1, 21, 0)
    # A number not narrowed to one zone keeps the limit in every candidate's calendar.
    t, why = next_allowed(one, [called], called + timedelta(minutes=5), [VLADIVOSTOK, MOSCOW])
    assert t == at(2026, 12, 1, 21, 0) and "per_day 1/1" in why and MOSCOW in why
    # Nothing over the limit: now.
    assert next_allowed(one, [], called, [MOSCOW]) == (called, None)


def test_week_month_gap_24h_and_after_abandoned():
    tz = [MOSCOW]
    wed = at(2026, 12, 2, 9, 0)  # Wednesday 12:00 Moscow
    # Two a week: the third waits for Monday 00:00 Moscow (Sunday 21:00 UTC).
    assert next_allowed(ContactLimits(per_week=2), [wed - timedelta(days=1), wed], wed + timedelta(hours=1), tz)[0] == at(2026, 12, 6, 21, 0)
    # Eight a month: the ninth waits for the 1st, 00:00 Moscow.
    month = [at(2026, 12, d, 9, 0) for d in range(1, 9)]
    assert next_allowed(ContactLimits(per_month=8), month, at(2026, 12, 9, 9, 0), tz)[0] == at(2026, 12, 31, 21, 0)
    # min_gap from the last counted call.
    assert next_allowed(ContactLimits(min_gap="4h"), [wed], wed + timedelta(hours=1), tz)[0] == wed + timedelta(hours=4)
    # per_24h is rolling: three in the evening, the fourth waits until the first is 24 h old,
    # even though a new calendar day began.
    evening = [at(2026, 12, 2, 16, 0), at(2026, 12, 2, 16, 30), at(2026, 12, 2, 17, 0)]
    assert next_allowed(ContactLimits(per_24h=3, per_day=3), evening, at(2026, 12, 3, 6, 0), tz)[0] == at(2026, 12, 3, 16, 0)
    # after_abandoned looks only at abandoned calls.
    history = [(wed, True), (wed + timedelta(hours=1), False)]
    assert next_allowed(ContactLimits(after_abandoned="72h"), history, wed + timedelta(hours=2), tz)[0] == wed + timedelta(hours=72)
    assert next_allowed(ContactLimits(after_abandoned="72h"), [(wed, False)], wed + timedelta(hours=2), tz)[1] is None


def test_a_postponed_call_lands_on_the_next_window_opening():
    windows = CallingWindows.model_validate({"windows": [{"days": "mon-fri", "start": "09:00", "end": "21:00"}]})
    rule = FrequencyRule(ContactLimits(per_day=1), (MOSCOW,), windows, 15.0)
    fri = at(2026, 12, 4, 9, 0)  # Friday 12:00 Moscow
    limited = rule.verdict([fri - timedelta(hours=1)], fri)
    assert limited.until == at(2026, 12, 7, 6, 0)  # Monday 09:00 Moscow, not Saturday 00:00
    assert "per_day" in limited.reason
    assert rule.verdict([], fri) is None


def test_tighter_loosened_and_the_global_default():
    mine = ContactLimits(per_day=2, min_gap="1h")
    floor = ContactLimits(per_day=1, per_week=2, min_gap="2h")
    assert mine.tighter(floor) == ContactLimits(per_day=1, per_week=2, min_gap="2h")
    assert mine.loosened(floor) == ["per_day: 2 is looser than 1", "per_week: None is looser than 2",
                                    "min_gap: 3600.0 s is shorter than 7200 s"]
    assert global_limits({}) is None
    assert global_limits({"AUTODIALER_CONTACT_LIMITS": "{per_day: 3, min_gap: 2h}"}) == ContactLimits(per_day=3, min_gap=7200)
    with pytest.raises(ConfigError, match="AUTODIALER_CONTACT_LIMITS: per_day"):
        global_limits({"AUTODIALER_CONTACT_LIMITS": "{per_day: 0}"})
    with pytest.raises(ConfigError, match="AUTODIALER_CONTACT_LIMITS"):
        global_limits({"AUTODIALER_CONTACT_LIMITS": "per_day 3"})


def test_what_counts_is_what_was_sent_to_the_network():
    assert reached_callee("DIALING", None)
    assert reached_callee(CallStatus.BUSY, None) and reached_callee(CallStatus.CONGESTION, None)
    assert reached_callee(CallStatus.NO_ANSWER, FailureKind.STOPPED_RINGING)
    assert not reached_callee(CallStatus.NOT_SENT, FailureKind.NOT_SENT)
    assert not reached_callee(CallStatus.FAILED, FailureKind.REFUSED)
    assert not reached_callee(CallStatus.INVALID_NUMBER, FailureKind.NOT_SENT)  # refused before sending
    assert not reached_callee(CallStatus.BLOCKED, None)


# -- the claim, two campaigns sharing numbers ----------------------------------------------------

def _two_campaigns(tmp_path, db_url, phones, limits):
    a = load_into_store(write_campaign(tmp_path / "a", phones, name="debts_a", limits=limits), db_url)
    b = load_into_store(write_campaign(tmp_path / "b", phones, name="debts_b", limits=limits), db_url)
    return a, b


def _rule(campaign, contact):
    return FrequencyRule(campaign.limits, tuple(campaign.callee_zones(contact)), campaign.windows, 15.0)


def _finish(store, attempt_id, phone, status, failure=None):
    store.finish_attempt(CallResult(attempt_id=attempt_id, number=phone, status=status, failure=failure,
                                    ended_at=datetime.now(UTC)), contact_state="pending", next_attempt_at=None)


def test_a_number_called_by_one_campaign_waits_in_the_other(tmp_path, db_url):
    phone = numbers(1)[0]
    (ca, store, ida), (cb, _, idb) = _two_campaigns(tmp_path, db_url, [phone], {"per_day": 1, "per_week": 2})
    now = at(2026, 12, 2, 9, 0)  # Wednesday
    a = store.due_contacts(ida, now=now)[0]
    b = store.due_contacts(idb, now=now)[0]
    zone = ca.callee_zones(a)[0]
    # Never sent (not_sent) in campaign a: not counted, b may call.
    assert store.claim_attempt(a.id, attempt_id="a0", number=phone, now=now, max_attempts=5, rule=_rule(ca, a))
    _finish(store, "a0", phone, CallStatus.NOT_SENT, FailureKind.NOT_SENT)
    assert store.claim_attempt(a.id, attempt_id="a1", number=phone, now=now, max_attempts=5, rule=_rule(ca, a))
    _finish(store, "a1", phone, CallStatus.BUSY)  # it rang: counted
    claim = store.claim_attempt(b.id, attempt_id="b1", number=phone, now=now + timedelta(minutes=1),
                                max_attempts=5, rule=_rule(cb, b))
    assert not claim and claim.limited_until is not None and "per_day 1/1" in claim.reason
    from zoneinfo import ZoneInfo

    next_local_day = datetime(2026, 12, 3, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    assert claim.limited_until == next_local_day  # all-day window: the callee's next local midnight
    # Not counted: no attempt row, the attempt counter and state untouched; its next due time moved.
    b_after = store.contact(b.id)
    assert (b_after.attempts, b_after.state, b_after.next_attempt_at) == (0, "pending", next_local_day)
    assert rows(db_url, "SELECT count(*) AS n FROM attempts WHERE attempt_id = 'b1'") == [{"n": 0}]
    assert store.due_contacts(idb, now=now + timedelta(minutes=2)) == []
    assert [c.id for c in store.due_contacts(idb, now=next_local_day)] == [b.id]
    # The next day b may; the day after, the week's two are used up (a's and b's).
    assert store.claim_attempt(b.id, attempt_id="b2", number=phone, now=next_local_day, max_attempts=5, rule=_rule(cb, b))
    _finish(store, "b2", phone, CallStatus.NO_ANSWER)
    claim = store.claim_attempt(a.id, attempt_id="a2", number=phone, now=next_local_day + timedelta(days=1),
                                max_attempts=5, rule=_rule(ca, a))
    assert not claim and "per_week 2/2" in claim.reason
    store.close()


def test_two_campaigns_racing_for_one_number_pass_the_check_once(tmp_path, pg_url):
    """Eight rounds: each time two threads claim the same number for two campaigns at the same
    instant (a barrier); the per-number lock lets exactly one of them through."""
    phones = numbers(8)
    (ca, store, ida), (cb, _, idb) = _two_campaigns(tmp_path, pg_url, phones, {"per_day": 1})
    now = at(2026, 12, 2, 9, 0)
    by_phone = {c.phone: c for c in store.due_contacts(ida, now=now)}, {c.phone: c for c in store.due_contacts(idb, now=now)}
    results: dict[str, list[bool]] = {p: [] for p in phones}
    for phone in phones:
        barrier = threading.Barrier(2)

        def claim(which):
            contact, campaign = by_phone[which][phone], (ca, cb)[which]
            barrier.wait()
            results[phone].append(bool(store.claim_attempt(contact.id, attempt_id=f"{which}-{phone}", number=phone,
                                                           now=now, max_attempts=5, rule=_rule(campaign, contact))))

        threads = [threading.Thread(target=claim, args=(i,)) for i in (0, 1)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert {p: sorted(r) for p, r in results.items()} == {p: [False, True] for p in phones}
    per_number = rows(pg_url, "SELECT number, count(*) AS n FROM attempts GROUP BY number")
    assert sorted(r["n"] for r in per_number) == [1] * len(phones)
    store.close()


# -- the dialing core against the lab PBX --------------------------------------------------------

def test_a_contact_over_its_limit_is_not_dialed_nor_counted_and_waits(tmp_path, pg_url):
    """Campaign a calls three numbers (busy at the lab); campaign b shares them, both held to
    ru-230fz (one call a day). b sends no Originate, counts nothing, and each of its contacts is
    due again at the callee's next local day's window opening (09:00 on Saturday)."""
    phones = ["+79060000002", "+74232000002", "+73452000002"]  # Moscow mobile, Vladivostok, Tyumen
    (ca, store, ida), (cb, _, idb) = [
        load_into_store(write_campaign(tmp_path / n, phones, name=n, preset="ru-230fz", windows=None), pg_url)
        for n in ("coll_a", "coll_b")]
    fri = at(2026, 12, 4, 9, 0)  # Friday, 12:00 in Moscow, 14:00 in Tyumen, 19:00 in Vladivostok
    with running_lab(time_scale=0.05) as lab:
        async def dial(campaign, cid, ami):
            engine = DialEngine(ami, outbound_context=campaign.outbound_context, result_grace=1.0)
            dialer = ContactDialer(campaign, store, engine, CallLimiter(10, 50), campaign_id=cid, run_id="t",
                                   clock=lambda: fri)
            contacts = await asyncio.to_thread(store.due_contacts, cid, now=fri)
            return await asyncio.gather(*(dialer.attempt(c) for c in contacts))

        async def both():
            async with session_for(lab.url) as ami:
                first = await dial(ca, ida, ami)
                sent_a = lab.originates
                second = await dial(cb, idb, ami)
                return first, sent_a, second

        first, sent_a, second = asyncio.run(asyncio.wait_for(both(), 60))
        sent = lab.originates
    assert [o.result.status for o in first] == [CallStatus.BUSY] * 3 and sent_a == 3
    assert sent == 3  # b sent nothing
    from zoneinfo import ZoneInfo

    zones = set()
    for o in second:
        assert o.result is None and o.skip is SkipKind.CONTACT_LIMIT and o.skipped.startswith("contact limit per_day 1/1")
        contact = store.contact(o.contact_id)
        zone = cb.callee_zones(contact)[0]
        zones.add(zone)
        saturday_nine = datetime(2026, 12, 5, 9, 0, tzinfo=ZoneInfo(zone)).astimezone(UTC)
        assert o.next_attempt_at == saturday_nine, (zone, o.next_attempt_at)
        assert (contact.attempts, contact.state, contact.next_attempt_at) == (0, "pending", saturday_nine)
    assert zones == {"Europe/Moscow", "Asia/Vladivostok", "Asia/Yekaterinburg"}
    assert rows(pg_url, f"SELECT count(*) AS n FROM attempts WHERE campaign_id = {idb}") == [{"n": 0}]
    store.close()


def test_the_attempt_row_keeps_the_callee_as_the_claim_saw_it(tmp_path, db_url):
    phone = "+74232000001"  # a Vladivostok landline
    campaign, store, cid = load_into_store(write_campaign(tmp_path, [phone], name="facts"), db_url)
    contact = store.due_contacts(cid, now=at(2026, 12, 2, 9, 0))[0]
    assert store.claim_attempt(contact.id, attempt_id="f1", number=phone, now=at(2026, 12, 2, 9, 0), max_attempts=3,
                               rule=_rule(campaign, contact))
    (row,) = rows(db_url, "SELECT callee_zones, local_start, outside_window FROM attempts")
    assert row == {"callee_zones": VLADIVOSTOK, "local_start": "2026-12-02 19:00:00", "outside_window": 0}
    store.close()


# -- a retry is scheduled past the limits (issue 14: no claim wasted on a contact the limits hold) --

def test_a_retry_is_due_when_the_limits_allow_it_not_claimed_once_for_nothing(tmp_path, db_url):
    """ru-230fz (weekdays 08-22, one call a day, two a week): a BUSY at 12:00 on Wednesday is due
    at Thursday's 08:00 opening, not 10 min later (where the claim would only be put off); that
    claim passes. After Thursday's the week's two are used: due on Monday at 08:00. A MACHINE
    (another hour) lands on the first hour both allow. Times injected, the store real."""
    from zoneinfo import ZoneInfo

    msk = ZoneInfo(MOSCOW)

    def local(day, hour, minute=0):
        return datetime(2026, 12, day, hour, minute, tzinfo=msk).astimezone(UTC)

    retry = {"max_attempts": 6, "outcomes": {"BUSY": {"interval": "10m", "max_attempts": 5},
                                             "MACHINE": {"interval": "2h", "max_attempts": 3, "other_hour": True}}}
    phone = "+79060000002"
    campaign, store, cid = load_into_store(write_campaign(tmp_path, [phone], name="coll", preset="ru-230fz",
                                                          windows=None, retry=retry), db_url)
    contact = store.due_contacts(cid, now=local(2, 12))[0]
    assert campaign.callee_zones(contact) == [MOSCOW]
    dialer = ContactDialer(campaign, store, engine=None, limiter=None, campaign_id=cid, run_id="t")

    def call(n, start, status):
        claim = store.claim_attempt(contact.id, attempt_id=f"c{n}", number=phone, now=start, max_attempts=6,
                                    rule=_rule(campaign, contact))
        assert claim, claim.reason  # never claimed for nothing
        out = asyncio.run(dialer.record(contact, CallResult(attempt_id=f"c{n}", number=phone, status=status,
                                                            ended_at=start + timedelta(minutes=1))))
        assert store.contact(contact.id).next_attempt_at == out.next_attempt_at
        return out.next_attempt_at

    assert call(1, local(2, 12), CallStatus.BUSY) == local(3, 8)  # Thursday 08:00, not Wednesday 12:11
    assert call(2, local(3, 8), CallStatus.BUSY) == local(7, 8)  # per_week 2/2: Monday 08:00
    # Monday 08:05 a machine: Tuesday (per_day) at 09:00 (08:xx was the machine's hour).
    assert call(3, local(7, 8, 5), CallStatus.MACHINE) == local(8, 9)
    store.close()

"""Pacing: settings, the predictive controller's rules (a fake clock, no waiting), the fixed pacer."""

from __future__ import annotations

import asyncio

import pytest

from autodialer.errors import ConfigError
from autodialer.telephony.outcomes import CallResult, CallStatus
from autodialer.pacing.gate import dialing_allowed
from autodialer.pacing.pacers import FixedPacer, make_pacer
from autodialer.pacing.predictive import AbandonWindow, PredictiveController
from autodialer.pacing.settings import PacingSettings
from autodialer.telephony.classify import classify


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


# -- settings ---------------------------------------------------------------------------------------
def test_settings_defaults_and_durations():
    s = PacingSettings.parse({"mode": "predictive", "queue": "support", "window": "30d", "adjust_every": "15s"})
    assert s.abandon_cap == 0.03
    assert s.window == 30 * 86400
    assert s.adjust_every == 15
    assert PacingSettings.parse(None).mode == "fixed"


@pytest.mark.parametrize("data, field", [
    ({"mode": "progressive"}, "queue"),
    ({"mode": "predictive", "queue": "sup\r\nAction: Originate"}, "pacing.queue"),
    ({"mode": "turbo"}, "pacing.mode"),
    ({"abandon_cap": 0.9}, "pacing.abandon_cap"),
    ({"window": "soon"}, "pacing.window"),
    ({"mode": "predictive", "queue": "q", "min_ratio": 4, "max_ratio": 2}, "min_ratio"),
    ({"max_chanels": 5}, "pacing.max_chanels"),
    ({"mode": "predictive", "queue": "q", "min_ring": "-3s"}, "pacing.min_ring"),
    ({"mode": "predictive", "queue": "q", "min_ring": "a while"}, "pacing.min_ring"),
])
def test_settings_errors_name_the_field(data, field):
    with pytest.raises(ConfigError) as exc:
        PacingSettings.parse(data)
    assert field in str(exc.value)


def test_make_pacer_builds_the_mode():
    assert isinstance(make_pacer(PacingSettings()), FixedPacer)
    with pytest.raises(ValueError, match="AMI session"):
        make_pacer(PacingSettings(mode="progressive", queue="support"))


def test_classify_reports_abandoned_when_the_dialplan_says_so():
    assert classify(4, (16, 16), "ANSWER", answered=True, abandoned=True) is CallStatus.ABANDONED
    assert classify(4, (16, 16), "ANSWER", answered=True) is CallStatus.ANSWERED


# -- the rolling window ----------------------------------------------------------------------------
def test_abandon_window_forgets_what_is_older_than_the_window():
    clock = Clock()
    w = AbandonWindow(3600, clock)
    for i in range(10):
        w.add(abandoned=i < 2)
    assert w.counts() == (10, 2)
    assert w.rate() == pytest.approx(0.2)
    clock.t += 1800
    w.add(False)
    clock.t += 1801  # the first ten are now older than an hour
    assert w.counts() == (1, 0)
    assert w.room(0.03) == pytest.approx(0.03)


def test_a_call_counted_connected_that_ended_abandoned_counts_abandoned_once():
    clock = Clock()
    w = AbandonWindow(3600, clock)
    w.add(False)
    w.now_abandoned()  # hung up on after it was answered: abandoned, still one answered call
    assert w.counts() == (1, 1)
    clock.t += 3601
    assert w.counts() == (0, 0)


# -- the predictive controller ---------------------------------------------------------------------
def controller(**kw) -> tuple[PredictiveController, Clock]:
    clock = Clock()
    settings = PacingSettings(mode="predictive", queue="support", adjust_every=15, window=3600, **kw)
    return PredictiveController(settings, clock), clock


def answer(ctl, n, abandoned=0):
    """n live-answered calls (the first `abandoned` of them abandoned) among 4n attempts."""
    for i in range(n):
        ctl.on_attempt(True, 20.0)
        for _ in range(3):
            ctl.on_attempt(False, 40.0)
        ctl.on_answered(i < abandoned)


def test_no_over_dialing_until_the_window_has_room_for_one_abandoned_call():
    ctl, clock = controller()
    # Nothing answered yet: 3% of 0 leaves no room, so it dials like progressive mode.
    assert ctl.dialing_allowed(free=4, busy=6, waiting=0) == 4
    answer(ctl, 40)  # 3% of 40 = 1.2: room for one
    assert ctl.overdial_allowed()
    assert ctl.dialing_allowed(free=4, busy=6, waiting=0) > 4


def test_ratio_rises_while_operators_idle():
    ctl, clock = controller()
    answer(ctl, 100)
    before = ctl.ratio
    for _ in range(20):  # twenty intervals with half the operators idle, nobody abandoned
        ctl.on_operators(free=5, logged_in=10, waiting=0)
        clock.t += 15
        ctl.dialing_allowed(free=5, busy=5, waiting=0)
    assert ctl.ratio > before * 1.05
    assert all(why == "operators idle" for _, why, _ in ctl.adjustments)


def test_ratio_does_not_rise_when_nobody_idles():
    ctl, clock = controller()
    answer(ctl, 100)
    before = ctl.ratio
    for _ in range(10):
        ctl.on_operators(free=0, logged_in=10, waiting=0)
        clock.t += 15
        ctl.dialing_allowed(free=0, busy=10, waiting=0)
    assert ctl.ratio == pytest.approx(before)


def test_an_abandonment_spike_halves_the_ratio():
    ctl, clock = controller(max_ratio=20)
    answer(ctl, 400)
    clock.t += 15
    ctl.adjust()  # a quiet interval ends
    ctl.gain = 2.0
    before = ctl.ratio
    clock.t += 15
    answer(ctl, 12, abandoned=10)  # most of this interval's answered calls abandoned
    ctl.dialing_allowed(free=0, busy=10, waiting=0)
    assert ctl.adjustments[-1][1] == "abandonment spike"
    assert ctl.ratio == pytest.approx(before / 2)


def test_abandonment_above_the_aim_lowers_the_ratio():
    ctl, clock = controller()
    answer(ctl, 100, abandoned=3)  # 3% over the window: above the aim (80% of the cap)
    ctl.abandon_trend = 0.03
    ctl.gain = 2.0
    before = ctl.ratio
    ctl.on_operators(free=5, logged_in=10, waiting=0)  # idle operators do not matter now
    clock.t += 15
    ctl.dialing_allowed(free=5, busy=5, waiting=0)
    assert ctl.ratio < before
    assert ctl.adjustments[-1][1] == "abandonment above the aim"


def test_the_cap_holds_over_the_window_then_the_window_forgets():
    ctl, clock = controller(max_ratio=20)
    answer(ctl, 100, abandoned=3)  # exactly at the cap: no room for another abandoned call
    ctl.gain = 3.0
    for free, busy in ((0, 10), (3, 7), (10, 0)):
        assert ctl.dialing_allowed(free=free, busy=busy, waiting=1) == max(0, free - 1)
    clock.t += 3601  # the abandoned calls leave the window
    answer(ctl, 40)
    assert ctl.dialing_allowed(free=3, busy=7, waiting=0) > 3


def test_forecast_counts_operators_about_to_free_up():
    ctl, clock = controller()
    answer(ctl, 100)
    for _ in range(50):
        ctl.on_handle_time(90.0)
    # Nobody free, but busy operators free up while the calls ring: dial some.
    assert ctl.dialing_allowed(free=0, busy=20, waiting=0) > 0
    # Callers already waiting for more than the operators expected free: dial nothing.
    assert ctl.dialing_allowed(free=0, busy=20, waiting=20) == 0


def test_old_calls_that_did_not_answer_yet_bring_fewer_answers():
    ctl, clock = controller(stop_ringing=False)
    measured(ctl)
    answer(ctl, 50)
    young = ctl.expected_answers([1.0] * 10)
    old = ctl.expected_answers([36.0] * 10)
    assert young > 1.0 and old == 0.0
    # So with the same number dialing, old calls leave room for more.
    assert ctl.dialing_allowed(free=2, busy=8, waiting=0, ages=[36.0] * 10) > \
        ctl.dialing_allowed(free=2, busy=8, waiting=0, ages=[1.0] * 10)


def test_with_stopping_only_answers_before_min_ring_hold_dialing_back():
    """Calls that rang min_ring can still be stopped if nobody is free, so the dial rule counts
    only the answers that come before: an old call holds back no new call, a young one does."""
    ctl, clock = controller(min_ring="15s")
    measured(ctl)
    answer(ctl, 50)
    assert ctl.expected_answers([20.0] * 10) == 0.0
    early = sum(1 for i in range(0, 200, 4) if 6 + (i % 29) <= 15)  # answered before 15 s, of 400 attempts
    assert ctl.expected_answers([1.0] * 10) == pytest.approx(10 * early / 400)
    assert ctl.dialing_allowed(free=2, busy=8, waiting=0, ages=[20.0] * 10) > \
        ctl.dialing_allowed(free=2, busy=8, waiting=0, ages=[1.0] * 10)


def test_forecast_counts_operators_deep_into_their_calls_more():
    ctl, clock = controller()
    for i in range(100):  # handle times 60..120 s
        ctl.on_handle_time(60.0 + (i % 61))
    just_started = ctl.forecast_free(5, busy_for=[1.0] * 5)
    nearly_done = ctl.forecast_free(5, busy_for=[110.0] * 5)
    assert just_started == 0.0  # nobody ends a call in under 60 s
    assert nearly_done == pytest.approx(5.0)
    assert ctl.forecast_free(5, busy_for=[500.0] * 5) == 5.0  # longer than ever seen: about to end


def measured(ctl):
    """200 attempts: one in four answered 6-34 s after the dial, the others ring out at 40 s."""
    for i in range(200):
        if i % 4 == 0:
            ctl.on_attempt(True, 6 + (i % 29))
        else:
            ctl.on_attempt(False, 40.0)


def test_calls_ringing_past_min_ring_are_stopped_when_nobody_could_take_their_answer():
    ctl, clock = controller(min_ring="15s")
    assert ctl.settings.min_ring == 15
    ages = [30.0, 25.0, 20.0, 12.0, 3.0]
    rung = [28.0, 23.0, None, 10.0, 1.0]  # the third never reported Ringing
    assert ctl.calls_to_stop(free=0, waiting=0, ages=ages, rung=rung) == []  # nothing measured yet
    measured(ctl)
    # Nobody free: every call that rang 15 s goes, oldest first; younger ones ring on (the
    # rule's minimum), and so does one we do not know to be ringing.
    assert ctl.calls_to_stop(free=0, waiting=0, ages=ages, rung=rung) == [0, 1]
    # Callers already waiting use up the free operators.
    assert ctl.calls_to_stop(free=2, waiting=2, ages=ages, rung=rung) == [0, 1]
    # One free operator is kept for the answers of calls too young to stop: still stopping.
    assert ctl.calls_to_stop(free=1, waiting=0, ages=ages, rung=rung) == [0, 1]
    # Operators free for every answer expected within 2 s, and one more: nothing stops.
    assert ctl.calls_to_stop(free=3, waiting=0, ages=ages, rung=rung) == []
    # Calls too old to be answered any more bring no answer: nothing to gain from ending them.
    assert ctl.calls_to_stop(free=0, waiting=0, ages=[39.0], rung=[38.0]) == []


def test_stopping_can_be_turned_off_and_follows_min_ring():
    off, _ = controller(stop_ringing=False)
    measured(off)
    assert off.calls_to_stop(free=0, waiting=0, ages=[30.0], rung=[28.0]) == []
    patient, _ = controller(min_ring="30s")
    measured(patient)
    assert patient.calls_to_stop(free=0, waiting=0, ages=[30.0, 33.0], rung=[28.0, 31.0]) == [1]


def test_stopped_calls_do_not_lower_the_answer_rate_or_the_forecast():
    """A call stopped at 16 s says nothing about whether it would have been answered at 16-18 s
    (it is left out there), but it was not answered before 15 s (it counts there)."""
    ctl, _ = controller(min_ring="15s")
    measured(ctl)
    ctl.answer_table()
    rate, before_min_ring = ctl.answer_rate, ctl.expected_answers([10.0])
    soon_at_15 = ctl._soon[int(15.0 / ctl._bin_width)]
    for _ in range(100):
        ctl.on_attempt(False, 16.0, stopped=True)
    ctl._table = None  # rebuild the forecast now
    ctl.answer_table()
    assert ctl.answer_rate == pytest.approx(rate)
    assert ctl._soon[int(15.0 / ctl._bin_width)] == pytest.approx(soon_at_15)
    assert ctl.expected_answers([10.0]) < before_min_ring


def test_the_gain_settles_on_the_aim_not_below_it():
    """Equal steps: a trend just under the aim raises the gain, just over lowers it by as much."""
    ctl, clock = controller()
    answer(ctl, 400)
    ups = []
    for trend in (0.0291 - 0.003, 0.0291 + 0.003):  # the aim is 97% of the 3% cap
        ctl.abandon_trend = trend
        before = ctl.gain
        ctl.on_operators(free=5, logged_in=10, waiting=0)
        clock.t += 15
        ctl.adjust()
        ups.append(ctl.gain / before)
    assert ups[0] > 1 > ups[1]
    assert ups[0] - 1 == pytest.approx(1 - ups[1], rel=0.01)


def test_gate_modes():
    assert dialing_allowed("fixed", free=0, busy=0, waiting=0) is None
    assert dialing_allowed("progressive", free=5, busy=3, waiting=2) == 3
    assert dialing_allowed("progressive", free=1, busy=3, waiting=2) == 0
    with pytest.raises(ValueError):
        dialing_allowed("predictive", free=1, busy=1, waiting=0)


# -- the fixed pacer ----------------------------------------------------------------------------------
def test_fixed_pacer_caps_calls_in_flight_and_counts_abandoned():
    pacer = FixedPacer(PacingSettings(max_channels=3, max_originates_per_second=1000))
    peak = 0

    async def call(i):
        nonlocal peak
        async with pacer.call_slot():
            peak = max(peak, pacer.in_flight)
            await asyncio.sleep(0.01)
        status = CallStatus.ABANDONED if i % 5 == 0 else CallStatus.ANSWERED
        pacer.observe(CallResult(attempt_id=f"a{i}", number="79061234561", status=status))

    async def main():
        await asyncio.gather(*(call(i) for i in range(20)))

    asyncio.run(main())
    assert peak == 3
    assert pacer.stats.as_dict()["abandoned"] == 4
    assert pacer.stats.abandon_rate == pytest.approx(0.2)


def test_the_window_starts_from_the_campaigns_earlier_runs():
    """A campaign that runs every hour keeps its 24 h cap: a run's window starts from the calls
    of the runs before it (seconds ago, abandoned), not empty."""
    ctl, clock = controller(max_ratio=20)  # window 3600 s
    measured(ctl)
    ctl.gain = 3.0
    # 100 answered in the last hour, 3 abandoned: at the cap, no room. And older ones, ignored.
    ctl.seed([(7200.0, True)] * 50 + [(3500.0, True)] * 3 + [(1000.0, False)] * 97)
    assert ctl.window.counts() == (100, 3)
    assert not ctl.overdial_allowed()
    assert ctl.dialing_allowed(free=3, busy=7, waiting=0) == 3  # progressive until there is room
    clock.t += 200  # the seeded abandoned calls leave the window
    assert ctl.window.counts() == (97, 0)
    assert ctl.overdial_allowed()


def test_the_earlier_runs_amd_hangups_weigh_as_in_the_run():
    """A MACHINE hang-up of an earlier run (Store.live_answers' third field) weighs on the window
    as it did in its run: the campaign's false_machine_rate of an abandoned live call."""
    ctl, clock = controller(max_ratio=20)
    ctl.seed([(1000.0, False, False)] * 8 + [(900.0, False, True)] * 4, false_machine_rate=0.5)
    assert ctl.window.counts() == (pytest.approx(10.0), pytest.approx(2.0))
    ctl2, _ = controller(max_ratio=20)
    ctl2.seed([(900.0, False, True)] * 4)  # no AMD estimate: hang-ups are not counted
    assert ctl2.window.counts() == (0, 0)


def test_what_a_run_learned_is_where_the_next_run_starts():
    ctl, clock = controller()
    measured(ctl)
    for _ in range(40):
        ctl.on_handle_time(90.0)
    ctl.answer_table()
    ctl.gain = 0.21
    state = ctl.snapshot()
    nxt, _ = controller()
    assert nxt.restore(state)
    assert nxt.gain == 0.21 and nxt.handle_time == pytest.approx(ctl.handle_time)
    assert nxt.answer_rate == pytest.approx(ctl.answer_rate)
    assert nxt.expected_answers([1.0, 10.0]) == pytest.approx(ctl.expected_answers([1.0, 10.0]))
    # A state that is not what snapshot() makes changes nothing.
    for bad in (None, {}, {"gain": "x", "ends": [], "handles": []}, {"gain": -1, "ends": [], "handles": []},
                {"gain": 0.2, "ends": [[5, "maybe"]], "handles": []}, {"gain": 0.2, "ends": [[1e9, "ended"]], "handles": []}):
        fresh, _ = controller()
        assert not fresh.restore(bad)
        assert fresh.gain == 0.3 and fresh.answer_table() is None

"""The predictive controller: how many calls may be dialing now, and which ringing calls to end.

Pure logic with an injectable clock: the live pacer (`pacers.py`) feeds it AMI facts, the
benchmark feeds it a simulation; both ask `dialing_allowed(...)` and `calls_to_stop(...)`.

Dialing. Over a horizon H (the mean time from dial to answer), the operators expected to be
available are `free + forecast - waiting`: ready now, plus busy ones expected to free up within
H, minus answered callers already queued. The forecast sums, over the busy operators,
P(handle <= e + H | handle > e) for one busy e seconds so far, from the measured handle times
(memoryless, busy x (1 - exp(-H / h)), until 30 are measured). Calls may be dialed while

    answers expected from the calls dialing  <=  gain x operators expected available

where a call's chance of an answer depends on its age, from the measured ends of the last 1,000
attempts (one that has rung 35 s will not be answered any more). Which answers count: those
within H; with `stop_ringing`, only those before `min_ring`, since a later one can still be
prevented by ending the call. Until 50 attempts are measured, `ratio x operators expected
available` calls may be dialing. The dial ratio (calls per operator expected available) is gain
/ what one new call adds, within [min_ratio, max_ratio].

Stopping (`stop_ringing`). A call that has rung `min_ring` (15 s: the FCC's minimum) is ended,
oldest first, while the answers expected within `connect_within` (2 s) from the calls dialing
exceed the free operators minus one (STOP_RESERVE): an answer nobody takes within 2 s is an
abandoned call, and the answers of calls too young to stop need that one operator. The ended
call is a NO_ANSWER its retry policy calls again. Abandonment then comes almost only from the
young calls, which the dial rule above holds back.

Adapting. Every `adjust_every` seconds the gain moves, as VICIdial's adaptive mode does:

- an abandonment spike (at least 8 abandoned in the interval, over 3 x cap of its answered): halve;
- the rolling window over the cap: lower by 3%;
- else by exp(0.005 x (aim - trend) / aim), at most 1% either way, where the aim is 97% of the cap
  and the trend an average over the last ~300 answered calls: lower while above the aim, raise
  while below it and operators idle (more than 5% of logged-in time in the interval). Equal
  steps up and down settle on the aim; unequal ones on a noisy trend settle below it.

It starts cautious (gain 0.3: a dial ratio of 1 at the prior answer rate): abandoned calls early
in a run weigh on the window for long.

The cap holds over the rolling window: while the window has no room for one more abandoned call
under the cap, the controller does not over-dial at all: it dials progressively, which cannot
abandon anyone. Dialing never falls below progressive (free - waiting).
"""


from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable

from autodialer.pacing.settings import PacingSettings

SPIKE_FACTOR = 0.5
SPIKE_MIN = 8  # abandoned calls in one interval before it can count as a spike
SPIKE_TIMES_CAP = 3.0  # ... and more than this many times the cap of the interval's answered calls
LOWER_FACTOR = 0.97  # the window's abandonment over the cap
AIM = 0.97  # the abandonment aimed at, as a share of the cap
# Stopping keeps one operator's worth of room for the answers nobody can stop any more (calls
# that rang less than min_ring): ringing calls go while the answers expected within
# connect_within exceed the free operators minus this. 0 lets the ringing calls take the last
# free operator, and the young calls' answers then find nobody: in bench/pacing.py (20
# operators) 1 gave 86.6% occupancy at the same abandonment as 84-85% with 0.
STOP_RESERVE = 1
STEP_GAIN = 0.005  # the gain moves by exp(STEP_GAIN x (aim - trend) / aim) an interval ...
MAX_STEP = 0.01  # ... at most 1% either way
TREND_CALLS = 300  # the abandonment trend: an exponential average over about this many answered calls
IDLE_THRESHOLD = 0.05  # share of logged-in operator time spent idle that counts as "operators idle"
ANSWER_SAMPLE = 1000  # attempts the answer rate and the answer-age forecast are measured over (300 was noisy)
HANDLE_SAMPLE = 200  # handle times the mean is measured over
PRIOR_WEIGHT = 20  # the prior counts as this many observations
START_GAIN = 0.3  # start cautious (the ratio climbs while operators idle): early abandons weigh long in the window
HANDLE_MIN = 30  # handle times measured before the forecast uses how long each operator has been busy
TABLE_MIN = 50  # attempts measured before answers are forecast from the calls' ages
TABLE_EVERY = 25  # attempts between rebuilds of that forecast
TABLE_BINS = 40  # age bins of that forecast, up to the longest attempt measured
ANSWERED, ENDED, STOPPED = "answered", "ended", "stopped"  # how a measured attempt ended


class AbandonWindow:
    """Live-answered calls and the abandoned among them, over a rolling window of `seconds`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._events: deque[tuple[float, float, float]] = deque()  # (when, answered +, abandoned +)
        self.answered = 0
        self.abandoned = 0

    def add(self, abandoned: bool, ago: float = 0.0, weight: float = 1.0) -> None:
        """One live-answered call, `ago` seconds ago (add older ones first). `weight` < 1: a call
        that was a live one only with that probability (a MACHINE hang-up: a person AMD took for
        a machine, by the campaign's estimate), counted as that share of a call."""
        self._prune()
        self._events.append((self._clock() - max(0.0, ago), weight, weight * bool(abandoned)))
        self.answered += weight
        self.abandoned += weight * bool(abandoned)

    def now_abandoned(self) -> None:
        """A call counted connected turned out abandoned (hung up on after it was answered)."""
        self._prune()
        self._events.append((self._clock(), 0, 1))
        self.abandoned += 1

    def _prune(self) -> None:
        horizon = self._clock() - self.seconds
        events = self._events
        while events and events[0][0] < horizon:
            _, answered, abandoned = events.popleft()
            self.answered -= answered
            self.abandoned -= abandoned

    def counts(self) -> tuple[int, int]:
        """(answered, abandoned) within the window; answered includes the abandoned."""
        self._prune()
        return self.answered, self.abandoned

    def rate(self) -> float:
        answered, abandoned = self.counts()
        return abandoned / answered if answered else 0.0

    def room(self, cap: float) -> float:
        """How many more calls could be abandoned now with the window still within `cap`."""
        answered, abandoned = self.counts()
        return cap * answered - abandoned


class PredictiveController:
    def __init__(self, settings: PacingSettings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._clock = clock
        self.window = AbandonWindow(settings.window, clock)
        self.abandon_trend = AIM * settings.abandon_cap / 2  # exponential average of abandoned (0/1) per answered call
        self._answers: deque[bool] = deque(maxlen=ANSWER_SAMPLE)
        self._answered_in_sample = 0  # sum(self._answers), kept as they come and go
        self._rings: deque[float] = deque(maxlen=ANSWER_SAMPLE)
        self._ends: deque[tuple[float, str]] = deque(maxlen=ANSWER_SAMPLE)  # (seconds from dial to answer or end, ANSWERED/ENDED/STOPPED)
        self._table: list[float] | None = None  # P(answer within the horizon | still dialing at an age in bin b)
        self._soon: list[float] | None = None  # the same within connect_within (for stopping calls)
        self._unstoppable: list[float] | None = None  # the same before min_ring (answers stopping cannot prevent)
        self._bin_width = 1.0
        self._table_at = 0  # attempts seen when the table was built
        self._attempts = 0
        self._handles: deque[float] = deque(maxlen=HANDLE_SAMPLE)
        self._handles_seen = 0
        self._handles_version = -1
        self._handles_sorted: list[float] | None = None
        self.ring_prior = settings.ring_time_prior  # seconds from dial to answer, until measured
        # The dial ratio is gain / answer rate: it follows the measured answer rate at once, and
        # the adaptation moves the gain (1.0 = expected answers match operators expected free).
        self.gain = START_GAIN
        self._last_adjust = clock()
        # per-interval accounting, reset by adjust()
        self._interval_answered = 0
        self._interval_abandoned = 0
        self._idle_area = 0.0  # integral of free operators over time
        self._logged_area = 0.0  # integral of logged-in operators over time
        self._last_state: tuple[float, int, int, int] | None = None  # (t, free, logged_in, waiting)
        self.adjustments: list[tuple[float, str, float]] = []  # (time, why, new ratio): for tests and logs

    # -- measurements -------------------------------------------------------------------------
    def on_attempt(self, answered: bool, seconds: float | None = None, *, stopped: bool = False) -> None:
        """One attempt ended: live-answered (abandoned included) or not. `seconds`: from the dial
        to the answer (answered) or to the end of the attempt (not answered); `stopped`: the
        pacer ended it while it was ringing (it says nothing about the answer rate)."""
        self._attempts += 1
        if not stopped:
            if len(self._answers) == ANSWER_SAMPLE:
                self._answered_in_sample -= self._answers[0]
            self._answers.append(bool(answered))
            self._answered_in_sample += bool(answered)
        if seconds is not None and seconds >= 0:
            self._ends.append((seconds, ANSWERED if answered else STOPPED if stopped else ENDED))
            if answered:
                self._rings.append(seconds)

    def on_answered(self, abandoned: bool) -> None:
        """A live-answered call was connected to an operator in time, or abandoned."""
        self.window.add(abandoned)
        self.abandon_trend += (float(abandoned) - self.abandon_trend) / TREND_CALLS
        self._interval_answered += 1
        self._interval_abandoned += abandoned

    def on_machine_hangup(self, false_machine_rate: float) -> None:
        """AMD said MACHINE and the dialplan hung up: with probability `false_machine_rate` it was
        a person, who heard a hang-up: an abandoned live call, as the regulators count it (Ofcom:
        AMD false positives count, by a reasoned estimate). Counted as that share of one."""
        if false_machine_rate <= 0:
            return
        self.window.add(True, weight=false_machine_rate)
        self.abandon_trend += false_machine_rate * (1.0 - self.abandon_trend) / TREND_CALLS
        self._interval_answered += false_machine_rate
        self._interval_abandoned += false_machine_rate

    def on_abandoned_after_all(self) -> None:
        """A call already counted as connected ended ABANDONED after all (see pacers.py)."""
        self.window.now_abandoned()
        self.abandon_trend += 1.0 / TREND_CALLS
        self._interval_abandoned += 1

    def seed(self, history, false_machine_rate: float = 0.0) -> None:
        """Live-answered calls from before this run: (seconds ago, abandoned[, machine hang-up]),
        oldest first (Store.live_answers). The cap holds over the window whatever the runs (a
        campaign runs every hour, the window is 24 h), and a run starts where the window stands,
        not from nothing. A MACHINE hang-up counts as in the run (on_machine_hangup): as
        `false_machine_rate` of an abandoned live call."""
        for ago, abandoned, *machine in history:
            if ago > self.settings.window:
                continue
            if machine and machine[0]:
                if false_machine_rate > 0:
                    self.window.add(True, ago, weight=false_machine_rate)
            else:
                self.window.add(bool(abandoned), ago)

    def snapshot(self) -> dict:
        """What this run learned, JSON-ready, for the campaign's next run (`restore`)."""
        return {"gain": self.gain, "ends": [[round(t, 3), how] for t, how in self._ends],
                "handles": [round(h, 3) for h in self._handles]}

    def restore(self, state) -> bool:
        """Start from what an earlier run learned. A state that does not look like `snapshot()`
        made it (another version, a hand edit) is ignored whole: False."""
        try:
            gain = float(state["gain"])
            ends = [(float(t), str(how)) for t, how in state["ends"]]
            handles = [float(h) for h in state["handles"]]
        except (TypeError, KeyError, ValueError):
            return False
        if not (0 < gain < 1000) or any(not (0 <= t < 86400) or how not in (ANSWERED, ENDED, STOPPED) for t, how in ends) \
                or any(not (0 < h < 86400) for h in handles):
            return False
        for t, how in ends[-ANSWER_SAMPLE:]:
            self.on_attempt(how == ANSWERED, t, stopped=how == STOPPED)
        for h in handles[-HANDLE_SAMPLE:]:
            self.on_handle_time(h)
        self._table = None
        if self.answer_table() is not None:  # the gain is in the units of the rule with a forecast
            self.gain = gain
        return True

    def on_handle_time(self, seconds: float) -> None:
        """An operator finished a call after `seconds` busy (talk + wrap-up)."""
        if seconds > 0:
            self._handles.append(seconds)
            self._handles_seen += 1

    def on_operators(self, free: int, logged_in: int, waiting: int) -> None:
        """The queue's state changed (or is sampled): integrate idle operator time."""
        now = self._clock()
        last = self._last_state
        if last is not None:
            t, f, n, _ = last
            dt = max(0.0, now - t)
            self._idle_area += f * dt
            self._logged_area += n * dt
        self._last_state = (now, free, logged_in, waiting)

    # -- estimates ------------------------------------------------------------------------------
    @property
    def answer_rate(self) -> float:
        n = len(self._answers)
        return (self._answered_in_sample + self.settings.answer_rate_prior * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)

    @property
    def handle_time(self) -> float:
        n = len(self._handles)
        return (sum(self._handles) + self.settings.handle_time_prior * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)

    @property
    def ring_time(self) -> float:
        n = len(self._rings)
        return (sum(self._rings) + self.ring_prior * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)

    def forecast_free(self, busy: int, busy_for=None) -> float:
        """Busy operators expected to free up before a call dialed now is answered. With
        `busy_for` (seconds each busy operator has been busy) and enough measured handle times,
        from their distribution: P(handle <= e + H | handle > e) summed over the operators, so one
        who is deep into a call counts more than one who just started; else memoryless."""
        horizon = self.ring_time
        handles = self._sorted_handles()
        if busy_for is None or handles is None:
            return busy * (1.0 - math.exp(-horizon / self.handle_time))
        n = len(handles)
        total = 0.0
        for e in busy_for:
            longer = n - bisect.bisect_right(handles, e)
            if longer == 0:
                total += 1.0  # longer than any handle seen: about to end
                continue
            total += (bisect.bisect_right(handles, e + horizon) - (n - longer)) / longer
        return total

    def _sorted_handles(self) -> list[float] | None:
        if len(self._handles) < HANDLE_MIN:
            return None
        if self._handles_sorted is None or self._handles_version != self._handles_seen:
            self._handles_sorted = sorted(self._handles)
            self._handles_version = self._handles_seen
        return self._handles_sorted

    def answer_table(self) -> list[float] | None:
        """q[b]: the chance that a call still dialing at an age in bin b is answered within the
        next `ring_time` seconds, from the measured ends of recent attempts (None until there are
        enough). TABLE_BINS bins up to the longest attempt seen, so the table fits any time scale
        (a time-scaled lab as well as real calls). Rebuilt every TABLE_EVERY attempts."""
        if len(self._ends) < TABLE_MIN:
            return None
        if self._table is None or self._attempts - self._table_at >= TABLE_EVERY:
            ends = sorted(self._ends)
            width = max(ends[-1][0], 1e-9) / TABLE_BINS
            self._table = self._hazards(ends, width, self.ring_time)
            self._soon = self._hazards(ends, width, self.settings.connect_within)
            self._unstoppable = self._hazards(ends, width, until=self.settings.min_ring)
            first = self._table_at == 0
            self._table_at, self._bin_width = self._attempts, width
            if first and self.settings.stop_ringing:
                # From now on the rule counts only answers before min_ring: keep the dial ratio.
                self.gain *= self._yield() / self.answer_rate
        return self._table

    @staticmethod
    def _hazards(ends, width: float, horizon: float | None = None, until: float | None = None) -> list[float]:
        """Per age bin: answered within `horizon` (or before the age `until`) among the calls
        still dialing at that age. A call the pacer stopped is left out of the bins whose
        horizon reaches past its end (nobody knows whether it would have been answered)."""
        table = []
        for b in range(TABLE_BINS + 1):
            age = b * width
            if until is not None:
                horizon = until - age
                if horizon <= 0:
                    table.append(0.0)
                    continue
            alive = soon = 0
            for t, how in ends:
                if t <= age:
                    continue
                if how == STOPPED and t < age + horizon:
                    continue
                alive += 1
                soon += how == ANSWERED and t <= age + horizon
            table.append(soon / alive if alive else 0.0)
        return table

    def expected_answers(self, ages) -> float | None:
        """Answers expected from calls dialing now, `ages` seconds old: within the horizon; or,
        when calls still ringing at `min_ring` may be stopped, those before min_ring (the
        answers nothing can prevent any more: later ones are stopped if nobody is free)."""
        if self.answer_table() is None:
            return None
        return sum(self._at_ages(self._dial_table(), ages))

    def _dial_table(self) -> list[float] | None:
        """Per age bin, the answers the dial rule counts (None until measured): within the
        horizon; with stopping, those before min_ring."""
        return self._unstoppable if self.settings.stop_ringing else self._table

    def _at_ages(self, table: list[float], ages) -> list[float]:
        """The entries of an age-binned table for calls `ages` seconds old."""
        last, width = len(table) - 1, self._bin_width
        return [table[min(int(a / width), last)] for a in ages]

    def overdial_allowed(self) -> bool:
        """Room in the window for at least one more abandoned call under the cap."""
        return self.window.room(self.settings.abandon_cap) >= 1.0

    # -- the decision -------------------------------------------------------------------------
    def _clamp(self, ratio: float) -> float:
        return min(self.settings.max_ratio, max(self.settings.min_ratio, ratio))

    def adjust(self) -> None:
        """Re-tune the ratio once every `adjust_every` seconds (called from dialing_allowed)."""
        now = self._clock()
        if now - self._last_adjust < self.settings.adjust_every:
            return
        if self._last_state is not None:
            self.on_operators(*self._last_state[1:])  # integrate idle time up to now
        cap = self.settings.abandon_cap
        answered, abandoned = self._interval_answered, self._interval_abandoned
        idle = self._idle_area / self._logged_area if self._logged_area > 0 else 0.0
        # How far the abandonment trend is from the aim, as a share of the aim: the gain moves by
        # a step in proportion, the same up as down, so the trend settles on the aim (unequal
        # steps on a noisy trend settle below it).
        error = (AIM * cap - self.abandon_trend) / (AIM * cap)
        step = math.exp(max(-MAX_STEP, min(MAX_STEP, STEP_GAIN * error)))
        if abandoned >= SPIKE_MIN and abandoned > SPIKE_TIMES_CAP * cap * answered:
            self._set(SPIKE_FACTOR * self.ratio, "abandonment spike", now)
        elif self.window.rate() > cap:
            self._set(LOWER_FACTOR * self.ratio, "abandonment over the cap", now)
        elif error < 0:
            self._set(step * self.ratio, "abandonment above the aim", now)
        elif idle > IDLE_THRESHOLD and self.overdial_allowed():
            self._set(step * self.ratio, "operators idle", now)
        self._last_adjust = now
        self._interval_answered = self._interval_abandoned = 0
        self._idle_area = self._logged_area = 0.0

    def _yield(self) -> float:
        """What one call placed now adds to the answers the dial rule counts: the answer rate;
        with stopping (once measured), its chance of an answer before min_ring."""
        table = self._dial_table()
        if self.settings.stop_ringing and table is not None:
            return max(table[0], 1e-3)
        return self.answer_rate

    @property
    def ratio(self) -> float:
        """Calls dialed per operator expected free: gain / what one call adds."""
        return self._clamp(self.gain / self._yield())

    def _set(self, ratio: float, why: str, now: float) -> None:
        ratio = self._clamp(ratio)
        self.gain = ratio * self._yield()  # no wind-up past the bounds
        self.adjustments.append((now, why, ratio))

    def calls_to_stop(self, free: int, waiting: int, ages, rung) -> list[int]:
        """Which calls still ringing to end now (indices into `ages`): while the answers expected
        within `connect_within` from the calls dialing exceed the operators free to take them,
        the oldest calls that have rung at least `min_ring` (`rung`: seconds each has been
        ringing, None if not known to ring) are ended, most likely to answer first. An answer
        nobody can take is an abandoned call; a call ended while ringing is a NO_ANSWER the
        retry policy calls again."""
        if not self.settings.stop_ringing or not ages:
            return []
        if self.answer_table() is None:
            return []
        chance = self._at_ages(self._soon, ages)
        expected, operators = sum(chance), max(0, free - waiting - STOP_RESERVE)
        if expected <= operators:
            return []
        min_ring = self.settings.min_ring
        eligible = sorted((i for i, r in enumerate(rung) if r is not None and r >= min_ring and chance[i] > 0),
                          key=lambda i: -ages[i])
        stop = []
        for i in eligible:
            if expected <= operators:
                break
            expected -= chance[i]
            stop.append(i)
        return stop

    def dialing_allowed(self, free: int, busy: int, waiting: int, ages=None, busy_for=None) -> int:
        """How many calls may be dialing (not yet answered) now; `ages`: seconds since each
        call now dialing was placed (the answers they will bring depend on it)."""
        self.adjust()
        floor = max(0, free - waiting)
        if not self.overdial_allowed():
            return floor  # progressive: nobody can be abandoned
        expected_free = free + self.forecast_free(busy, busy_for) - waiting
        if expected_free <= 0:
            return 0
        expected = self.expected_answers(ages) if ages is not None else None
        if expected is None:  # not enough measured yet: calls in flight x ratio
            return max(floor, int(math.floor(self.ratio * expected_free)))
        fresh = self._dial_table()[0]  # what a call placed now adds to the answers counted
        if fresh <= 0:
            return floor
        room = self.gain * expected_free - expected
        return max(floor, len(ages) + max(0, int(math.floor(room / fresh))))

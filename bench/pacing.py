"""Pacing modes compared: operator occupancy, abandonment and calls per operator-hour.

    .venv/bin/python bench/pacing.py                 # 20 operators, 25% answer, 90 s talk, 20 s ring, 8 h, seed 1
    .venv/bin/python bench/pacing.py --hours 2 --seeds 1 2 3 --wrapup 5

A discrete-event simulation in simulated time (a shift takes a second or two of CPU), seeded
and reproducible, that drives the real pacing code: `autodialer.pacing.gate.dialing_allowed`
and the `PredictiveController`, fed the same facts the live pacer gets from the AMI (operators
free / busy, callers waiting, each attempt's outcome, each operator's handle time). What the
simulation stands in for is the PBX and the callees:

- a dialed number answers with probability --answer-rate after a ring of uniform(6, 34) s
  (mean 20 s); otherwise it rings out at the 40 s ring timeout (60%), is busy after 1-5 s (25%)
  or fails after 0.5-2 s (15%);
- an answered callee goes to the operators' queue; if no operator takes it within 2 s it is
  abandoned (the dialplan plays the message);
- an operator talks exponential(--talk) seconds, then wraps up --wrapup seconds.

Occupancy = talk time / logged-in time. Also printed: the occupancy an Erlang model allows for
the same operators, handle time and a 3% limit (Erlang C: P(wait > 2 s) <= 3%; Erlang B: calls
finding no free operator <= 3%), for traffic offered at random (Poisson) as inbound would be.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autodialer.pacing.gate import dialing_allowed  # noqa: E402
from autodialer.pacing.predictive import PredictiveController  # noqa: E402
from autodialer.pacing.settings import PacingSettings  # noqa: E402

MODES_ALL = ("fixed", "progressive", "predictive-nostop", "predictive")  # predictive-nostop: stop_ringing off
RING_TIMEOUT = 40.0
CONNECT_WITHIN = 2.0


class Sim:
    def __init__(self, mode: str, *, operators: int, answer_rate: float, talk: float, wrapup: float,
                 hours: float, seed: int, channels: int, cps: float, cap: float, talk_cv: float | None = None,
                 stop_ringing: bool = True):
        self.talk_cv = talk_cv
        self.mode = mode
        self.rng = random.Random(seed)
        self.now = 0.0
        self.end = hours * 3600.0
        self.n = operators
        self.answer_rate, self.talk, self.wrapup = answer_rate, talk, wrapup
        self.channels, self.cps = channels, cps
        self.settings = PacingSettings(mode=mode, queue="support" if mode != "fixed" else None,
                                       max_channels=channels, max_originates_per_second=cps,
                                       abandon_cap=cap, window=24 * 3600, stop_ringing=stop_ringing)
        self.ctl = PredictiveController(self.settings, clock=lambda: self.now) if mode == "predictive" else None
        self._events: list = []
        self._seq = itertools.count()
        self.free = operators
        self.busy_since: dict[int, float] = {}  # call -> when its operator took it (until wrap-up ends)
        self.dialing: dict[int, float] = {}  # calls not yet answered (or ended) -> when dialed
        self.in_flight = 0  # every call not ended: dialing, waiting, talking
        self.waiting: list[int] = []  # call ids queued for an operator
        self.next_dial_at = 0.0
        self.talk_total = 0.0
        self.dials = self.answered = self.connected = self.abandoned = 0
        self.stopped = 0  # calls the pacer ended while ringing (min_ring and more)
        self.stopped_answers = 0  # ... of which the callee would have answered later (the simulation knows)
        self._stopped: set[int] = set()
        self.peak_dialing = 0

    def at(self, t: float, what: str, *args) -> None:
        heapq.heappush(self._events, (t, next(self._seq), what, args))

    # -- the pacer ----------------------------------------------------------------------------
    def dial_more(self) -> None:
        while self.now < self.end:
            if self.in_flight >= self.channels:
                return
            ages = [self.now - t for t in self.dialing.values()] if self.ctl else None
            if self.ctl and self.settings.stop_ringing and ages:
                # Every call still dialing here rings from its dial (busy and failed ones end
                # within 5 s, long before min_ring).
                calls = list(self.dialing)
                for i in self.ctl.calls_to_stop(self.free, len(self.waiting), ages, ages):
                    self.stop(calls[i])
                ages = [self.now - t for t in self.dialing.values()]
            busy_for = [self.now - t for t in self.busy_since.values()] if self.ctl else None
            allowed = dialing_allowed(self.mode, free=self.free, busy=self.n - self.free,
                                      waiting=len(self.waiting), controller=self.ctl, ages=ages, busy_for=busy_for)
            if allowed is not None and len(self.dialing) >= allowed:
                return
            if self.now < self.next_dial_at:  # originates per second: come back when a token is due
                self.at(self.next_dial_at, "tick")
                return
            self.next_dial_at = max(self.now, self.next_dial_at) + 1.0 / self.cps
            self.dial()

    def dial(self) -> None:
        self.dials += 1
        call = self.dials
        self.dialing[call] = self.now
        self.in_flight += 1
        self.peak_dialing = max(self.peak_dialing, len(self.dialing))
        r = self.rng.random()
        if r < self.answer_rate:
            self.at(self.now + self.rng.uniform(6, 34), "answer", call, self.now)
        else:
            r = self.rng.random()
            if r < 0.60:
                d = RING_TIMEOUT
            elif r < 0.85:
                d = self.rng.uniform(1, 5)
            else:
                d = self.rng.uniform(0.5, 2)
            self.at(self.now + d, "no_answer", call)

    def stop(self, call) -> None:
        dialed_at = self.dialing.pop(call)
        self.in_flight -= 1
        self.stopped += 1
        self._stopped.add(call)
        self.ctl.on_attempt(False, self.now - dialed_at, stopped=True)

    # -- the PBX and the callees --------------------------------------------------------------
    def on_no_answer(self, call) -> None:
        if call in self._stopped:
            self._stopped.discard(call)
            return
        dialed_at = self.dialing.pop(call)
        self.in_flight -= 1
        if self.ctl:
            self.ctl.on_attempt(False, self.now - dialed_at)

    def on_answer(self, call, dialed_at) -> None:
        if call in self._stopped:
            self._stopped.discard(call)
            self.stopped_answers += 1
            return
        del self.dialing[call]
        self.answered += 1
        if self.ctl:
            self.ctl.on_attempt(True, self.now - dialed_at)
        if self.free > 0:
            self.connect(call)
        else:
            self.waiting.append(call)
            self.at(self.now + CONNECT_WITHIN, "give_up", call)

    def connect(self, call) -> None:
        self.free -= 1
        self.connected += 1
        if self.ctl:
            self.ctl.on_answered(False)
        talk = self.talk_time()
        self.talk_total += min(talk, max(0.0, self.end - self.now))
        self.busy_since[call] = self.now
        self.at(self.now + talk, "hangup", call, self.now)

    def talk_time(self) -> float:
        if self.talk_cv is None:  # exponential
            return self.rng.expovariate(1.0 / self.talk)
        sigma2 = math.log(1 + self.talk_cv ** 2)
        return self.rng.lognormvariate(math.log(self.talk) - sigma2 / 2, math.sqrt(sigma2))

    def on_give_up(self, call) -> None:
        if call in self.waiting:
            self.waiting.remove(call)
            self.abandoned += 1
            self.in_flight -= 1
            if self.ctl:
                self.ctl.on_answered(True)

    def on_hangup(self, call, started) -> None:
        self.in_flight -= 1
        self.at(self.now + self.wrapup, "operator_free", call, started)

    def on_operator_free(self, call, started) -> None:
        del self.busy_since[call]
        if self.ctl:
            self.ctl.on_handle_time(self.now - started)
        if self.waiting:
            self.free += 1
            self.connect(self.waiting.pop(0))
        else:
            self.free += 1

    def run(self) -> dict:
        self.at(0.0, "tick")
        handlers = {"tick": lambda: None, "answer": self.on_answer, "no_answer": self.on_no_answer,
                    "give_up": self.on_give_up, "hangup": self.on_hangup, "operator_free": self.on_operator_free,
                    "adjust": lambda: self.at(self.now + 1.0, "adjust")}
        self.at(1.0, "adjust")  # the controller re-tunes on a clock even when nothing happens
        while self._events:
            t, _, what, args = heapq.heappop(self._events)
            if t > self.end:
                break
            self.now = t
            handlers[what](*args)
            self.dial_more()
        hours = self.end / 3600.0
        answered = self.connected + self.abandoned
        return {
            "mode": self.mode,
            "occupancy": self.talk_total / (self.n * self.end),
            "abandon": self.abandoned / answered if answered else 0.0,
            "per_op_hour": self.connected / (self.n * hours),
            "talk_min_per_op_hour": self.talk_total / 60.0 / (self.n * hours),
            "dials": self.dials,
            "answered": answered,
            "abandoned": self.abandoned,
            "ratio": self.ctl.ratio if self.ctl else None,
            "peak_dialing": self.peak_dialing,
            "stopped": self.stopped,
            "stopped_answers": self.stopped_answers,
        }


# -- Erlang models ------------------------------------------------------------------------------
def erlang_b(n: int, a: float) -> float:
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(n: int, a: float) -> float:
    if a >= n:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1 - b))


def max_traffic(n: int, ok) -> float:
    lo, hi = 0.0, float(n)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def erlang_limits(n: int, handle: float, talk: float, cap: float) -> dict:
    a_c = max_traffic(n, lambda a: erlang_c(n, a) * math.exp(-(n - a) * CONNECT_WITHIN / handle) <= cap)
    a_b = max_traffic(n, lambda a: erlang_b(n, a) <= cap)
    share = talk / handle  # occupancy counts talk, not wrap-up
    return {"erlang_c": a_c / n * share, "erlang_c_a": a_c, "erlang_b": a_b * (1 - erlang_b(n, a_b)) / n * share, "erlang_b_a": a_b}


_LAB_MAIN = '''
import asyncio, json, sys
from autodialer.lab import LabOptions, LabPBX
async def main():
    lab = await LabPBX(LabOptions(**json.loads(sys.argv[1]))).start()
    print(lab.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
'''


class lab_process:
    """The lab PBX in its own process (so it does not share the GIL with the pacer)."""

    def __init__(self, opts: dict):
        self.opts = dict(opts, port=0)

    def __enter__(self):
        import json
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-c", _LAB_MAIN, json.dumps(self.opts)], stdout=subprocess.PIPE,
                                     text=True, cwd=str(Path(__file__).resolve().parents[1]))
        port = int(self.proc.stdout.readline())
        self.url = f"ami://dialer:dialer-secret@127.0.0.1:{port}"
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)


# -- the same against the lab PBX, time-scaled: the live pacer, the dial engine, real TCP ----------
def run_lab(name: str, args) -> dict:
    """One mode against a lab PBX with `--operators` agents, for `--lab-hours` simulated hours at
    `--time-scale`. Every answered call goes to `dialer-predictive` (2 s to reach an operator).
    Occupancy from the AMI: AgentConnect -> AgentComplete per operator."""
    import asyncio
    import time
    import uuid

    from autodialer.config import parse_ami_url
    from autodialer.lab import running_lab
    from autodialer.telephony.outcomes import CallStatus
    from autodialer.pacing.pacers import make_pacer
    from autodialer.telephony.ami import AmiSession
    from autodialer.telephony.engine import DialEngine

    mode = name.removesuffix("-nostop")
    S = args.time_scale
    non_answer = 1 - args.answer_rate
    lab_opts = dict(time_scale=S, agents=args.operators, agent_talk_mean=args.talk, agent_wrapup=args.wrapup,
                    mode="random", seed=args.seeds[0], answer_rate=args.answer_rate, busy_rate=0.25 * non_answer,
                    no_answer_rate=0.60 * non_answer, congestion_rate=0.05 * non_answer, ring_min=6.0, ring_max=34.0,
                    talk_mean=36000.0, talk_min=36000.0, talk_max=36000.0)  # the operator ends each call
    settings = PacingSettings(
        mode=mode, queue=None if mode == "fixed" else "support",
        max_channels=args.fixed_channels if mode == "fixed" else args.max_channels,
        max_originates_per_second=args.cps / S, abandon_cap=args.cap, window=max(60.0, 24 * 3600 * S),
        adjust_every=15 * S, handle_time_prior=(args.talk + args.wrapup) * S, ring_time_prior=20 * S,
        answer_rate_prior=0.3, stop_ringing=not name.endswith("-nostop"), min_ring=15 * S, connect_within=2 * S)
    seconds = args.lab_hours * 3600 * S

    async def main():
        with (lab_process(lab_opts) if args.lab_process else running_lab(**lab_opts)) as lab:
            async with AmiSession(parse_ami_url(lab.url), ping_interval=0, action_timeout=30) as ami:
                engine = DialEngine(ami, result_grace=5.0)
                pacer = make_pacer(settings, ami, tick=0.5 * S, calls=engine) if mode != "fixed" else make_pacer(settings)
                talking: dict[str, float] = {}
                talk = [0.0]
                start = time.monotonic()
                end = start + seconds

                def connect(e):
                    talking[e.get("Interface")] = time.monotonic()

                def complete(e):
                    t0 = talking.pop(e.get("Interface"), None)
                    if t0 is not None:
                        talk[0] += min(time.monotonic(), end) - t0

                ami.subscribe("AgentConnect", connect)
                ami.subscribe("AgentComplete", complete)
                results = []
                numbers = (f"7906{i:07d}" for i in itertools.count(1))

                async def one():
                    attempt = uuid.uuid4().hex
                    async with pacer.call_slot() as slot:
                        slot.attempt_id = attempt
                        if time.monotonic() >= end:
                            return
                        result = await engine.originate(next(numbers), context="dialer-predictive",
                                                        attempt_id=attempt, ring_timeout=40)
                    pacer.observe(result)
                    if result.ended_at is not None and result.ended_at.timestamp() <= time.time():
                        results.append(result)

                tasks: set[asyncio.Task] = set()
                while time.monotonic() < end:
                    while len(tasks) < settings.max_channels + 5:
                        t = asyncio.ensure_future(one())
                        tasks.add(t)
                        t.add_done_callback(tasks.discard)
                    await asyncio.sleep(0.01)
                elapsed = time.monotonic() - start
                now = time.monotonic()
                busy_now = sum(now - t0 for t0 in talking.values())
                for t in list(tasks):
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if hasattr(pacer, "close"):
                    await pacer.close()
        answered = sum(r.status is CallStatus.ANSWERED for r in results)
        abandoned = sum(r.status is CallStatus.ABANDONED for r in results)
        raced = sum(r.status is CallStatus.ABANDONED and r.stopped for r in results)
        hours = elapsed / S / 3600
        ctl = getattr(pacer, "controller", None)
        return {"mode": name, "stopped": getattr(pacer.stats, "stopped", 0), "raced": raced,
                "window": ctl.window.counts() if ctl else None, "occupancy": (talk[0] + busy_now) / (args.operators * elapsed),
                "abandon": abandoned / (answered + abandoned) if answered + abandoned else 0.0,
                "per_op_hour": answered / (args.operators * hours), "dials": len(results),
                "answered": answered + abandoned, "abandoned": abandoned,
                "ratio": getattr(getattr(pacer, "controller", None), "ratio", None),
                "controller": getattr(pacer, "controller", None)}

    return asyncio.run(main())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--operators", type=int, default=20)
    p.add_argument("--answer-rate", type=float, default=0.25)
    p.add_argument("--talk", type=float, default=90.0, help="mean talk seconds (exponential)")
    p.add_argument("--talk-cv", type=float, default=None,
                   help="talk times lognormal with this coefficient of variation (default: exponential, CV 1)")
    p.add_argument("--wrapup", type=float, default=0.0, help="wrap-up seconds after each call")
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--fixed-channels", type=int, default=30, help="simultaneous calls in fixed mode")
    p.add_argument("--max-channels", type=int, default=100, help="ceiling in progressive/predictive mode")
    p.add_argument("--cps", type=float, default=5.0, help="originates per second")
    p.add_argument("--cap", type=float, default=0.03)
    p.add_argument("--modes", nargs="+", default=list(MODES_ALL), choices=MODES_ALL)
    p.add_argument("--lab", action="store_true", help="also run each mode against the lab PBX (time-scaled, real TCP)")
    p.add_argument("--lab-hours", type=float, default=0.5, help="simulated hours per mode against the lab")
    p.add_argument("--lab-process", action="store_true", help="run the lab PBX in its own process, not a thread")
    p.add_argument("--time-scale", type=float, default=0.02, help="lab time scale (0.02: 1 simulated s = 20 ms)")
    args = p.parse_args(argv)

    dist = "exp" if args.talk_cv is None else f"lognormal CV {args.talk_cv:g}"
    print(f"{args.operators} operators, answer rate {args.answer_rate:.0%}, talk {args.talk:g} s ({dist}), "
          f"wrap-up {args.wrapup:g} s, ring 20 s mean, {args.hours:g} h simulated, cap {args.cap:.0%}, seeds {args.seeds}")
    print(f"{'mode':<12} {'seed':>4} {'occupancy':>9} {'abandon':>8} {'calls/op-h':>10} {'talk min/op-h':>13} "
          f"{'dials':>7} {'answered':>8} {'abandoned':>9} {'ratio':>6} {'stopped (would answer)':>22}")
    for name in args.modes:
        mode = name.removesuffix("-nostop")
        for seed in args.seeds:
            sim = Sim(mode, operators=args.operators, answer_rate=args.answer_rate, talk=args.talk, wrapup=args.wrapup,
                      hours=args.hours, seed=seed, cps=args.cps, cap=args.cap, talk_cv=args.talk_cv,
                      channels=args.fixed_channels if mode == "fixed" else args.max_channels,
                      stop_ringing=not name.endswith("-nostop"))
            r = sim.run()
            ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
            stopped = f"{r['stopped']} ({r['stopped_answers']})" if r["stopped"] else "-"
            print(f"{name:<12} {seed:>4} {r['occupancy']:>9.1%} {r['abandon']:>8.2%} {r['per_op_hour']:>10.1f} "
                  f"{r['talk_min_per_op_hour']:>13.1f} {r['dials']:>7} {r['answered']:>8} {r['abandoned']:>9} {ratio:>6} "
                  f"{stopped:>22}")
    if args.lab:
        print(f"against the lab PBX: {args.lab_hours:g} h simulated per mode at time scale {args.time_scale:g}, "
              f"seed {args.seeds[0]} (calls still in flight at the end are not counted)")
        for name in args.modes:
            r = run_lab(name, args)
            ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
            stopped = str(r["stopped"]) if r["stopped"] else "-"
            if r["stopped"]:
                print(f"  ({r['raced']} of the abandoned answered as the pacer hung up while they rang; "
                      f"the controller's window: {r['window'][1]} abandoned of {r['window'][0]})")
            print(f"{name + '@lab':<12} {args.seeds[0]:>4} {r['occupancy']:>9.1%} {r['abandon']:>8.2%} "
                  f"{r['per_op_hour']:>10.1f} {'':>13} {r['dials']:>7} {r['answered']:>8} {r['abandoned']:>9} {ratio:>6} "
                  f"{stopped:>22}")
    e = erlang_limits(args.operators, args.talk + args.wrapup, args.talk, args.cap)
    print(f"Erlang C (random arrivals, P(wait > {CONNECT_WITHIN:g} s) <= {args.cap:.0%}): A = {e['erlang_c_a']:.1f} erlangs, "
          f"occupancy {e['erlang_c']:.1%}")
    print(f"Erlang B (random arrivals, no wait, blocked <= {args.cap:.0%}): A = {e['erlang_b_a']:.1f} erlangs, "
          f"occupancy {e['erlang_b']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

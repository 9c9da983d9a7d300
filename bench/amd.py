"""AMD's accuracy and what it costs: the lab's AMD (Asterisk 22's algorithm) on a labelled set of
synthetic greetings, with amd.conf's defaults and two tuned parameter sets.

    .venv/bin/python bench/amd.py                      # greetings made once in .cache/amd-greetings
    .venv/bin/python bench/amd.py --dir /tmp/g --list  # every greeting's verdict too

The set (autodialer/lab/greetings.py, bench_set): people answering with one to four words in
Russian and English (4 espeak-ng voices, 3 speeds, 0.3-1.5 s before they speak, some on a noisy
line, some saying it again when nobody answers), people who say nothing, voicemail greetings of
3 to 15 s with and without a beep, dead air and line noise. Needs espeak-ng and sox.

Printed per parameter set:
- accuracy: HUMAN for a person and MACHINE for a machine, over all greetings (NOTSURE is wrong);
- people taken for machines: a person AMD called MACHINE. With `machine: hangup` each is a call
  hung up on a live person: abandoned, as Ofcom and the FTC count it (share of live calls). The
  "at 25% answer" column is the same in abandoned calls per 1,000 dialed when a quarter of the
  calls dialed are answered by people;
- NOTSURE for people / machines (the campaign's `notsure:` action decides what those cost);
- machines taken for people: a voicemail AMD called HUMAN (an operator or robot talks to it);
- mean detection time: audio analysed until the verdict, what the callee waits before anything
  happens (counted in the connect time by pacing);
- the 2 s rule after AMD, for the people AMD lets through (HUMAN) to dialer-predictive under
  `connect_within: 2s`: the share abandoned at once (under 1 s left: no queue) and the mean queue
  wait left (whole seconds, as the dialplan gives Queue()), counted from the answer
  (`connect_from: answer`: 2 s less the detection time) and from the end of the greeting
  (`greeting_end`, TCPA's and Ofcom's: 2 s less the silence after it, AMDCAUSE
  HUMAN-<silence>-<afterGreetingSilence>), plus `--dialplan-ms` (default 10 ms) for the
  priorities the dialplan runs between the verdict and the queue.
This is synthetic speech, a measure of the detector's settings, not a real-world accuracy claim.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autodialer.lab import amd, greetings  # noqa: E402

SETS = {
    # amd.conf's sample values (Asterisk's defaults)
    "default (amd.conf)": amd.AmdParams(),
    # Fewer live people hung up on: a person may say up to 4 words and take 2 s longer before
    # speaking; silence till the end of the analysis is NOTSURE instead of MACHINE.
    "people-first": amd.AmdParams(initial_silence=4500, greeting=2500, after_greeting_silence=800,
                                  total_analysis_time=4000, maximum_number_of_words=4),
    # More voicemails caught: shorter greeting allowed, a longer pause needed to be HUMAN.
    "machine-first": amd.AmdParams(initial_silence=2000, greeting=1200, after_greeting_silence=1000,
                                   maximum_number_of_words=2, min_word_length=80),
}


def queue_wait(res, connect_from: str, connect_within: float = 2.0, dialplan_ms: float = 10.0) -> int:
    """What [dialer-predictive] gives Queue() after a HUMAN verdict `res`: FLOOR of connect_within
    less the seconds since the answer (the detection) or since the greeting's end (the silence
    in the cause); 0: abandoned at once."""
    elapsed = (res.ms if connect_from == "answer" else int(res.cause.split("-")[1])) / 1000 + dialplan_ms / 1000
    return max(0, math.floor(connect_within - elapsed))


def run(paths_labels, params: amd.AmdParams, dialplan_ms: float = 10.0):
    rows = [(p, label, amd.detect_wav(p, params)) for p, label in paths_labels]
    people = [r for r in rows if r[1] == greetings.HUMAN]
    machines = [r for r in rows if r[1] == greetings.MACHINE]
    right = sum(1 for _, label, res in rows
                if (label, res.status) in ((greetings.HUMAN, amd.HUMAN), (greetings.MACHINE, amd.MACHINE)))
    fp = sum(1 for r in people if r[2].status == amd.MACHINE)
    passed = [r[2] for r in people if r[2].status == amd.HUMAN]
    waits = {c: [queue_wait(res, c, dialplan_ms=dialplan_ms) for res in passed] for c in ("answer", "greeting_end")}
    return {
        "rows": rows,
        "n": len(rows), "people": len(people), "machines": len(machines),
        "accuracy": right / len(rows),
        "people_as_machine": fp / len(people),
        "people_notsure": sum(1 for r in people if r[2].status == amd.NOTSURE) / len(people),
        "machine_as_people": sum(1 for r in machines if r[2].status == amd.HUMAN) / len(machines),
        "machine_notsure": sum(1 for r in machines if r[2].status == amd.NOTSURE) / len(machines),
        "mean_ms": sum(r[2].ms for r in rows) / len(rows),
        "mean_ms_people": sum(r[2].ms for r in people) / len(people),
        "passed": len(passed),
        **{f"abandoned_{c}": (sum(1 for w in ws if w == 0) / len(ws) if ws else 0.0) for c, ws in waits.items()},
        **{f"wait_{c}": (sum(ws) / len(ws) if ws else 0.0) for c, ws in waits.items()},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=str(Path(__file__).resolve().parents[1] / ".cache" / "amd-greetings"),
                    help="where the greetings are made (once) and read")
    ap.add_argument("--answer-rate", type=float, default=0.25, help="share of dialed calls a person answers")
    ap.add_argument("--list", action="store_true", help="print every greeting's verdict per set")
    ap.add_argument("--dialplan-ms", type=float, default=10.0,
                    help="ms the dialplan takes from AMD's verdict to the queue (in the 2 s rule's columns)")
    a = ap.parse_args(argv)
    gs = greetings.bench_set()
    paths = greetings.synthesise(gs, a.dir)
    paths_labels = [(p, g.label) for p, g in zip(paths, gs)]
    n_people = sum(1 for g in gs if g.label == greetings.HUMAN)
    print(f"{len(gs)} synthetic greetings ({n_people} people, {len(gs) - n_people} machines) in {a.dir}")
    print(f"{'parameter set':<20} {'accuracy':>8} {'people->MACHINE':>15} {'abandoned/1000 dialed':>22} "
          f"{'people NOTSURE':>14} {'machines->HUMAN':>15} {'machines NOTSURE':>16} {'mean detect':>11} {'(people)':>9} "
          f"{'HUMAN':>5} {'2s from answer: abandoned, wait':>31} {'2s from greeting end: abandoned, wait':>37}")
    for name, params in SETS.items():
        r = run(paths_labels, params, a.dialplan_ms)
        print(f"{name:<20} {r['accuracy']:>8.1%} {r['people_as_machine']:>15.1%} "
              f"{1000 * a.answer_rate * r['people_as_machine']:>22.1f} {r['people_notsure']:>14.1%} "
              f"{r['machine_as_people']:>15.1%} {r['machine_notsure']:>16.1%} {r['mean_ms'] / 1000:>10.2f}s "
              f"{r['mean_ms_people'] / 1000:>8.2f}s {r['passed']:>5} "
              f"{r['abandoned_answer']:>23.1%}, {r['wait_answer']:>5.2f}s "
              f"{r['abandoned_greeting_end']:>29.1%}, {r['wait_greeting_end']:>5.2f}s")
        if a.list:
            for p, label, res in r["rows"]:
                print(f"    {Path(p).stem:<18} {label:<8} {res.status:<8} {res.cause}")
    print("AMD() arguments: " + "; ".join(f"{n}: {','.join(map(str, p.args()))}" for n, p in SETS.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What checking list variables for their kinds costs in the list ingest: one column of N values
checked as prepare_chunk does (`_checked`: the whole column screened at once, Kind.check only on
what the screen flags) against Kind.check on every value. Prints milliseconds per kind.

    .venv/bin/python bench/variable_kinds.py            # --rows N (default 200000), --repeat R
"""

from __future__ import annotations

import argparse
import time

from autodialer.telephony.dialplan import CONF_ROLE_KIND
from autodialer.lists.prepare import _checked
from autodialer.telephony.safety import DIGITS, TOKEN


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.rows
    cases = [("digits", DIGITS, [str(100000 + i) for i in range(n)]),
             ("token", TOKEN, [f"ORD-{i:07d}" for i in range(n)]),
             ("enum", CONF_ROLE_KIND, [("Moderator", "listener", "", "participant")[i % 4] for i in range(n)])]
    for name, kind, values in cases:
        screened = min(_time(lambda: _checked(values, kind, "f")) for _ in range(args.repeat))
        each = min(_time(lambda: [kind.check(v, field="f") for v in values]) for _ in range(args.repeat))
        print(f"{name:7s} {n:,} values: screened {screened * 1e3:6.0f} ms ({screened / n * 1e9:5.0f} ns/value), "
              f"Kind.check each {each * 1e3:6.0f} ms")


def _time(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()

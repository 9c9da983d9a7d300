"""Callee-zone lookup bench: what finding a number's zones costs per number, against the same
process's baselines.

    .venv/bin/python bench/callee_zones.py [--numbers N] [--repeat R]

Numbers are drawn like bench/list_ingest.py's (mobiles 900-999, landlines 495 499 812 343 383),
plus 5% Kazakh mobiles and 5% US numbers. Printed, in microseconds per distinct number (best of
R passes, so the machine's other load weighs least):

- `normalize`: PhoneNormalizer.normalize of a cell (a fresh normaliser, nothing cached): the
  list ingest's per-distinct-number cost, zones included;
- `zones`: autodialer.zones.zones_for_parts alone (registry bisect / area code / phonenumbers),
  on parts already extracted, as the normaliser calls it;
- `baseline (before)`: the zone step as it was before issue 14 (phonenumbers' prefix table, the
  country's zones for a non-geographic number), on the same parts;
- `phonenumbers`: phonenumbers.time_zones_for_number on a parsed number.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def numbers(n: int, seed: int = 4) -> list[str]:
    rng = np.random.default_rng(seed)
    codes = rng.choice(np.array([900 + i for i in range(100)] + [495, 499, 812, 343, 383]), size=n)
    subs = rng.integers(0, 10_000_000, size=n)
    kind = rng.random(n)
    out = []
    for code, sub, k in zip(codes.tolist(), subs.tolist(), kind.tolist()):
        if k < 0.05:
            out.append(f"+7701{sub:07d}")
        elif k < 0.10:
            out.append(f"+1{rng.choice([212, 208, 305, 415, 512])}{sub % 10_000_000 + 2_000_000:07d}"[:12])
        else:
            out.append(f"+7{code}{sub:07d}")
    return list(dict.fromkeys(out))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import phonenumbers
    from phonenumbers import PhoneNumberType as T
    from phonenumbers import timezone as pn_timezone
    from phonenumbers.phonenumberutil import _GEO_MOBILE_COUNTRIES

    from autodialer.lists.phones import PhoneNormalizer
    from autodialer.zones import zones_for_parts
    from autodialer.zones.registry import load_table

    cells = numbers(args.numbers)
    n = len(cells)
    t0 = time.perf_counter()
    table = load_table()
    load_s = time.perf_counter() - t0
    parsed = [phonenumbers.parse(c, None) for c in cells]
    parts = [(str(p.country_code), phonenumbers.national_significant_number(p), phonenumbers.region_code_for_number(p),
              phonenumbers.number_type(p)) for p in parsed]

    def normalize_all():
        normalizer = PhoneNormalizer("RU")  # fresh: nothing cached
        for c in cells:
            normalizer.normalize(c)

    def zones_all():
        for cc, nsn, region, ntype in parts:
            zones_for_parts(cc, nsn, region, ntype)

    data, longest = pn_timezone.TIMEZONE_DATA, pn_timezone.TIMEZONE_LONGEST_PREFIX
    country = {cc: tuple(pn_timezone._country_level_time_zones_for_number(phonenumbers.PhoneNumber(country_code=int(cc), national_number=0)))
               for cc in {p[0] for p in parts}}

    def before_all():  # PhoneNormalizer._timezones as it was (commit 4e745b1)
        for cc, nsn, _region, ntype in parts:
            geo = ntype in (T.FIXED_LINE, T.FIXED_LINE_OR_MOBILE) or (int(cc) in _GEO_MOBILE_COUNTRIES and ntype == T.MOBILE)
            if not geo:
                continue
            digits = cc + nsn
            for k in range(longest, 0, -1):
                if data.get(digits[:k]) is not None:
                    break

    def phonenumbers_all():
        for p in parsed:
            pn_timezone.time_zones_for_number(p)

    normalize_all(), zones_all()  # warm the regexes and caches once
    results = {name: best(fn, args.repeat) * 1e6 / n for name, fn in
               [("normalize", normalize_all), ("zones", zones_all), ("before", before_all), ("phonenumbers", phonenumbers_all)]}
    print(f"numbers:            {n:,} distinct ({len(table):,} registry ranges, snapshot {table.snapshot}, loaded in {load_s * 1e3:.0f} ms)")
    print(f"normalize:          {results['normalize']:.2f} us/number (fast path with zones; what the list ingest pays)")
    print(f"zones:              {results['zones']:.2f} us/number ({results['zones'] / results['normalize']:.1%} of normalize)")
    print(f"baseline (before):  {results['before']:.2f} us/number (phonenumbers' prefix table, first candidate)")
    print(f"phonenumbers:       {results['phonenumbers']:.2f} us/number (time_zones_for_number)")
    print(f"ratio zones/before: {results['zones'] / results['before']:.1f}x; "
          f"one million distinct numbers: +{(results['zones'] - results['before']):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Russian mobile (DEF 9xx) ranges -> subjects of the federation, from the public registry of
the numbering plan (the Ministry of Digital Development's open data, `DEF-9xx.csv`).

The package ships a compact table derived from that file, `ru_mobile_ranges.txt`: adjacent
ranges of the same subjects merged, one line `first last subjects` (10-digit national numbers,
subject codes of autodialer.zones.subjects joined by `+`), headed by the snapshot date and the
source file's sha256. Porting does not move a number out of its range's region (Russian mobile
number portability is within one subject), so the range's subject is the callee's.

`build_table(csv_path, snapshot)` makes it from a newer registry file (`autodialer zones build`);
a territory that names no subject we know is an error naming the line, never a silent gap.
"""

from __future__ import annotations

import bisect
import csv
import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from autodialer.errors import AutodialerError
from autodialer.zones.subjects import NATIONWIDE, subject_codes

TABLE = Path(__file__).with_name("ru_mobile_ranges.txt")
HEADER = ["АВС/ DEF", "От", "До", "Емкость", "Оператор", "Регион", "Территория ГАР", "ИНН"]


class RegistryError(AutodialerError):
    """The registry file cannot be turned into the table (names the line and the problem)."""


@dataclass(frozen=True)
class RangeTable:
    snapshot: str  # the registry's snapshot date, as given when the table was built
    source_sha256: str
    source_rows: int
    firsts: list[int]
    lasts: list[int]
    subjects: list[tuple[str, ...]]

    def subjects_for(self, nsn: str) -> tuple[str, ...] | None:
        """Subject codes of the range holding a 10-digit national number, None if none does."""
        n = int(nsn)
        i = bisect.bisect_right(self.firsts, n) - 1
        if i >= 0 and n <= self.lasts[i]:
            return self.subjects[i]
        return None

    def __len__(self) -> int:
        return len(self.firsts)


def _rows(path: Path):
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text), delimiter=";")
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:7]] != HEADER[:7]:
        raise RegistryError(f"{path}: not the DEF registry (expected the header {';'.join(HEADER)!r}, got {header!r})")
    for lineno, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        yield lineno, row


def parse_registry(path: str | Path) -> tuple[list[tuple[int, int, tuple[str, ...]]], str, int]:
    """(sorted merged ranges, sha256, rows read) from a registry CSV."""
    path = Path(path)
    ranges = []
    problems = []
    count = 0
    for lineno, row in _rows(path):
        count += 1
        try:
            code, first, last = row[0].strip(), row[1].strip(), row[2].strip()
            if not (len(code) == 3 and code.isdigit() and len(first) == 7 and first.isdigit() and len(last) == 7 and last.isdigit()):
                raise ValueError(f"code/range {code!r} {first!r}-{last!r} is not 3 + 7 digits")
            lo, hi = int(code + first), int(code + last)
            if hi < lo:
                raise ValueError(f"range end {last} before its start {first}")
        except (IndexError, ValueError) as exc:
            problems.append(f"line {lineno}: {exc}")
            continue
        territory = row[6].strip() if len(row) > 6 else ""
        codes = subject_codes(territory) if territory else None
        if codes is None and len(row) > 5 and row[5].strip() not in ("", "-"):
            codes = subject_codes(row[5].strip())
        if codes is None:
            problems.append(f"line {lineno}: territory {territory!r} (region {row[5].strip() if len(row) > 5 else ''!r}) "
                            "names no subject of the federation in autodialer/zones/subjects.py")
            continue
        if NATIONWIDE in codes:
            codes = (NATIONWIDE,)
        ranges.append((lo, hi, tuple(sorted(codes))))
    if problems:
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise RegistryError(f"{path}: {len(problems)} line(s) cannot be used:\n  " + "\n  ".join(problems[:20]) + more)
    ranges.sort()
    merged: list[tuple[int, int, tuple[str, ...]]] = []
    for lo, hi, codes in ranges:
        if merged and lo <= merged[-1][1]:
            raise RegistryError(f"{path}: range {lo}-{hi} overlaps {merged[-1][0]}-{merged[-1][1]}")
        if merged and lo == merged[-1][1] + 1 and codes == merged[-1][2]:
            merged[-1] = (merged[-1][0], hi, codes)
        else:
            merged.append((lo, hi, codes))
    return merged, hashlib.sha256(path.read_bytes()).hexdigest(), count


def build_table(csv_path: str | Path, snapshot: str, out: str | Path = TABLE) -> RangeTable:
    """Write the compact table from a registry CSV; returns it as loaded back."""
    merged, sha, count = parse_registry(csv_path)
    lines = [
        "# autodialer: Russian mobile (DEF 9xx) ranges -> subjects of the federation (autodialer/zones/registry.py)",
        f"# snapshot: {snapshot}",
        f"# source: {Path(csv_path).name} sha256 {sha} rows {count}",
        "# first last subjects (10-digit national numbers; codes of autodialer/zones/subjects.py, '+' joined; RU = nationwide)",
    ]
    lines += [f"{lo} {hi} {'+'.join(codes)}" for lo, hi, codes in merged]
    out = Path(out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    load_table.cache_clear()
    return read_table(out)


def read_table(path: str | Path) -> RangeTable:
    meta: dict[str, str] = {}
    firsts: list[int] = []
    lasts: list[int] = []
    subjects: list[tuple[str, ...]] = []
    interned: dict[str, tuple[str, ...]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].strip().partition(": ")
            meta[key] = value
            continue
        lo, hi, codes = line.split()
        firsts.append(int(lo))
        lasts.append(int(hi))
        subjects.append(interned.setdefault(codes, tuple(codes.split("+"))))
    source = meta.get("source", "").split()
    sha = source[source.index("sha256") + 1] if "sha256" in source else ""
    rows = int(source[source.index("rows") + 1]) if "rows" in source else 0
    return RangeTable(meta.get("snapshot", "unknown"), sha, rows, firsts, lasts, subjects)


@functools.cache
def load_table() -> RangeTable:
    """The table shipped in the package (read once a process)."""
    return read_table(TABLE)

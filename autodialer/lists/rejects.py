"""Rejected rows, told back to the data team: counts by reason (`3 x not a valid number for region
RU`) and a file (`--rejects FILE`, .csv or .xlsx) with each rejected row's number, column,
reason and value, then its original cells, read again from the list file itself.

A reason names the value it refused (`column 'order_id' (ORDER_ID, digits): '12,s' is not
digits`); for the counts the value is left out, so one kind of problem is one line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from autodialer.lists.prepare import ALTERNATE_IGNORED

# A quoted value right after ': ' (the refused cell), and sizes that differ value by value.
_VALUE = re.compile(r"""(?<=: )(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_SIZES = re.compile(r"\b\d[\d,]* (characters|bytes|cells)\b")
REJECTS_HEADER = ["row", "column", "reason", "value"]


def reason_group(reason: str) -> str:
    """The reason without the value it names (`...: <value> is not digits (0-9 only)`)."""
    return _SIZES.sub(lambda m: f"N {m.group(1)}", _VALUE.sub("<value>", reason))


def by_reason(reasons: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """(reason group, count), most frequent first; `reasons` are (reason, count) pairs."""
    counts: Counter = Counter()
    for reason, n in reasons:
        counts[reason_group(reason)] += int(n)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def format_by_reason(groups: list[tuple[str, int]], *, indent: str = "  ") -> list[str]:
    return [f"{indent}{n} x {reason}" for reason, n in groups]


def is_note(reason: str) -> bool:
    """An alternate number ignored on an accepted row: noted, the row itself is not rejected."""
    return reason.startswith(ALTERNATE_IGNORED)


def write_rejects_file(out: Path, list_path: Path, options: dict, rejects: list[tuple[int, str, str, str]], *,
                       delimiter: str = ",") -> int:
    """Each reject (row, column, value, reason) as a line: row, column, reason, value, then the
    row's cells as in the list file (read again as the import read it: `options` are its
    encoding, delimiter, header_row, sheet). Returns the lines written."""
    from autodialer.lists.reading import ROW, open_list, reader_mapping
    from autodialer.lists.writing import check_suffix, write_table

    check_suffix(out)
    wanted: dict[int, list[tuple[str, str, str]]] = {}
    for row, column, value, reason in rejects:
        if not is_note(reason):
            wanted.setdefault(int(row), []).append((column, reason, value))
    listfile = open_list(list_path, reader_mapping(options), required=[])
    columns = list(listfile.columns)

    def lines():
        for chunk in listfile.chunks():
            cells = [chunk.iloc[:, k].tolist() for k in range(len(columns))]  # by position: headers may be respelled
            for i, row in enumerate(chunk[ROW].tolist()):
                for column, reason, value in wanted.get(row, ()):
                    yield [row, column, reason, value] + [values[i] for values in cells]

    header = REJECTS_HEADER + [c if c not in REJECTS_HEADER else f"list_{c}" for c in columns]
    return write_table(out, header, lines(), delimiter=delimiter, sheet="rejects")

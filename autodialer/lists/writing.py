"""Write a table the data team opens in Excel or LibreOffice: CSV or XLSX by the file's suffix.

The one place a cell of ours becomes a spreadsheet cell, so it is the one place formula injection
is stopped (a cell is data, never something the spreadsheet runs):
- XLSX: every string is a string cell (`t="inlineStr"`), which no spreadsheet evaluates; one that
  starts like a formula (= + - @, tab, CR) and is not a number also carries Excel's own "quote
  prefix" style (what typing '=... does): it shows as typed, with no visible apostrophe, and stays
  text when edited. Integers and floats we produce (attempts, row numbers) are number cells.
- CSV has no types: such a cell gets a leading apostrophe (OWASP's CSV-injection advice).
  UTF-8 with a BOM (Excel then reads UTF-8); the delimiter is `,` or what is asked (`;` for
  Excel in locales with a decimal comma, where `,` opens as one column), and `sep=` as the first
  line if asked (Excel's hint; other programs show it as a row).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path

from autodialer.errors import AutodialerError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SUFFIXES = (".csv", ".xlsx")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def formula_like(text: str) -> bool:
    """A cell a spreadsheet would run as a formula: starts with = + - @ (or tab/CR) and is not a
    plain number (-5, +7.5 are numbers; +7 906 123 45 17 and =1+2 are not)."""
    return text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text)


def csv_cell(value) -> str:
    """A cell as CSV text a spreadsheet will not evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if formula_like(text) else text


def check_suffix(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise AutodialerError(f"{Path(path).name!r}: the file must end in .csv or .xlsx")
    return suffix


def write_table(path: Path, header: list[str], lines: Iterable[list], *, delimiter: str = ",", sep_hint: bool = False,
                sheet: str = "results") -> int:
    """Write `header` and `lines` to `path` (.csv or .xlsx); returns the number of lines written."""
    path = Path(path)
    suffix = check_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if suffix == ".csv":
        if len(delimiter) != 1 or delimiter in "\"'\r\n":
            raise AutodialerError(f"the CSV delimiter must be one character (e.g. ';'), got {delimiter!r}")
        with path.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel reads the file as UTF-8
            if sep_hint:
                f.write(f"sep={delimiter}\r\n")
            writer = csv.writer(f, delimiter=delimiter)
            writer.writerow([csv_cell(h) for h in header])
            for line in lines:
                writer.writerow([csv_cell(v) for v in line])
                count += 1
        return count
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(sheet)

    def cell(value):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            value = str(value)
        if isinstance(value, str):
            if ILLEGAL_CHARACTERS_RE.search(value):  # XML cannot hold them: shown as \xNN
                value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
            c = WriteOnlyCell(ws, value=value)
            c.data_type = "s"  # openpyxl takes '=...' for a formula: a string is a string
            if formula_like(value):
                c.quotePrefix = True
            return c
        return value

    ws.append([cell(h) for h in header])
    for line in lines:
        ws.append([cell(v) for v in line])
        count += 1
    wb.save(path)
    return count

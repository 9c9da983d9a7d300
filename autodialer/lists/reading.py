"""Read a CSV or XLSX contact list into chunks of text cells, keeping each row's number.

Every cell comes back as text ("" when empty): numbers are never coerced, so `79061234567.0`
(an Excel float) or a leading `'` reaches the phone normaliser as written. Row numbers are the
spreadsheet's (1-based, the header row included), so a reject can be found in the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from autodialer.lists.errors import ListFileError
from autodialer.lists.mapping import ListMapping

ROW = "__row__"  # the column holding each data row's spreadsheet row number
# CSV rows with more cells than the header keep up to this many extra cells in EXTRA columns, so
# the row can be rejected by name (a shifted row: an unquoted comma in a name) instead of failing
# the whole file; empty extra cells (trailing delimiters) are harmless.
EXTRA_CELLS = 8
EXTRA = "__extra_{}__"
HEADER_SEARCH_ROWS = 30  # title/merged rows above the header are looked for this far down
DELIMITERS = (",", ";", "\t", "|")
CHUNK_ROWS = 50_000


@dataclass
class ListFile:
    path: Path
    columns: list[str]  # header names as in the file (made unique, blanks named)
    header_row: int  # 1-based
    encoding: str | None = None  # CSV only
    delimiter: str | None = None  # CSV only
    sheet: str | None = None  # XLSX only: the sheet read
    _chunks: Iterator[pd.DataFrame] | None = field(default=None, repr=False)

    def chunks(self) -> Iterator[pd.DataFrame]:
        """DataFrames of str cells with the file's columns plus ROW (int)."""
        assert self._chunks is not None, "chunks() can be iterated once"
        chunks, self._chunks = self._chunks, None
        return chunks


def open_list(path, mapping: ListMapping, *, required: list[str] | None = None, chunk_rows: int = CHUNK_ROWS) -> ListFile:
    """Open `path` (CSV or XLSX by suffix). `required` columns (default: the mapping's phone and
    variable columns) must be in the header; the header row is found by looking for them."""
    path = Path(path)
    if not path.is_file():
        raise ListFileError(f"list file not found: {path}")
    if required is None:
        required = list(mapping.phone_columns) + list(mapping.columns().values())
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path, mapping, required, chunk_rows)
    if suffix in (".xls",):
        raise ListFileError(f"{path}: old .xls files are not supported; save it as .xlsx or .csv")
    return _open_csv(path, mapping, required, chunk_rows)


# -- header detection ------------------------------------------------------------------------


def _norm(name) -> str:
    return " ".join(str(name).split()).casefold()


def _unique_header(cells: list) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(cells):
        name = " ".join(str(cell).split()) if cell is not None else ""
        if not name:
            name = f"column_{i + 1}"
        base, n = name, 2
        while name in seen:
            name, n = f"{base} ({n})", n + 1
        seen.add(name)
        out.append(name)
    return out


def _find_header(rows: list[list], required: list[str], header_row) -> int | None:
    """0-based index of the header among `rows`, or None."""
    want = {_norm(c) for c in required}
    if header_row != "auto":
        return header_row - 1 if header_row - 1 < len(rows) else None
    for i, row in enumerate(rows):
        names = {_norm(c) for c in row if c is not None}
        if want <= names:
            return i
    return None


def _check_header(path: Path, header: list[str], required: list[str], row: int) -> None:
    have = {_norm(c) for c in header}
    missing = [c for c in required if _norm(c) not in have]
    if missing:
        raise ListFileError(
            f"{path}: column(s) {', '.join(missing)} not in the header (row {row}: {', '.join(header[:20])})"
        )


def _rename_to_mapping(header: list[str], required: list[str]) -> list[str]:
    """Header names matched case/space-insensitively are renamed to the mapping's spelling."""
    by_norm = {_norm(c): c for c in required}
    return _unique_header([by_norm.get(_norm(h), h) for h in header])


# -- CSV -------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """utf-8-sig (BOM), utf-8 if the whole file decodes, else cp1251 (Russian Excel's default)."""
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ListFileError(f"{path}: UTF-16 files are not supported; save as UTF-8 or cp1251 CSV")
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while block := f.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1251"
    return "utf-8"


def _sample_records(path: Path, encoding: str, delimiter: str, n: int) -> list[list[str]]:
    with path.open("r", encoding=encoding, newline="", errors="replace") as f:
        text = f.read(1 << 16)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) >= n:
                break
    except csv.Error:
        pass
    return rows


def _open_csv(path: Path, mapping: ListMapping, required: list[str], chunk_rows: int) -> ListFile:
    encoding = detect_encoding(path) if mapping.encoding == "auto" else mapping.encoding
    delimiters = DELIMITERS if mapping.delimiter == "auto" else (mapping.delimiter,)
    found = None
    for delim in delimiters:
        rows = _sample_records(path, encoding, delim, HEADER_SEARCH_ROWS)
        idx = _find_header(rows, required, mapping.header_row)
        if idx is not None and (len(rows[idx]) > 1 or len(delimiters) == 1 or len(required) == 1):
            if mapping.header_row != "auto" or {_norm(c) for c in required} <= {_norm(c) for c in rows[idx]}:
                found = (delim, idx, rows[idx])
                break
    if found is None:
        if mapping.header_row != "auto":
            delim = delimiters[0]
            rows = _sample_records(path, encoding, delim, mapping.header_row)
            header = _unique_header(rows[-1]) if rows else []
            _check_header(path, header, required, mapping.header_row)
        raise ListFileError(
            f"{path}: no header row with column(s) {', '.join(required)} in the first {HEADER_SEARCH_ROWS} rows "
            f"(encoding {encoding}, tried delimiters {' '.join(repr(d) for d in delimiters)})"
        )
    delim, idx, raw_header = found
    header = _rename_to_mapping(raw_header, required)
    _check_header(path, header, required, idx + 1)

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            reader = pd.read_csv(
                path,
                sep=delim,
                encoding=encoding,
                header=None,
                names=header + [EXTRA.format(i + 1) for i in range(EXTRA_CELLS)],
                skiprows=idx + 1,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                quoting=csv.QUOTE_MINIMAL,
                engine="c",
                chunksize=chunk_rows,
                index_col=False,
            )
            first = idx + 2  # spreadsheet row number of the first data row
            rows = iter(reader)
            while True:
                # pandas only warns when a row is wider than `names`, and drops its cells: refuse instead.
                with warnings.catch_warnings():
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    try:
                        chunk = next(rows)
                    except StopIteration:
                        break
                    except pd.errors.ParserWarning as exc:
                        raise pd.errors.ParserError(str(exc)) from None
                chunk = chunk.fillna("")
                chunk[ROW] = range(first, first + len(chunk))
                first += len(chunk)
                yield chunk
        except pd.errors.ParserError as exc:
            raise ListFileError(
                f"{path}: cannot parse as CSV with delimiter {delim!r} (a row with more than {EXTRA_CELLS} cells "
                f"beyond the header's {len(header)}?): {exc}"
            ) from None
        except UnicodeDecodeError as exc:
            raise ListFileError(f"{path}: not valid {encoding} text ({exc.reason} at byte {exc.start})") from None

    return ListFile(path, header, idx + 1, encoding=encoding, delimiter=delim, _chunks=chunks())


# -- XLSX ------------------------------------------------------------------------------------


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        # As Excel shows a whole number; a phone typed as a number arrives as 79061234567.0
        return f"{value:.1f}"
    return str(value)


def _open_xlsx(path: Path, mapping: ListMapping, required: list[str], chunk_rows: int) -> ListFile:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ListFileError(f"{path}: cannot open as XLSX: {exc}") from None
    try:
        sheet = mapping.sheet
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(wb.worksheets):
                raise ListFileError(f"{path}: sheet index {sheet} out of range (the file has {len(wb.worksheets)})")
            ws = wb.worksheets[sheet]
        else:
            if sheet not in wb.sheetnames:
                raise ListFileError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
            ws = wb[sheet]
        rows = [[_xlsx_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    idx = _find_header(rows[:HEADER_SEARCH_ROWS], required, mapping.header_row)
    if idx is None:
        raise ListFileError(
            f"{path}: no header row with column(s) {', '.join(required)} in the first {HEADER_SEARCH_ROWS} rows"
        )
    header = _rename_to_mapping(rows[idx], required)
    _check_header(path, header, required, idx + 1)
    width = len(header)
    data = rows[idx + 1 :]
    for r in data:
        if len(r) < width:
            r.extend([""] * (width - len(r)))
        elif len(r) > width:  # read-only rows are as wide as the sheet, so only empty cells are cut
            del r[width:]
    frame = pd.DataFrame(data, columns=header, dtype=object)
    frame = frame.astype(str) if len(frame) else frame
    frame[ROW] = range(idx + 2, idx + 2 + len(frame))

    def chunks() -> Iterator[pd.DataFrame]:
        for start in range(0, max(len(frame), 1), chunk_rows):
            yield frame.iloc[start : start + chunk_rows].reset_index(drop=True)

    return ListFile(path, header, idx + 1, sheet=ws.title, _chunks=chunks())

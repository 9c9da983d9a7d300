"""Read a CSV or XLSX contact list into chunks of text cells, keeping each row's number.

Every cell comes back as text ("" when empty): numbers are never coerced, so `79061234567.0`
(an Excel float) or a leading `'` reaches the phone normaliser as written. Row numbers are the
spreadsheet's (1-based, the header row included), so a reject can be found in the file.

Bounded memory, whatever the file claims (a spreadsheet is untrusted input):
- CSV: before pandas reads it, one streaming pass refuses a file with a physical line over
  MAX_LINE_BYTES or a cell over MAX_CELL_CHARS (row and column named) and sizes the chunks so
  that one holds at most CHUNK_ROWS rows and about CHUNK_CHARS characters of cells. The pass is
  numpy over the raw bytes; the csv module's slower pass is needed only when a quoted cell may
  span lines or some CHUNK_ROWS lines hold more than CHUNK_CHARS bytes.
- XLSX: the zip's directory is checked before openpyxl opens it (the sizes it declares bound
  what zipfile will inflate): a part over XLSX_MAX_PART bytes, sharedStrings over
  XLSX_MAX_SHARED_STRINGS (openpyxl holds them all), all parts over XLSX_MAX_TOTAL, or a part
  compressed more than XLSX_MAX_RATIO:1 (a deflate bomb) is refused. A sheet whose `<dimension>`
  claims more than a call list can have (over XLSX_MAX_CLAIMED_COLUMNS columns or
  XLSX_MAX_CLAIMED_CELLS cells) is refused before a row is read (what wrote it is broken or
  hostile; re-saving rewrites the claim). A claim within them is still not trusted (openpyxl
  would pad every row to it and add empty rows up to it): the rows are streamed in chunks cut
  to the header's width, and a sheet with more rows than Excel allows (XLSX_MAX_ROWS) is
  refused.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import itertools
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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
CHUNK_CHARS = 32 << 20  # characters of cells in one CSV chunk (a chunk ends at CHUNK_ROWS or this)
MAX_CELL_CHARS = 8 << 20  # a CSV cell longer than this refuses the file; shorter ones reject their row
MAX_LINE_BYTES = 8 << 20  # a CSV line longer than this refuses the file
XLSX_MAX_PART = 128 << 20  # bytes of one part of an XLSX (a sheet) once inflated
XLSX_MAX_SHARED_STRINGS = 32 << 20  # bytes of xl/sharedStrings.xml once inflated (openpyxl keeps all)
XLSX_MAX_TOTAL = 256 << 20  # bytes of all parts once inflated
XLSX_MAX_RATIO = 100  # inflated/compressed, for a part over 1 MiB (real sheets: 10-15)
XLSX_MAX_ROWS = 1_048_576  # Excel's own limit
# What a sheet's <dimension> may claim: a call list has a few dozen columns; 2**26 cells is a
# full-height (1,048,576-row) sheet of 64 columns, or 65,536 rows of 1,024.
XLSX_MAX_CLAIMED_COLUMNS = 1_024
XLSX_MAX_CLAIMED_CELLS = 1 << 26


@dataclass
class ListFile:
    path: Path
    columns: list[str]  # header names as in the file (made unique, blanks named)
    header_row: int  # 1-based
    encoding: str | None = None  # CSV only
    delimiter: str | None = None  # CSV only
    sheet: str | None = None  # XLSX only: the sheet read
    skipped_blank: int = 0  # XLSX only: empty rows passed over while streaming (counted as blank once read)
    encoding_note: str | None = None  # CSV only: how the encoding was found and how sure (detect_encoding_note)
    _chunks: Iterator[pd.DataFrame] | None = field(default=None, repr=False)

    def read_options(self) -> dict:
        """How the file was read, to read it again the same way (reader_mapping)."""
        return {"encoding": self.encoding, "delimiter": self.delimiter, "header_row": self.header_row, "sheet": self.sheet}

    def chunks(self) -> Iterator[pd.DataFrame]:
        """DataFrames of str cells with the file's columns plus ROW (int)."""
        assert self._chunks is not None, "chunks() can be iterated once"
        chunks, self._chunks = self._chunks, None
        return chunks


def reader_mapping(options: dict) -> ListMapping:
    """A mapping that reads a file again as ListFile.read_options() says it was read (exports,
    the rejects file): no columns required, the header at its row."""
    return ListMapping(header_row=options.get("header_row") or 1, delimiter=options.get("delimiter") or "auto",
                       encoding=options.get("encoding") or "auto", sheet=options.get("sheet"))


def open_list(path, mapping: ListMapping, *, required: list[str] | None = None, chunk_rows: int = CHUNK_ROWS) -> ListFile:
    """Open `path` (CSV or XLSX by suffix). `required` columns (default: the mapping's phone
    columns and the variable columns that are not optional) must be in the header; the header row
    is found by looking for them. An optional column, when there, is renamed to the mapping's
    spelling like the required ones."""
    path = Path(path)
    if not path.is_file():
        raise ListFileError(f"list file not found: {path}")
    if required is None:
        required = mapping.required_columns()
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path, mapping, required, chunk_rows)
    if suffix in (".xls", ".ods"):
        return _open_calamine(path, mapping, required, chunk_rows)
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


def _key(name) -> str:
    """A name with case, spaces and punctuation dropped: 'Order ID #' and 'order_id' meet."""
    return "".join(ch for ch in _norm(name) if ch.isalnum())


def _near(want: str, names: list[str]) -> list[str]:
    """The names (of `names`) a header cell might have been meant as `want`, closest first."""
    import difflib

    k = _key(want)
    if not k:
        return []
    keyed = {n: _key(n) for n in names}
    same = [n for n, nk in keyed.items() if nk and (nk == k or k in nk or nk in k)]
    close = difflib.get_close_matches(k, [nk for nk in keyed.values() if nk], n=3, cutoff=0.6)
    by_key = {nk: n for n, nk in keyed.items()}
    return list(dict.fromkeys(same + [by_key[c] for c in close]))[:3]


def _closest_header(rows: list[list], required: list[str]) -> tuple[int, int] | None:
    """(0-based index, columns matched) of the row most like a header with `required`, or None
    when no row holds any of them or anything near them."""
    want = [_norm(c) for c in required]
    best = None
    for i, row in enumerate(rows):
        names = [_norm(c) for c in row if c is not None and str(c).strip()]
        if not names:
            continue
        exact = sum(w in names for w in want)
        near = sum(bool(_near(w, names)) for w in want)
        score = (exact + near, exact)
        if score > (0, 0) and (best is None or score > best[1]):
            best = (i, score)
    return None if best is None else (best[0], best[1][1])


def header_hint(rows: list[list], required: list[str], *, first_row: int = 1) -> str:
    """What a 'header not found' error adds: the closest row, and the near-miss names for each
    column it lacks (`order_id`: near 'Order ID #')."""
    found = _closest_header(rows, required)
    if found is None:
        return ""
    idx, _ = found
    cells = [" ".join(str(c).split()) for c in rows[idx] if c is not None and str(c).strip()]
    have = {_norm(c) for c in cells}
    misses = []
    for col in required:
        if _norm(col) in have:
            continue
        near = _near(col, cells)
        misses.append(f"{col!r}" + (f" (near: {', '.join(repr(n) for n in near)})" if near else " (nothing near)"))
    shown = ", ".join(repr(c) for c in cells[:20]) + (", ..." if len(cells) > 20 else "")
    return f"; the closest is row {first_row + idx}: {shown}; missing {', '.join(misses)}"


def _check_header(path: Path, header: list[str], required: list[str], row: int) -> None:
    have = {_norm(c) for c in header}
    missing = [c for c in required if _norm(c) not in have]
    if missing:
        raise ListFileError(
            f"{path}: column(s) {', '.join(missing)} not in the header (row {row}: {', '.join(header[:20])})"
        )


def _rename_to_mapping(header: list[str], required: list[str], mapping: ListMapping | None = None) -> list[str]:
    """Header names matched case/space-insensitively are renamed to the mapping's spelling."""
    by_norm = {_norm(c): c for c in (mapping.optional_columns() if mapping is not None else [])}
    by_norm.update({_norm(c): c for c in required})
    return _unique_header([by_norm.get(_norm(h), h) for h in header])


# -- CSV -------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """The encoding detect_encoding_note finds."""
    return detect_encoding_note(path)[0]


_WORD = re.compile(rb"[A-Za-z\x80-\xff]+")
SAMPLE_BYTES = 1 << 20


def detect_encoding_note(path: Path) -> tuple[str, str]:
    """(encoding, how it was found and how sure): a BOM (UTF-8, UTF-16: Excel's "Unicode text");
    UTF-16 without one (NUL bytes in every other place); UTF-8 if the whole file decodes; else
    the text decides between cp1251 (Russian Excel's default) and cp1252/Latin-1 (Western
    Excel's): a word of letters beyond ASCII only (`Привет` read as cp1251) is Russian; a word
    mixing ASCII letters with them (`José`, `Müller`) is Latin-1. The note says how many words
    spoke for each."""
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", "UTF-8 byte-order mark"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", "UTF-16 byte-order mark (Excel 'Unicode text')"
        sample = head[:4096]
        if len(sample) >= 4:
            even, odd = sample[0::2].count(0), sample[1::2].count(0)
            if odd > len(sample) // 4 and even == 0:
                return "utf-16-le", f"UTF-16 without a byte-order mark ({odd} NUL high bytes in the first {len(sample)} bytes)"
            if even > len(sample) // 4 and odd == 0:
                return "utf-16-be", f"UTF-16 without a byte-order mark ({even} NUL high bytes in the first {len(sample)} bytes)"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while block := f.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            pass
        else:
            return "utf-8", "the whole file is valid UTF-8"
    cyrillic = latin = 0
    for word in _WORD.findall(head):
        high = sum(b >= 0x80 for b in word)
        if not high:
            continue
        if high == len(word):
            cyrillic += len(word) >= 3  # a short all-accented word says little either way
        else:
            latin += 1
    western = "cp1252" if not any(b in head for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")) else "latin-1"
    evidence = cyrillic + latin
    if latin > cyrillic:
        return western, f"not UTF-8; {latin} of {evidence} words with letters beyond ASCII read as Latin-1 ({_sure(latin, evidence)})"
    if evidence:
        return "cp1251", f"not UTF-8; {cyrillic} of {evidence} words with letters beyond ASCII read as Cyrillic ({_sure(cyrillic, evidence)})"
    return "cp1251", "not UTF-8, no word to tell Cyrillic from Latin-1: cp1251 assumed (unsure; set list.encoding)"


def _sure(n: int, of: int) -> str:
    share = n / of
    return "sure" if share >= 0.9 and of >= 3 else "fairly sure" if share >= 0.7 else "unsure; set list.encoding"


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
    if mapping.encoding == "auto":
        encoding, note = detect_encoding_note(path)
    else:
        encoding, note = mapping.encoding, "list.encoding"
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
        # The closest row over every delimiter tried: the one splitting it into the most matches.
        best, hint = None, ""
        for delim in delimiters:
            rows = _sample_records(path, encoding, delim, HEADER_SEARCH_ROWS)
            got = _closest_header(rows, required)
            if got is not None and (best is None or (got[1], len(rows[got[0]])) > best):
                best, hint = (got[1], len(rows[got[0]])), header_hint(rows, required)
        raise ListFileError(
            f"{path}: no header row with column(s) {', '.join(required)} in the first {HEADER_SEARCH_ROWS} rows "
            f"(encoding {encoding}, tried delimiters {' '.join(repr(d) for d in delimiters)}){hint}"
        )
    delim, idx, raw_header = found
    header = _rename_to_mapping(raw_header, required, mapping)
    _check_header(path, header, required, idx + 1)
    sizes = _csv_chunk_sizes(path, encoding, delim, header, idx, chunk_rows)

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
                iterator=True,
                index_col=False,
            )
            first = idx + 2  # spreadsheet row number of the first data row
            for size in itertools.chain(sizes, itertools.repeat(chunk_rows)):
                # pandas only warns when a row is wider than `names`, and drops its cells: refuse instead.
                with warnings.catch_warnings():
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    try:
                        chunk = reader.get_chunk(size)
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

    return ListFile(path, header, idx + 1, encoding=encoding, delimiter=delim, encoding_note=note, _chunks=chunks())


# Encodings in which the bytes 0x0A and 0x22 are only ever "\n" and '"' (never part of another
# character), so the line scan below can count them in the raw bytes.
_BYTE_SCAN_ENCODINGS = frozenset({"utf-8", "utf-8-sig", "ascii", "latin-1", "iso8859-1", "cp1251", "cp1252",
                                  "koi8-r", "koi8-u", "cp866", "iso8859-5", "mac-cyrillic", "iso8859-15"})


@dataclass(frozen=True)
class _LineScan:
    longest: int  # bytes of the longest physical line (its newline not counted)
    longest_line: int  # its 1-based number
    widest_window: int  # the most bytes in any `window` consecutive lines (newlines counted)
    odd_quotes: bool  # some line holds an odd number of '"': a quoted cell may span lines


def _scan_lines(path: Path, window: int, *, block: int = 8 << 20) -> _LineScan:
    """One pass over the raw bytes with numpy, in blocks of `block` bytes (~0.1 s for a million rows, where
    the csv module's pass takes ~2 s): line lengths, the widest run of `window` lines, and whether
    every line has an even number of quotes (then no quoted cell holds a newline, so pandas'
    records are the file's lines)."""
    ends = np.array([-1], dtype=np.int64)  # the last window+1 line ends seen (-1: before the file)
    offset = lines = carry = 0
    longest, longest_line, widest, odd = 0, 0, 0, False

    def take(nl: np.ndarray) -> None:
        nonlocal ends, lines, longest, longest_line, widest
        if not len(nl):
            return
        run = np.concatenate([ends[-1:], nl])
        lengths = np.diff(run) - 1
        i = int(np.argmax(lengths))
        if lengths[i] > longest:
            longest, longest_line = int(lengths[i]), lines + i + 1
        lines += len(nl)
        ends = np.concatenate([ends, nl])
        if len(ends) > window:
            widest = max(widest, int((ends[window:] - ends[:-window]).max()))
            ends = ends[-(window + 1):]

    with path.open("rb") as f:
        while data := f.read(block):
            arr = np.frombuffer(data, dtype=np.uint8)
            nl = np.flatnonzero(arr == 10).astype(np.int64) + offset
            quotes = np.flatnonzero(arr == 34) + offset
            counts = np.bincount(np.searchsorted(nl, quotes), minlength=len(nl) + 1) if len(quotes) else np.zeros(len(nl) + 1, dtype=np.int64)
            counts[0] += carry
            odd = odd or bool((counts[:-1] & 1).any())
            carry = int(counts[-1])
            take(nl)
            offset += len(data)
    if offset and (not len(ends) or ends[-1] != offset - 1):  # a last line without a newline
        take(np.array([offset], dtype=np.int64))
        odd = odd or bool(carry & 1)
    return _LineScan(longest, longest_line, widest, odd)


def _csv_chunk_sizes(path: Path, encoding: str, delim: str, header: list[str], idx: int, chunk_rows: int) -> list[int]:
    """Rows per chunk, so that a chunk holds at most `chunk_rows` rows and about CHUNK_CHARS
    characters; ListFileError for a line over MAX_LINE_BYTES or a cell over MAX_CELL_CHARS
    (the csv module stops reading a field at its limit, so the pass itself stays small)."""
    scan = _scan_lines(path, chunk_rows)
    length, line = scan.longest, scan.longest_line
    if length > MAX_LINE_BYTES:
        raise ListFileError(f"{path}: line {line} is {length:,} bytes long (at most {MAX_LINE_BYTES:,}: "
                            "a giant cell or row); the file is not loaded")
    if (not scan.odd_quotes and scan.widest_window <= CHUNK_CHARS and MAX_LINE_BYTES <= MAX_CELL_CHARS
            and codecs.lookup(encoding).name in _BYTE_SCAN_ENCODINGS):
        # Every record is one line, no cell is longer than its line (<= MAX_LINE_BYTES =
        # MAX_CELL_CHARS) and no chunk_rows lines hold more bytes (>= characters) than a chunk may:
        # fixed chunks, without the csv module's pass.
        return []
    sizes: list[int] = []
    rows = chars = 0
    old_limit = csv.field_size_limit(MAX_CELL_CHARS)
    try:
        with path.open("r", encoding=encoding, newline="", errors="replace") as f:
            reader = csv.reader(f, delimiter=delim)
            record = 0
            try:
                for record, cells in enumerate(reader, start=1):
                    if record <= idx + 1:
                        continue
                    n = sum(map(len, cells))
                    if rows and (rows >= chunk_rows or chars + n > CHUNK_CHARS):
                        sizes.append(rows)
                        rows = chars = 0
                    rows += 1
                    chars += n
            except csv.Error as exc:
                if "field larger than field limit" not in str(exc):
                    return sizes  # pandas reads on in chunks of chunk_rows and reports the real error
                row = record + 1
                raise ListFileError(f"{path}: row {row} has a cell over {MAX_CELL_CHARS:,} characters "
                                    f"(columns: {', '.join(header[:20])}); the file is not loaded") from None
    finally:
        csv.field_size_limit(old_limit)
    if rows:
        sizes.append(rows)
    return sizes  # then chunks of chunk_rows, for whatever pandas sees beyond what the csv module counted


# -- XLSX ------------------------------------------------------------------------------------


def _xlsx_cell(value) -> str:
    """A spreadsheet cell as text: whole numbers as Excel shows them (79061234567.0 is a number
    typed as such: the phone normaliser knows it), dates as ISO (2026-12-01; with the time if it
    has one), text as written."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        # As Excel shows a whole number; a phone typed as a number arrives as 79061234567.0
        return f"{value:.1f}"
    return str(value)


def check_xlsx_container(path: Path) -> None:
    """Refuse an XLSX whose parts would inflate beyond the limits (zipfile never inflates a part
    beyond the size the directory declares: a lie there ends in a CRC error, not in memory)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ListFileError(f"{path}: cannot open as XLSX: {exc}") from None
    total = 0
    for info in infos:
        size = info.file_size
        total += size
        name = info.filename
        limit = XLSX_MAX_SHARED_STRINGS if name.lower().endswith("sharedstrings.xml") else XLSX_MAX_PART
        if size > limit:
            raise ListFileError(f"{path}: part {name} inflates to {size:,} bytes (at most {limit:,}); "
                                "the file is not loaded (save a list this big as CSV)")
        if size > 1 << 20 and size > XLSX_MAX_RATIO * max(1, info.compress_size):
            raise ListFileError(f"{path}: part {name} inflates {size // max(1, info.compress_size):,}-fold "
                                f"({info.compress_size:,} -> {size:,} bytes; at most {XLSX_MAX_RATIO}-fold): "
                                "a deflate bomb? the file is not loaded")
    if total > XLSX_MAX_TOTAL:
        raise ListFileError(f"{path}: its parts inflate to {total:,} bytes (at most {XLSX_MAX_TOTAL:,}); "
                            "the file is not loaded (save a list this big as CSV)")


def _check_claimed_dimension(path: Path, ws) -> None:
    """Refuse a sheet whose `<dimension>` (read by openpyxl before any row) claims more columns
    or cells than a call list can have: no real list is that big, and a reader trusting the
    claim would allocate for it. A sheet without a `<dimension>` claims nothing."""
    from openpyxl.utils import get_column_letter

    bounds = (ws.min_column, ws.min_row, ws.max_column, ws.max_row)
    if None in bounds:
        return
    min_col, min_row, max_col, max_row = bounds
    columns, rows = max_col - min_col + 1, max_row - min_row + 1
    if columns <= XLSX_MAX_CLAIMED_COLUMNS and columns * rows <= XLSX_MAX_CLAIMED_CELLS:
        return
    claim = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"
    raise ListFileError(
        f"{path}: sheet {ws.title!r} claims its cells span {claim} ({columns:,} columns x {rows:,} rows "
        f"= {columns * rows:,} cells; a list may have at most {XLSX_MAX_CLAIMED_COLUMNS:,} columns and "
        f"{XLSX_MAX_CLAIMED_CELLS:,} cells): the file is not loaded. Open it in Excel or LibreOffice and "
        "save it again (that rewrites the claim), or export the sheet as CSV and import that")


def _open_xlsx(path: Path, mapping: ListMapping, required: list[str], chunk_rows: int) -> ListFile:
    import openpyxl

    check_xlsx_container(path)
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
        _check_claimed_dimension(path, ws)
        ws.reset_dimensions()  # the sheet's <dimension> is a claim, not a fact: never pad rows to it
        head: list[list[str]] = []
        for row in ws.iter_rows(values_only=True, max_row=HEADER_SEARCH_ROWS):
            head.append([_xlsx_cell(v) for v in row[:XLSX_HEADER_CELLS]])
    except ListFileError:
        wb.close()
        raise
    except Exception as exc:  # a broken part (a CRC error after a lying size, bad XML)
        wb.close()
        raise ListFileError(f"{path}: cannot read as XLSX: {exc}") from None
    idx = _find_header(head, required, mapping.header_row)
    if idx is None:
        wb.close()
        raise ListFileError(
            f"{path}: no header row with column(s) {', '.join(required)} in the first {HEADER_SEARCH_ROWS} rows "
            f"of sheet {ws.title!r}{header_hint(head, required)}"
        )
    header = _rename_to_mapping(head[idx], required, mapping)
    try:
        _check_header(path, header, required, idx + 1)
    except ListFileError:
        wb.close()
        raise
    width = len(header)
    title = ws.title

    def numbered() -> Iterator[tuple[int, tuple]]:
        for n, row in enumerate(ws.iter_rows(min_row=idx + 2, max_col=width, values_only=True), start=idx + 2):
            if n > XLSX_MAX_ROWS:
                raise ListFileError(f"{path}: sheet {title!r} has rows beyond row {XLSX_MAX_ROWS:,} "
                                    "(more than Excel allows); the file is not loaded")
            yield n, row

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            yield from _sheet_frames(numbered(), header, listfile, chunk_rows)
        except ListFileError:
            raise
        except Exception as exc:  # a broken part found while streaming (CRC error, bad XML)
            raise ListFileError(f"{path}: cannot read as XLSX: {exc}") from None
        finally:
            wb.close()

    listfile = ListFile(path, header, idx + 1, sheet=title, _chunks=chunks())
    return listfile


XLSX_HEADER_CELLS = 16_384  # Excel's column limit: a header row is never wider



def _sheet_frames(rows, header: list[str], listfile, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A sheet's (row number, cells) as frames of at most `chunk_rows` rows, for XLSX (openpyxl,
    streamed) and .xls/.ods (calamine) alike: blank rows counted and passed over cheaply (openpyxl
    fills gaps with empty rows), cells cut or padded to the header's width."""
    width = len(header)
    data: list[list[str]] = []
    numbers: list[int] = []
    yielded = False
    for n, row in rows:
        row = row[:width]
        if all(v is None or v == "" for v in row):
            listfile.skipped_blank += 1
            continue
        cells = [_xlsx_cell(v) for v in row]
        cells.extend([""] * (width - len(cells)))
        data.append(cells)
        numbers.append(n)
        if len(data) >= chunk_rows:
            yield _frame(data, header, numbers)
            yielded = True
            data, numbers = [], []
    if data or not yielded:
        yield _frame(data, header, numbers)

def _frame(data: list[list[str]], header: list[str], numbers: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(data, columns=header, dtype=object)
    frame = frame.astype(str) if len(frame) else frame
    frame[ROW] = numbers
    return frame


# -- XLS, ODS (python-calamine) ----------------------------------------------------------------

CALAMINE_MAX_BYTES = 64 << 20  # an .xls is read whole (at most 65,536 rows); an .ods is a zip, checked like an XLSX


def _open_calamine(path: Path, mapping: ListMapping, required: list[str], chunk_rows: int) -> ListFile:
    """.xls (Excel 97-2003) and .ods (LibreOffice) through python-calamine: the sheet's cells as
    text like XLSX's (dates ISO, whole numbers as Excel shows them)."""
    from python_calamine import CalamineWorkbook

    size = path.stat().st_size
    if size > CALAMINE_MAX_BYTES:
        raise ListFileError(f"{path}: {size:,} bytes (at most {CALAMINE_MAX_BYTES:,} for .xls/.ods); save it as CSV")
    if path.suffix.lower() == ".ods":
        check_xlsx_container(path)  # a zip too: the same limits on what its parts inflate to
    try:
        wb = CalamineWorkbook.from_path(str(path))
        names = wb.sheet_names
        sheet = mapping.sheet
        if sheet is None:
            name = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise ListFileError(f"{path}: sheet index {sheet} out of range (the file has {len(names)})")
            name = names[sheet]
        else:
            if sheet not in names:
                raise ListFileError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(names)})")
            name = sheet
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except ListFileError:
        raise
    except Exception as exc:  # calamine raises its own types for a broken file
        raise ListFileError(f"{path}: cannot read as {path.suffix.lower()[1:].upper()}: {exc}") from None
    if len(rows) > XLSX_MAX_ROWS:
        raise ListFileError(f"{path}: sheet {name!r} has more than {XLSX_MAX_ROWS:,} rows")
    head = [[_xlsx_cell(v) for v in row[:XLSX_HEADER_CELLS]] for row in rows[:HEADER_SEARCH_ROWS]]
    idx = _find_header(head, required, mapping.header_row)
    if idx is None:
        raise ListFileError(f"{path}: no header row with column(s) {', '.join(required)} in the first {HEADER_SEARCH_ROWS} rows "
                            f"of sheet {name!r}{header_hint(head, required)}")
    header = _rename_to_mapping(head[idx], required, mapping)
    _check_header(path, header, required, idx + 1)
    width = len(header)

    def chunks() -> Iterator[pd.DataFrame]:
        yield from _sheet_frames(enumerate(rows[idx + 1:], start=idx + 2), header, listfile, chunk_rows)

    listfile = ListFile(path, header, idx + 1, sheet=name, _chunks=chunks())
    return listfile

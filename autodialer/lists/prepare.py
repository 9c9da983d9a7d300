"""Turn one chunk of list rows into contact candidates and rejects (pure pandas, no database).

Per row: the phone cells (several columns, several numbers a cell separated by , or ;) become
one primary number (the first valid one, in column order) and alternates; each mapped variable
is checked for its kind (digits, token, enum... see autodialer.telephony.safety.Kind) and kept as it will
be sent (an enum in its listed spelling). A row with no valid number or a variable of the wrong
kind is rejected with its column, value and reason; an invalid extra number is noted but does
not reject a row that has a valid one.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from json.encoder import encode_basestring
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autodialer.errors import UnsafeValueError
from autodialer.lists.mapping import ListMapping
from autodialer.lists.phones import MAX_PHONE_CELL, SCIENTIFIC, PhoneNormalizer
from autodialer.lists.reading import EXTRA, EXTRA_CELLS, ROW
from autodialer.telephony.safety import MAX_VARIABLE, Kind, check_dialplan_variable, variable_screen_chars

MAX_REJECT_VALUE = 1000  # a rejected cell is kept up to this many characters (and its length noted)
ALTERNATE_IGNORED = "alternate ignored: "


@functools.lru_cache(maxsize=1)
def _unsafe_variable_re() -> re.Pattern:
    """Matches anything a text Kind refuses besides length: Cc/Cf/Zl/Zp characters,
    `${` and `$[`. Used to find the few values worth checking one by one."""
    bad = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp")]
    ranges, start, prev = [], None, None
    for ch in bad:
        c = ord(ch)
        if start is None:
            start = prev = c
        elif c == prev + 1:
            prev = c
        else:
            ranges.append((start, prev))
            start = prev = c
    ranges.append((start, prev))
    cls = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"[{cls}]|\\$[{{\\[]")


def clip(value: str) -> str:
    """A rejected cell as stored: NUL (which PostgreSQL text cannot hold) shown as \\x00, long cells cut."""
    value = value.replace("\x00", "\\x00")
    if len(value) <= MAX_REJECT_VALUE:
        return value
    return value[:MAX_REJECT_VALUE] + f"... ({len(value)} characters)"


_NUL = re.compile("\x00").search


def _json_lines(columns: dict[str, list[str]]) -> list[str]:
    """One JSON object per row ({"column": "text"}, in the columns' order): each value escaped by
    the json module's C string encoder (map: one C loop a column), the objects by one format a row.
    (pandas' to_json of a frame cost twice as much: an object copy of the frame, then text to split.)
    PostgreSQL jsonb cannot hold NUL: a NUL becomes U+FFFD and the row is kept."""
    names = list(columns)
    if not names:
        return []
    encoded = []
    for name in names:
        values = columns[name]
        if any(map(_NUL, values)):
            values = [v.replace("\x00", "\ufffd") for v in values]
        encoded.append(list(map(encode_basestring, values)))
    if len(names) == 1:
        head = "{" + encode_basestring(names[0]) + ":"
        return [head + v + "}" for v in encoded[0]]
    row = "{{" + ",".join(encode_basestring(n).replace("{", "{{").replace("}", "}}") + ":{}" for n in names) + "}}"
    return list(map(row.format, *encoded))


ALTERNATES_NONE = "[]"  # contacts.alternates of a row with one valid number


def numbers_of(phone: str, alternates: str) -> list[str]:
    """A prepared row's valid numbers, the primary first (its `phone` and `alternates` columns)."""
    return [phone] if alternates == ALTERNATES_NONE else [phone, *json.loads(alternates)]


@dataclass
class Prepared:
    """One chunk, prepared. `good` has one row per row that can become (or join) a contact."""

    good: pd.DataFrame  # columns: row, phone, alternates (json list), timezone, timezone_source, variables (json)
    rejects: list[tuple[int, str, str, str]] = field(default_factory=list)  # (row, column, value, reason): rejected rows
    notes: list[tuple[int, str, str, str]] = field(default_factory=list)  # alternates ignored on accepted rows
    blank: int = 0
    read: int = 0  # non-blank rows


_SCIENTIFIC = re.compile(SCIENTIFIC)
_SEPARATOR = re.compile(r"[,;]")
_EMPTY_PARTS = {"pos": "int64", "col": "int64", "part": "int64", "value": object, "cell": object}


def _phone_parts(chunk: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Long form: one row per (chunk position, column order, part order, value, whole cell).

    Plain loops over lists: one pass a cell instead of one pandas pass a test."""
    pos, col, part, value, cell = [], [], [], [], []
    max_multi = 4 * MAX_PHONE_CELL
    for order, name in enumerate(columns):
        for i, raw in enumerate(chunk[name].tolist()):
            v = raw.strip()
            if not v:
                continue
            # "7,90612E+10" is one number in scientific notation with a decimal comma, not two numbers.
            if ("," in v or ";" in v) and len(v) <= max_multi and not _SCIENTIFIC.fullmatch(v):
                k = 0
                for piece in _SEPARATOR.split(v):
                    piece = piece.strip()
                    if piece:
                        pos.append(i), col.append(order), part.append(k), value.append(piece), cell.append(v)
                        k += 1
            else:
                pos.append(i), col.append(order), part.append(0), value.append(v), cell.append(v)
    if not pos:
        return pd.DataFrame({k: pd.Series(dtype=t) for k, t in _EMPTY_PARTS.items()})
    frame = pd.DataFrame({"pos": pos, "col": col, "part": part, "value": pd.array(value, dtype=object), "cell": pd.array(cell, dtype=object)})
    if len(columns) > 1:
        frame = frame.sort_values(["pos", "col", "part"], kind="stable", ignore_index=True)
    return frame


def _flag_unsafe(name: str, values: list[str]) -> list[int]:
    """Positions of values check_dialplan_variable might refuse (too many bytes on the AMI or
    call-file line, control characters, `${`/`$[`). The whole column is screened at once first:
    usually there is nothing to look at."""
    screen = variable_screen_chars(name)
    too_long = [i for i, v in enumerate(values) if len(v) > screen] if values and max(map(len, values)) > screen else []
    text = "".join(values)
    # isprintable() is False for every Cc/Cf/Zl/Zp character (and for some harmless ones, like a
    # no-break space: then the exact pattern decides). "$" + "{" across two cells over-reports, never under.
    if text.isprintable() and "${" not in text and "$[" not in text:
        return too_long
    if _unsafe_variable_re().search(text) is None:
        return too_long
    pattern = _unsafe_variable_re()
    return sorted(set(too_long) | {i for i, v in enumerate(values) if pattern.search(v)})


_TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]*")


def _checked(values: list[str], kind: Kind, field: str) -> tuple[list[str], list[tuple[int, str]]]:
    """A column of a parse-safe kind: the values as sent, and (position, reason) of the bad ones.
    A whole column of digits or tokens is screened at once (one C pass over the joined text), an
    enum by one dict look-up a value; only what the screen flags goes through Kind.check."""
    stripped = [v.strip() for v in values]
    if kind.name == "enum":
        table = {v.casefold(): v for v in kind.values}
        table[""] = kind.default or ""
        out = [table.get(v.casefold()) for v in stripped]
        flagged = [i for i, v in enumerate(out) if v is None]
    else:
        joined = "".join(stripped)
        longest = max(map(len, stripped), default=0)
        if kind.name == "digits" and longest <= MAX_VARIABLE and joined.isascii() and (joined.isdigit() or not joined):
            return stripped, []
        if kind.name == "token" and longest <= 80 and _TOKEN_RUN.fullmatch(joined):
            return stripped, []
        out, flagged = list(stripped), range(len(values))
    bad = []
    for pos in flagged:
        try:
            out[pos] = kind.check(values[pos], field=field)
        except UnsafeValueError as exc:
            out[pos] = values[pos]
            bad.append((pos, str(exc)))
    return out, bad


def prepare_chunk(chunk: pd.DataFrame, mapping: ListMapping, normalizer: PhoneNormalizer, columns: list[str]) -> Prepared:
    """`chunk` comes from reading.ListFile.chunks(); `columns` are the file's columns."""
    chunk = chunk.reset_index(drop=True)
    n = len(chunk)
    # A row is blank when every cell is empty or whitespace: strip() removes exactly what
    # isspace() calls whitespace, and an object array of str casts to bool by emptiness (C loops).
    nonblank = np.zeros(n, dtype=bool)
    for c in columns:
        nonblank |= np.array(list(map(str.strip, chunk[c].tolist())), dtype=object).astype(bool)
    blank = int(n - nonblank.sum())
    if blank:
        chunk = chunk[nonblank].reset_index(drop=True)
    rows = chunk[ROW].to_numpy()
    out = Prepared(good=pd.DataFrame(), blank=blank, read=len(chunk))
    if chunk.empty:
        out.good = pd.DataFrame(columns=["row", "phone", "alternates", "timezone", "timezone_source", "variables"])
        return out

    phone_cols = list(mapping.phone_columns)
    parts = _phone_parts(chunk, phone_cols)
    norm = normalizer.normalize_series(parts["value"])
    parts = pd.concat([parts, norm], axis=1)
    ok = parts["e164"].notna()
    valid = parts[ok]
    invalid = parts[~ok]

    first = valid.drop_duplicates("pos", keep="first").set_index("pos")
    has_phone = np.zeros(len(chunk), dtype=bool)
    has_phone[first.index.to_numpy()] = True
    reasons: dict[int, tuple[str, str, str]] = {}

    # Rows without a valid number: the first bad part (or "no phone number") is the reason.
    # The rejected row keeps its whole cell (e.g. a formula with ';' inside); a note keeps the bad part.
    for pos, col, value, cell, reason in invalid[["pos", "col", "value", "cell", "reason"]].itertuples(index=False):
        if has_phone[pos]:
            out.notes.append((int(rows[pos]), phone_cols[col], clip(value), ALTERNATE_IGNORED + reason))
        elif pos not in reasons:
            reasons[pos] = (phone_cols[col], clip(cell), reason)
    for pos in np.flatnonzero(~has_phone).tolist():
        if pos not in reasons:
            reasons[pos] = (phone_cols[0] if len(phone_cols) == 1 else ", ".join(phone_cols), "", "no phone number")
    # A CSV row with more cells than the header is shifted: no cell can be trusted to be in its column.
    extra = [c for c in (EXTRA.format(i + 1) for i in range(EXTRA_CELLS)) if c in chunk.columns]
    if extra:
        for pos, cells in enumerate(zip(*(chunk[c].tolist() for c in extra))):
            if any(cells):
                n_cells = len(columns) + max(i + 1 for i, v in enumerate(cells) if v)
                reasons[pos] = ("(beyond the header)", clip(",".join(v for v in cells if v)),
                                f"row has {n_cells} cells, the header {len(columns)}: shifted columns?")

    # Variables: each column checked for its kind. Text: a screen over the whole column, then the
    # shared check on what it flags. Other kinds: every value, kept as it will be sent.
    var_values: dict[str, list[str]] = {}
    for name, var in mapping.variables.items():
        col, kind = var.column, var.spec()
        if col not in chunk.columns:  # an optional column this list does not have
            if var.default is not None:
                var_values[name] = [var.default] * len(chunk)
            continue
        values = chunk[col].tolist()
        if var.default is not None and kind.name != "enum":  # an enum's kind fills its own empty cells
            values = [v if v.strip() else var.default for v in values]
        field = f"column {col!r} ({name}, {kind.name})"
        if kind.parsed_safe:
            values, bad = _checked(values, kind, field)
        else:  # text: the byte limits of its AMI and call-file lines (check_dialplan_variable)
            bad = []
            for pos in _flag_unsafe(name, values):
                try:
                    check_dialplan_variable(name, values[pos])
                except UnsafeValueError as exc:
                    bad.append((pos, str(exc)))
        var_values[name] = values
        for pos, reason in bad:
            if pos not in reasons:
                reasons[pos] = (col, clip(chunk[col].iat[pos]), reason)
    for pos, (col, value, reason) in sorted(reasons.items()):
        out.rejects.append((int(rows[pos]), col, value, reason))

    several = len(valid) > len(first)  # some row has more than one valid number
    if reasons:
        first = first.drop(index=[p for p in reasons if p in first.index])
    first = first.sort_index()
    idx = first.index
    phones = first["e164"].tolist()
    # Alternates: every further valid number of the row, once, in column order.
    if several:
        extra = valid[valid["pos"].isin(idx)]
        grouped = extra.groupby("pos", sort=False)["e164"].agg(lambda v: list(dict.fromkeys(v)))
        alternates = [ALTERNATES_NONE if len(ns) == 1 else json.dumps(ns[1:]) for ns in grouped.reindex(idx).tolist()]
    else:  # one str object for every row: pickled once, not a list a row (the worker sends this)
        alternates = [ALTERNATES_NONE] * len(phones)
    zones = [z.stored for z in first["timezones"].tolist()]  # (zones text, source) of each primary number
    names = [n for n in mapping.variables if n in var_values]
    if names:
        take = idx.to_numpy()
        variables = _json_lines({n: np.asarray(var_values[n], dtype=object)[take].tolist() for n in names})
    else:
        variables = ["{}"] * len(idx)
    out.good = pd.DataFrame(
        {
            "row": rows[idx.to_numpy()],
            "phone": pd.array(phones, dtype=object),
            "alternates": pd.array(alternates, dtype=object),
            "timezone": pd.array([z[0] for z in zones], dtype=object),
            "timezone_source": pd.array([z[1] for z in zones], dtype=object),
            "variables": pd.array(variables, dtype=object),
        }
    )
    return out

"""Turn one chunk of list rows into contact candidates and rejects (pure pandas, no database).

Per row: the phone cells (several columns, several numbers a cell separated by , or ;) become
one primary number (the first valid one, in column order) and alternates; the mapped variables
are checked as dialplan variables. A row with no valid number or a bad variable is rejected
with its column, value and reason; an invalid extra number is noted but does not reject a row
that has a valid one.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from autodialer.errors import UnsafeValueError
from autodialer.lists.mapping import ListMapping
from autodialer.lists.phones import MAX_PHONE_CELL, SCIENTIFIC, PhoneNormalizer
from autodialer.lists.reading import ROW
from autodialer.safety import check_dialplan_variable

MAX_VARIABLE = 256  # characters of one dialplan variable value (check_dialplan_variable's default)
MAX_REJECT_VALUE = 1000  # a rejected cell is kept up to this many characters (and its length noted)
ALTERNATE_IGNORED = "alternate ignored: "


@functools.lru_cache(maxsize=1)
def _unsafe_variable_re() -> re.Pattern:
    """Matches anything check_dialplan_variable refuses besides length: Cc/Cf/Zl/Zp characters,
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


def _json_lines(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row ({"column": "text"}), encoded by pandas in C."""
    if len(frame) == 0:
        return []
    frame = frame.astype(object)
    text = frame.to_json(orient="records", lines=True, force_ascii=False)
    if "\\u0000" in text:  # PostgreSQL jsonb cannot hold NUL: keep the row, mark the character
        frame = frame.map(lambda v: v.replace("\x00", "\ufffd") if isinstance(v, str) else v)
        text = frame.to_json(orient="records", lines=True, force_ascii=False)
    return text.rstrip("\n").split("\n")


@dataclass
class Prepared:
    """One chunk, prepared. `good` has one row per row that can become (or join) a contact."""

    good: pd.DataFrame  # columns: row, phone, numbers (list, primary first), timezone, variables (json), data (json)
    rejects: list[tuple[int, str, str, str]] = field(default_factory=list)  # (row, column, value, reason): rejected rows
    notes: list[tuple[int, str, str, str]] = field(default_factory=list)  # alternates ignored on accepted rows
    blank: int = 0
    read: int = 0  # non-blank rows


def _phone_parts(chunk: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Long form: one row per (chunk position, column order, part order, value)."""
    frames = []
    for order, col in enumerate(columns):
        s = chunk[col].astype(str).str.strip()
        s = s[s != ""]
        if s.empty:
            continue
        long_cell = s.str.len() > 4 * MAX_PHONE_CELL
        # "7,90612E+10" is one number in scientific notation with a decimal comma, not two numbers.
        multi = s.str.contains(r"[,;]", regex=True) & ~long_cell & ~s.str.fullmatch(SCIENTIFIC)
        single = s[~multi]
        frames.append(pd.DataFrame({"pos": single.index, "col": order, "part": 0, "value": single.values, "cell": single.values}))
        if multi.any():
            exploded = s[multi].str.split(r"[,;]", regex=True).explode().str.strip()
            exploded = exploded[exploded != ""]
            part = exploded.groupby(level=0).cumcount()
            frames.append(pd.DataFrame({"pos": exploded.index, "col": order, "part": part.values, "value": exploded.values,
                                        "cell": s[exploded.index].values}))
    if not frames:
        return pd.DataFrame({"pos": pd.Series(dtype="int64"), "col": pd.Series(dtype="int64"), "part": pd.Series(dtype="int64"),
                             "value": pd.Series(dtype=object), "cell": pd.Series(dtype=object)})
    return pd.concat(frames, ignore_index=True)


def prepare_chunk(chunk: pd.DataFrame, mapping: ListMapping, normalizer: PhoneNormalizer, columns: list[str]) -> Prepared:
    """`chunk` comes from reading.ListFile.chunks(); `columns` are the file's columns (for `data`)."""
    chunk = chunk.reset_index(drop=True)
    cells = chunk[columns]
    nonblank = (cells.apply(lambda s: s.astype(str).str.strip() != "")).any(axis=1) if len(columns) else pd.Series(False, index=chunk.index)
    blank = int((~nonblank).sum())
    chunk = chunk[nonblank].reset_index(drop=True)
    rows = chunk[ROW].to_numpy()
    out = Prepared(good=pd.DataFrame(), blank=blank, read=len(chunk))
    if chunk.empty:
        out.good = pd.DataFrame(columns=["row", "phone", "numbers", "timezone", "variables", "data"])
        return out

    phone_cols = list(mapping.phone_columns)
    parts = _phone_parts(chunk, phone_cols)
    norm = normalizer.normalize_series(parts["value"])
    parts = pd.concat([parts, norm], axis=1).sort_values(["pos", "col", "part"], kind="stable")
    valid = parts[parts["e164"].notna()]
    invalid = parts[parts["e164"].isna()]

    first = valid.drop_duplicates("pos", keep="first").set_index("pos")
    has_phone = pd.Series(False, index=chunk.index)
    has_phone[first.index] = True
    rejected = pd.Series(False, index=chunk.index)
    reasons: dict[int, tuple[str, str, str]] = {}

    # Rows without a valid number: the first bad part (or "no phone number") is the reason.
    # The rejected row keeps its whole cell (e.g. a formula with ';' inside); a note keeps the bad part.
    for pos, col, value, cell, reason in invalid[["pos", "col", "value", "cell", "reason"]].itertuples(index=False):
        if has_phone[pos]:
            out.notes.append((int(rows[pos]), phone_cols[col], clip(value), ALTERNATE_IGNORED + reason))
        elif pos not in reasons:
            reasons[pos] = (phone_cols[col], clip(cell), reason)
    for pos in chunk.index[~has_phone]:
        if pos not in reasons:
            reasons[pos] = (phone_cols[0] if len(phone_cols) == 1 else ", ".join(phone_cols), "", "no phone number")
    rejected[list(reasons)] = True

    # Variables: a vectorised screen, then the shared safety check on the values it flags.
    var_values: dict[str, pd.Series] = {}
    for name, col in mapping.variables.items():
        s = chunk[col].astype(str)
        var_values[name] = s
        flagged = (s.str.len() > MAX_VARIABLE) | s.str.contains(_unsafe_variable_re(), regex=True)
        for pos in flagged[flagged].index:
            try:
                check_dialplan_variable(name, s[pos], max_len=MAX_VARIABLE)
            except UnsafeValueError as exc:
                if pos not in reasons:
                    reasons[pos] = (col, clip(s[pos]), str(exc))
                    rejected[pos] = True
    for pos, (col, value, reason) in sorted(reasons.items()):
        out.rejects.append((int(rows[pos]), col, value, reason))

    keep = chunk.index[~rejected.to_numpy()]
    first = first.loc[first.index.intersection(keep)].sort_index()
    idx = first.index
    # Alternates: every further valid number of the row, once, in column order.
    numbers = pd.Series([[p] for p in first["e164"]], index=idx, dtype=object)
    extra = valid[valid["pos"].isin(idx)]
    if len(extra) > len(idx):
        grouped = extra.groupby("pos", sort=False)["e164"].agg(lambda v: list(dict.fromkeys(v)))
        numbers = grouped.reindex(idx)
    tz = first["timezones"]
    names = list(mapping.variables)
    if names:
        var_frame = pd.DataFrame({n: var_values[n].loc[idx].to_numpy() for n in names})
        variables = _json_lines(var_frame)
    else:
        variables = ["{}"] * len(idx)
    data = _json_lines(chunk.loc[idx, columns])
    out.good = pd.DataFrame(
        {
            "row": rows[idx.to_numpy()],
            "phone": first["e164"].to_numpy(),
            "numbers": numbers.to_numpy(),
            "timezone": [z[0] for z in tz],
            "variables": variables,
            "data": data,
        }
    )
    return out

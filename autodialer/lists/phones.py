"""Phone numbers from spreadsheet cells to E.164 (`+79061234567`), with the callee's time zones.

`8 (906) 123-45-67`, `+7 906 123 45 67`, `79061234567.0` (an Excel float) and `'79061234567`
all become `+79061234567` with default region RU. A cell is refused, with a reason, if it holds
anything but ASCII digits, spaces and `+ ( ) - .` (so `Action:` lines, `${...}`, `@ & /`,
control characters, non-ASCII digits and `=HYPERLINK(...)` formulas never reach a number).

phonenumbers decides what is valid. Because `phonenumbers.parse` + `is_valid_number` +
`time_zones_for_number` cost ~30 us a number, numbers of the default region in the usual shapes
take a fast path that applies phonenumbers' own metadata (the same patterns, in the same order)
with one combined regular expression; anything unusual goes through phonenumbers itself.
`tests/test_lists_phones.py` checks the two agree.

The callee's zones come from autodialer.zones (the Russian mobile registry, area codes, then
phonenumbers), given the region and number type found here: a `CalleeZones`, not a guess.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import PhoneNumberType as T
from phonenumbers.phonemetadata import PhoneMetadata

from autodialer.errors import UnsafeValueError
from autodialer.telephony.safety import check_dial_number
from autodialer.zones.lookup import CalleeZones, zones_for_number, zones_for_parts

MAX_PHONE_CELL = 64  # a cell longer than this is not one phone number
CACHE_LIMIT = 250_000  # cells remembered across chunks (repeats within a chunk are computed once anyway)
SCIENTIFIC = r"\s*[0-9]+([.,][0-9]+)?[eE]\+?[0-9]+\s*"  # how Excel shows a long number it rounded

_EXCEL_FLOAT = re.compile(r"'?\s*(\+?[0-9]+)\.0+\s*")
_ALLOWED = re.compile(r"'?[ \u00a0]*\+?[ \u00a0]*[0-9(][0-9 ()\-.\u00a0]*")  # ASCII digits only
_DIGITS = re.compile(r"\+?[0-9]+")
_STRIP = str.maketrans("", "", " ()-.\u00a0")

# Types in the order phonenumbers' _number_type_helper tests them.
_TYPE_DESCS = [
    ("premium_rate", T.PREMIUM_RATE),
    ("toll_free", T.TOLL_FREE),
    ("shared_cost", T.SHARED_COST),
    ("voip", T.VOIP),
    ("personal_number", T.PERSONAL_NUMBER),
    ("pager", T.PAGER),
    ("uan", T.UAN),
    ("voicemail", T.VOICEMAIL),
    ("fixed_line", T.FIXED_LINE),
    ("mobile", T.MOBILE),
]


_UNKNOWN, _FIXED_LINE = T.UNKNOWN, T.FIXED_LINE


def _no_match(_nsn: str) -> None:
    return None


def _desc_regex(desc) -> str | None:
    """phonenumbers' _is_number_matching_desc as one pattern: possible length, then full match."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = desc.possible_length or ()
    guard = f"(?=(?:{'|'.join(f'[0-9]{{{n}}}' for n in sorted(set(lengths)))})$)" if lengths else ""
    return f"{guard}(?:{desc.national_number_pattern})"


class _RegionTyper:
    """number_type() for one region's metadata, one regex call for the common case."""

    def __init__(self, meta):
        self.meta = meta
        self.leading = re.compile(meta.leading_digits) if meta.leading_digits else None
        general = _desc_regex(meta.general_desc)
        alts = []
        self.names = []
        for attr, ntype in _TYPE_DESCS:
            rx = _desc_regex(getattr(meta, attr))
            if rx is not None:
                alts.append(f"(?P<{attr}>{rx})")
                self.names.append((attr, ntype))
        self.types = dict(self.names)
        self.combined = re.compile(f"(?={general}$)(?:{'|'.join(alts)})$") if general and alts else None
        mobile = _desc_regex(meta.mobile)
        self.mobile = re.compile(mobile + "$") if mobile else None
        self.same_mobile_and_fixed = meta.same_mobile_and_fixed_line_pattern
        self._match = self.combined.match if self.combined is not None else _no_match

    def type_of(self, nsn: str):
        m = self._match(nsn)
        if m is None:
            return _UNKNOWN
        ntype = self.types[m.lastgroup]
        if ntype == _FIXED_LINE:
            if self.same_mobile_and_fixed or (self.mobile and self.mobile.match(nsn)):
                return T.FIXED_LINE_OR_MOBILE
        return ntype


def reject_reason(value: str) -> str:
    """Why a cell is not a phone number, in words a data team can act on."""
    if len(value) > MAX_PHONE_CELL:
        return f"too long for a phone number ({len(value)} characters)"
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return f"control character {ch!r} in a phone number"
    if value.lstrip("'").lstrip().startswith("="):
        return "a formula, not a phone number"
    for ch in value:
        if ch.isdigit() and not ("0" <= ch <= "9"):
            return f"non-ASCII digit {ch!r} ({unicodedata.name(ch, '?')}) in a phone number"
    if re.fullmatch(SCIENTIFIC, value):
        return "number in scientific notation (digits lost): format the column as text"
    for ch in value:
        if not (ch.isascii() and (ch.isdigit() or ch in " ()-.+'")) and ch != "\u00a0":
            return f"character {ch!r} is not allowed in a phone number"
    return "not a phone number"


class PhoneNormalizer:
    """Normalise cells for one default region. Results are cached by cell value."""

    def __init__(self, region: str):
        self.region = region.upper()
        meta = PhoneMetadata.metadata_for_region(self.region)
        if meta is None:
            raise ValueError(f"unknown region {region!r}")
        self.meta = meta
        self.cc = str(meta.country_code)
        self.general = re.compile(_desc_regex(meta.general_desc) + "$") if meta.general_desc.national_number_pattern else None
        self.general_pattern = re.compile(f"(?:{meta.general_desc.national_number_pattern})$")
        self.np = re.compile(meta.national_prefix_for_parsing) if meta.national_prefix_for_parsing else None
        self.np_simple = self.np is not None and not meta.national_prefix_transform_rule
        self.idd = re.compile(meta.international_prefix) if meta.international_prefix else None
        self.max_len = max(meta.general_desc.possible_length or (17,))
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, ())
        self.typers = [(r, _RegionTyper(PhoneMetadata.metadata_for_region(r))) for r in regions]
        # Bound methods for the per-cell path (_fast_nsn, _valid_type).
        self._g_match = self.general_pattern.match
        self._np_match = self.np.match if self.np is not None else None
        self._idd_match = self.idd.match if self.idd is not None else None
        self._plus_cc, self._plus_cc_len = "+" + self.cc, 1 + len(self.cc)
        self._single = (self.typers[0][0], self.typers[0][1].type_of) if len(self.typers) == 1 else None
        self._typed = [(r, t.leading.match if t.leading is not None else None, t.type_of) for r, t in self.typers]
        self.cache: dict[str, tuple[str | None, CalleeZones | None, str | None]] = {}
        self.fast_hits = 0
        self.slow_calls = 0

    # -- public ------------------------------------------------------------------------------

    def normalize(self, value: str) -> tuple[str | None, CalleeZones | None, str | None]:
        """(e164, the callee's zones, None) or (None, None, reason)."""
        hit = self.cache.get(value)
        if hit is None:
            hit = self.cache[value] = self._one(value)
        return hit

    def normalize_series(self, values: pd.Series) -> pd.DataFrame:
        """Columns e164, timezones, reason, aligned with `values` (factorised: each distinct value once)."""
        codes, uniques = pd.factorize(values, sort=False)
        cache, one = self.cache, self._one
        if len(cache) > CACHE_LIMIT:  # a million distinct numbers would hold ~200 MB: start afresh
            cache.clear()
        results = []
        for v in uniques.tolist():
            hit = cache.get(v)
            if hit is None:
                hit = cache[v] = one(v)
            results.append(hit)
        columns = {}
        for i, name in enumerate(("e164", "timezones", "reason")):
            column = np.empty(len(results), dtype=object)  # filled, not np.array(): no guessing at shapes
            column[:] = [r[i] for r in results]
            columns[name] = column.take(codes)
        return pd.DataFrame(columns, index=values.index, copy=False)

    # -- internals ---------------------------------------------------------------------------

    def _one(self, raw: str):
        value = raw.strip()
        if len(value) > MAX_PHONE_CELL:
            return None, None, reject_reason(value)
        # The common shapes without a regex. Each test is exact: _EXCEL_FLOAT needs a ".", and
        # what _ALLOWED lets through is ASCII, so isdigit() is _DIGITS's [0-9]+.
        if value.isdigit() and value.isascii():
            digits = value
        elif value[:1] == "+" and value[1:].isdigit() and value.isascii():  # what _ALLOWED + _STRIP would give
            digits = value
        elif "." in value and (m := _EXCEL_FLOAT.fullmatch(value)):
            digits = m.group(1)
        elif _ALLOWED.fullmatch(value):
            digits = value.lstrip("'").translate(_STRIP)
            if not (digits[1:] if digits[:1] == "+" else digits).isdigit():
                return None, None, "'+' can only start a phone number"
        else:
            return None, None, reject_reason(value)
        nsn = self._fast_nsn(digits)
        if nsn is not None and nsn[:1] != "0":
            typed = self._valid_type(nsn)
            if typed is not None:
                self.fast_hits += 1
                return f"+{self.cc}{nsn}", zones_for_parts(self.cc, nsn, *typed), None
        return self._slow(digits)

    def _g(self, s: str) -> bool:  # phonenumbers' _match_national_number(s, general_desc)
        return self.general_pattern.match(s) is not None

    def _np_ambiguous(self, nsn: str) -> bool:
        """True if phonenumbers might strip a national prefix from `nsn`: leave it to phonenumbers."""
        if self.np is None:
            return False
        m = self.np.match(nsn)
        return m is not None and (not self.np_simple or self._g(nsn[m.end():]) or not self._g(nsn))

    def _fast_nsn(self, d: str) -> str | None:
        """The national significant number phonenumbers would extract, for the shapes it is sure of.
        (Runs once a distinct cell: the patterns are bound to locals and _g/_np_ambiguous inlined.)"""
        g = self._g_match
        np_match = self._np_match
        if d[:1] == "+":
            if not d.startswith(self._plus_cc):
                return None
            nsn = d[self._plus_cc_len:]
            # _np_ambiguous(nsn), inlined
            if np_match is not None and (m := np_match(nsn)) is not None and (
                    not self.np_simple or g(nsn[m.end():]) is not None or g(nsn) is None):
                return None
            return nsn
        if self._idd_match is not None and self._idd_match(d):
            return None
        cc = self.cc
        if d.startswith(cc):
            rest = d[len(cc):]
            if np_match is not None and np_match(rest):
                return None
            if g(d) is None and g(rest) is not None:
                return rest
            if len(d) > self.max_len:
                return None
        if np_match is not None:
            m = np_match(d)
            if m is not None:
                if not self.np_simple:
                    return None
                rest = d[m.end():]
                if g(rest) is not None:
                    return rest
                return d if g(d) is not None else None
        return d

    def _valid_type(self, nsn: str):
        """is_valid_number() as phonenumbers decides it: (region, number type), or None."""
        if self._single is not None:
            region, type_of = self._single
            ntype = type_of(nsn)
            return None if ntype == _UNKNOWN else (region, ntype)
        for region, leading, type_of in self._typed:
            if leading is not None:
                if leading(nsn):
                    ntype = type_of(nsn)
                    return None if ntype == _UNKNOWN else (region, ntype)
            else:
                ntype = type_of(nsn)
                if ntype != _UNKNOWN:
                    return region, ntype
        return None

    def _slow(self, digits: str):
        self.slow_calls += 1
        try:
            num = phonenumbers.parse(digits, self.region)
        except phonenumbers.NumberParseException as exc:
            return None, None, f"not a phone number ({exc._msg})"
        if not phonenumbers.is_valid_number(num):
            return None, None, f"not a valid number for region {self.region} or its country code"
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        try:
            check_dial_number(e164, field="phone")
        except UnsafeValueError as exc:
            return None, None, str(exc)
        return e164, zones_for_number(num), None


def reference_normalize(value: str, region: str):
    """What phonenumbers alone says (for tests and the bench): (e164, the callee's zones from
    phonenumbers' own region and type of the number) or None."""
    value = value.strip()
    m = _EXCEL_FLOAT.fullmatch(value)
    if m:
        digits = m.group(1)
    elif _ALLOWED.fullmatch(value):
        digits = value.lstrip("'").translate(_STRIP)
        if not _DIGITS.fullmatch(digits):
            return None
    else:
        return None
    try:
        num = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), zones_for_number(num)

"""The callee's time zone(s) for a number: the zones whose calling window must all be open.

Russia (+7, region RU): a mobile (+7 9xx) by its registry range's subject (autodialer/zones/
registry.py), a landline by its area code's subject (autodialer/zones/subjects.py); a number
neither places (a nationwide range, an unassigned range, 8-800) gets every zone of the
federation. Kazakhstan (+7 7xx, region KZ): phonenumbers' zones for a landline, every Kazakh
zone for a mobile. Elsewhere: phonenumbers' zones for the number's prefix, else its country's.

Each answer says where it came from (`ZoneSource`), for the store and the compliance report.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from dataclasses import dataclass
from enum import Enum

import phonenumbers
from phonenumbers import PhoneNumberType as T
from phonenumbers import timezone as pn_timezone
from phonenumbers.phonenumberutil import _GEO_MOBILE_COUNTRIES

from autodialer.zones.registry import load_table
from autodialer.zones.subjects import all_zones, area_code_zones, zones_of

UNKNOWN = "Etc/Unknown"  # phonenumbers' "no idea"
# Kazakhstan's zones (IANA zone1970.tab, KZ); one offset (UTC+5) since 2024-03-01.
KAZAKH_ZONES = ("Asia/Almaty", "Asia/Qostanay", "Asia/Qyzylorda", "Asia/Aqtobe", "Asia/Aqtau", "Asia/Atyrau", "Asia/Oral")
_GEOGRAPHIC = frozenset({T.FIXED_LINE, T.FIXED_LINE_OR_MOBILE})


class ZoneSource(str, Enum):
    REGISTRY = "registry"  # the subject of the number's range in the mobile registry
    AREA_CODE = "area_code"  # the subject of a Russian landline's area code
    PHONENUMBERS = "phonenumbers"  # phonenumbers' zones for the number's prefix
    COUNTRY = "country"  # only the country is known: every zone it has


@dataclass(frozen=True)
class CalleeZones:
    zones: tuple[str, ...]  # every zone the callee may be in; empty: none known
    source: ZoneSource | None
    region: str | None = None  # subject code(s) joined by '+' (Russia), or the country (ISO 3166-1)

    @property
    def narrowed(self) -> bool:
        """One zone: the window is evaluated where the callee is, not in the worst of several."""
        return len(self.zones) == 1

    @functools.cached_property  # answers are shared by many numbers: made once
    def stored(self) -> tuple[str | None, str | None]:
        """(contacts.timezone, contacts.timezone_source) for this answer."""
        return self.text, (self.source.value if self.source else None)

    @functools.cached_property
    def text(self) -> str | None:
        """As stored in contacts.timezone: the zones separated by one space."""
        return " ".join(self.zones) or None


def parse_stored(text: str | None) -> tuple[str, ...]:
    """contacts.timezone back to the zones (the inverse of CalleeZones.text)."""
    return tuple(text.split()) if text else ()


def _pn_prefix_zones(e164_digits: str) -> tuple[str, ...] | None:
    data = pn_timezone.TIMEZONE_DATA
    for n in range(min(pn_timezone.TIMEZONE_LONGEST_PREFIX, len(e164_digits)), 0, -1):
        zones = data.get(e164_digits[:n])
        if zones is not None:
            return tuple(z for z in zones if z != UNKNOWN) or None
    return None


@functools.lru_cache(maxsize=512)
def _country_zones(cc: int, region: str | None) -> tuple[str, ...]:
    if region == "RU":
        return all_zones()
    if region == "KZ":
        return KAZAKH_ZONES
    zones = pn_timezone._country_level_time_zones_for_number(phonenumbers.PhoneNumber(country_code=cc, national_number=0))
    return tuple(z for z in zones if z != UNKNOWN)




@functools.lru_cache(maxsize=1024)
def _answer(codes: tuple[str, ...], source: ZoneSource, zones: tuple[str, ...] | None = None) -> CalleeZones:
    """One shared answer per subject(s): a million contacts hold a few hundred of them."""
    return CalleeZones(zones if zones is not None else zones_of(codes), source, "+".join(codes))


_REGISTRY = None
_MIXED = object()  # a block of 10,000 numbers holding several ranges (or a part of one): bisect
BLOCK = 6  # digits of the national number that name a block (DEF code + 3)


def _registry():
    """The shipped range table, made fast: each block of 10,000 numbers that one range covers
    whole maps straight to its answer (97% of the blocks in use), the others to a bisect."""
    global _REGISTRY
    table = load_table()
    if _REGISTRY is None or _REGISTRY[0] is not table:
        answers = [_answer(codes, ZoneSource.REGISTRY) for codes in table.subjects]
        size = 10 ** (10 - BLOCK)
        blocks: dict[str, object] = {}
        for lo, hi, answer in zip(table.firsts, table.lasts, answers):
            for b in range(lo // size, hi // size + 1):
                whole = lo <= b * size and (b + 1) * size - 1 <= hi
                key = str(b)
                blocks[key] = answer if whole and key not in blocks else _MIXED
        _REGISTRY = (table, blocks, table.firsts, table.lasts, answers)
    return _REGISTRY


def _mobile(nsn: str) -> CalleeZones | None:
    _table, blocks, firsts, lasts, answers = _REGISTRY or _registry()
    hit = blocks.get(nsn[:BLOCK])
    if hit is None:
        return None
    if hit is not _MIXED:
        return hit
    n = int(nsn)
    i = bisect_right(firsts, n) - 1
    return answers[i] if i >= 0 and n <= lasts[i] else None


def zones_for_parts(cc: str, nsn: str, region: str | None, ntype) -> CalleeZones:
    """The zones of a valid number given as country code, national significant number, the
    region phonenumbers assigns it and its number type (what the list normaliser already has)."""
    if cc == "7" and region == "RU":
        if nsn[:1] == "9":
            hit = _mobile(nsn) if len(nsn) == 10 else None
            if hit is not None:
                return hit
        elif ntype in _GEOGRAPHIC:
            hit = area_code_zones(nsn)
            if hit is not None:
                return _answer((hit[0],), ZoneSource.AREA_CODE, hit[1])
        return _answer(("RU",), ZoneSource.COUNTRY)
    if cc == "7" and region == "KZ":
        if ntype in _GEOGRAPHIC:
            zones = _pn_prefix_zones(cc + nsn)
            zones = tuple(z for z in zones or () if z in KAZAKH_ZONES)
            if zones:
                return CalleeZones(zones, ZoneSource.PHONENUMBERS, "KZ")
        return CalleeZones(KAZAKH_ZONES, ZoneSource.COUNTRY, "KZ")
    geographic = ntype in _GEOGRAPHIC or (ntype == T.MOBILE and int(cc) in _GEO_MOBILE_COUNTRIES)
    if geographic:
        zones = _pn_prefix_zones(cc + nsn)
        if zones:
            return CalleeZones(zones, ZoneSource.PHONENUMBERS, region)
    zones = _country_zones(int(cc), region)
    return CalleeZones(zones, ZoneSource.COUNTRY if zones else None, region)


def zones_for_number(num: phonenumbers.PhoneNumber) -> CalleeZones:
    """zones_for_parts for a parsed, valid phonenumbers number."""
    return zones_for_parts(
        str(num.country_code), phonenumbers.national_significant_number(num),
        phonenumbers.region_code_for_number(num), phonenumbers.number_type(num),
    )


@functools.lru_cache(maxsize=65536)
def callee_zones(e164: str) -> CalleeZones:
    """The zones of a stored E.164 number (`+79141234567`); none for a number that does not parse."""
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return CalleeZones((), None, None)
    return zones_for_number(num)

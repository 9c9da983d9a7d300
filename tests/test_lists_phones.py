"""Phone normalisation: the shapes data teams send, hostile cells, and agreement with phonenumbers."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.lists.phones import PhoneNormalizer, reference_normalize
from autodialer.zones import callee_zones
from autodialer.telephony.safety import check_dial_number


@pytest.mark.parametrize(
    "cell",
    ["8 (906) 123-45-67", "+7 906 123 45 67", "79061234567.0", "'79061234567", "79061234567", "9061234567",
     " 8-906-123-45-67 ", "+7(906)1234567", "8.906.123.45.67"],
)
def test_the_shapes_from_the_issue_become_e164(cell):
    e164, zones, reason = PhoneNormalizer("RU").normalize(cell)
    assert (e164, reason) == ("+79061234567", None)
    assert zones.zones == ("Europe/Moscow",) and zones.source.value == "registry"  # 906 123: a Tatarstan range


@pytest.mark.parametrize(
    "cell, words",
    [
        ("Action: Originate", "character 'A'"),
        ("7906\r\n1234567", "control character '\\r'"),
        ("7906${X}", "character '$'"),
        ("79061234567@evil", "character '@'"),
        ("79061234567&SIP/x", "character '&'"),
        ("790612/34567", "character '/'"),
        ("٧٩٠٦١٢٣٤٥٦٧", "non-ASCII digit"),
        ("７９０６１２３４５６７", "non-ASCII digit"),  # fullwidth digits
        ("=HYPERLINK(\"tel:79061234567\")", "formula"),
        ("7.90612E+10", "scientific notation"),
        ("9" * 300, "too long"),
        ("12345", "not a valid number"),
        ("+7 906 123+45 67", "not a phone number"),
        ("\u202e79061234567", "control character"),  # right-to-left override (Cf)
    ],
)
def test_hostile_cells_are_refused_with_a_reason(cell, words):
    e164, zones, reason = PhoneNormalizer("RU").normalize(cell)
    assert e164 is None and zones is None
    assert words in reason


def test_other_regions_and_country_codes():
    assert PhoneNormalizer("US").normalize("(212) 736-5000")[0] == "+12127365000"
    assert PhoneNormalizer("RU").normalize("+44 20 7946 0958")[0] == "+442079460958"
    assert PhoneNormalizer("RU").normalize("+44 20 7946 0958")[1].zones == ("Europe/London",)
    # Kazakhstan shares +7: a 7xx number is valid (for KZ) with default region RU.
    assert PhoneNormalizer("RU").normalize("87012345678")[0] == "+77012345678"


def test_time_zone_of_a_fixed_line_is_its_city():
    e164, zones, _ = PhoneNormalizer("RU").normalize("8 (343) 212-34-56")  # Yekaterinburg
    assert zones.zones == ("Asia/Yekaterinburg",) and callee_zones(e164) == zones


def _random_cell(rng: random.Random) -> str:
    body = rng.choice(["906", "495", "343", "800", "701", "771", "336", "383", "999", "812", "501", "123", "050", "700"])
    body += "".join(rng.choice("0123456789") for _ in range(rng.choice([5, 6, 7, 7, 7, 8])))
    shape = rng.choice(["+7{}", "7{}", "8{}", "{}", "8 ({})", "+7 {}", "{}.0", "7{}.0", "'8{}", "+8{}", "810{}",
                        "78{}", "+78{}", "88{}", "+1{}", "1{}", "+44{}", "+380{}", "+77{}", "0{}", "00{}"])
    return shape.format(body)


@pytest.mark.parametrize("region", ["RU", "KZ", "US", "GB", "DE", "UA"])
def test_fast_path_agrees_with_phonenumbers(region):
    """The fast path re-implements phonenumbers' validity for the default country code: on 4,000
    mixed cells it must give exactly phonenumbers' answer (number and time zones)."""
    rng = random.Random(region)
    normalizer = PhoneNormalizer(region)
    for _ in range(4000):
        cell = _random_cell(rng)
        e164, zones, _reason = normalizer.normalize(cell)
        assert (None if e164 is None else (e164, zones)) == reference_normalize(cell, region), cell
    assert normalizer.fast_hits > 100  # the comparison did exercise the fast path


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=30))
def test_whatever_the_cell_the_result_is_dialable_or_a_reason(cell):
    e164, _zones, reason = PhoneNormalizer("RU").normalize(cell)
    if e164 is None:
        assert reason
    else:
        assert check_dial_number(e164) == e164


def test_normalize_series_aligns_with_the_input():
    values = pd.Series(["89061234567", "bad", "89061234567", "+7 906 123 45 68"], index=[10, 11, 12, 13])
    out = PhoneNormalizer("RU").normalize_series(values)
    assert list(out.index) == [10, 11, 12, 13]
    assert [v if isinstance(v, str) else None for v in out["e164"]] == ["+79061234567", None, "+79061234567", "+79061234568"]
    assert out["reason"].notna().tolist() == [False, True, False, False]

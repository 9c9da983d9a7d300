"""Reading lists (encodings, delimiters, title rows, XLSX) and the campaign's list settings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from autodialer.errors import ConfigError
from autodialer.lists.errors import ListFileError
from autodialer.campaigns.campaign import load_campaign
from autodialer.lists.mapping import ListMapping
from autodialer.lists.phones import PhoneNormalizer
from autodialer.lists.prepare import numbers_of, prepare_chunk
from autodialer.lists.reading import ROW, detect_encoding, open_list

LISTS = Path(__file__).parent / "fixtures" / "lists"
RU_MAPPING = ListMapping(phone_columns=["Телефон", "Телефон 2"], variables={"CUSTOMER": "ФИО", "ORDER_ID": {"column": "Заказ", "kind": "token"}, "ORDER_TEXT": "Состав"})
EN_MAPPING = ListMapping(phone_columns=["phone", "phone2"], variables={"CUSTOMER": "name", "ORDER_ID": {"column": "order_id", "kind": "token"}, "ORDER_TEXT": "items"})


def _frame(path, mapping):
    lf = open_list(path, mapping)
    chunks = list(lf.chunks())
    return lf, chunks[0] if len(chunks) == 1 else None


def test_cp1251_semicolon_with_title_rows():
    path = LISTS / "orders_cp1251_semicolon.csv"
    assert detect_encoding(path) == "cp1251"
    lf, frame = _frame(path, RU_MAPPING)
    assert (lf.encoding, lf.delimiter, lf.header_row) == ("cp1251", ";", 3)
    assert lf.columns == ["ФИО", "Телефон", "Телефон 2", "Заказ", "Состав"]
    assert frame.loc[0, "ФИО"] == "Иванов Иван" and frame.loc[0, ROW] == 4
    assert frame[ROW].tolist() == list(range(4, 19))


def test_utf8_bom_crlf_and_quoted_line_breaks_keep_spreadsheet_row_numbers():
    path = LISTS / "orders_utf8_bom.csv"
    assert detect_encoding(path) == "utf-8-sig"
    lf, frame = _frame(path, EN_MAPPING)
    assert (lf.delimiter, lf.header_row) == (",", 1)
    assert lf.columns[0] == "name"  # no BOM glued to the first header
    vera = frame[frame["name"] == "Vera"].iloc[0]
    assert vera[ROW] == 4 and vera["phone"] == "8 906 200 00 02; 8 906 200 00 03"


def test_xlsx_title_row_numbers_and_formulas_as_text():
    lf, frame = _frame(LISTS / "orders_title_row.xlsx", EN_MAPPING)
    assert lf.header_row == 3
    by_name = frame.set_index("name")
    assert by_name.loc["Lev", "phone"] == "79063000001"
    assert by_name.loc["Mila", "phone"] == "79063000002"  # a whole float is stored as "79063000002" in the XML
    assert by_name.loc["Oleg", "phone"].startswith("=HYPERLINK(")  # the formula, never its result
    assert by_name.loc["Pavel", "order_id"] == "1234"
    assert by_name.loc["Lev", ROW] == 4


def test_xlsx_sheet_by_name_and_index(tmp_path):
    lf = open_list(LISTS / "orders_title_row.xlsx", ListMapping(phone_columns=["phone"], sheet="Other"))
    assert lf.header_row == 1
    with pytest.raises(ListFileError, match="no sheet 'Missing'"):
        open_list(LISTS / "orders_title_row.xlsx", ListMapping(sheet="Missing"))
    with pytest.raises(ListFileError, match="sheet index 5 out of range"):
        open_list(LISTS / "orders_title_row.xlsx", ListMapping(sheet=5))


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("name,tel\nA,89061234567\n", encoding="utf-8")
    with pytest.raises(ListFileError, match=r"no header row with column\(s\) phone"):
        open_list(path, ListMapping())
    with pytest.raises(ListFileError, match=r"column\(s\) phone not in the header \(row 1: name, tel\)"):
        open_list(path, ListMapping(header_row=1))


def test_explicit_delimiter_and_encoding(tmp_path):
    path = tmp_path / "l.tsv"
    path.write_bytes("Телефон\tИмя\n89061234567\tЖанна\n".encode("cp1251"))
    lf, frame = _frame(path, ListMapping(phone_columns=["Телефон"], delimiter="\\t", encoding="windows-1251"))
    assert frame.loc[0, "Имя"] == "Жанна"


def test_prepare_counts_and_reasons_for_the_cp1251_list():
    lf = open_list(LISTS / "orders_cp1251_semicolon.csv", RU_MAPPING)
    prep = prepare_chunk(next(lf.chunks()), RU_MAPPING, PhoneNormalizer("RU"), lf.columns)
    assert (prep.read, prep.blank, len(prep.rejects), len(prep.notes)) == (13, 2, 7, 1)
    good = prep.good.set_index("row")
    assert json.loads(good.loc[6, "alternates"]) == ["+79061234569", "+79061234570"]
    assert numbers_of(good.loc[6, "phone"], good.loc[6, "alternates"]) == ["+79061234568", "+79061234569", "+79061234570"]
    assert good.loc[4, "alternates"] == "[]"
    assert good.loc[4, "phone"] == good.loc[5, "phone"] == "+79061234567"  # dedupe is the store's job
    reasons = {row: (col, reason) for row, col, _value, reason in prep.rejects}
    assert reasons[12][0] == "Состав" and "dialplan expressions" in reasons[12][1]
    assert reasons[13] == ("Телефон, Телефон 2", "no phone number")
    assert prep.notes[0][:3] == (16, "Телефон 2", "abc")


BASE_CAMPAIGN = ("schedule: {cron: '0 9 * * *'}\ndestination: {type: robot}\n")


def test_campaign_list_settings(tmp_path):
    (tmp_path / "dnc.csv").write_text("phone\n", encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: oc\nkind: order_confirmation\ndefault_region: ru\n" + BASE_CAMPAIGN +
        "list:\n  phone_columns: [phone, phone2]\n  variables: {ORDER_ID: order_id}\n"
        "exclusions: [dnc.csv]\n",
        encoding="utf-8",
    )
    s = load_campaign(path).list_settings()
    assert (s.name, s.kind, s.default_region) == ("oc", "order_confirmation", "RU")
    assert s.list.phone_columns == ["phone", "phone2"] and s.list.columns() == {"ORDER_ID": "order_id"}
    assert s.list.variables["ORDER_ID"].spec().name == "digits"  # the short form's default for ORDER_ID
    assert s.exclusions == [tmp_path / "dnc.csv"]  # resolved next to the campaign file


@pytest.mark.parametrize(
    "yaml_text, words",
    [
        ("kind: order_confirmation\n", "name: Field required"),
        ("name: x\nkind: bot\ndefault_region: XX\n", "default_region: 'XX' is not a region"),
        ("name: x\nkind: bot\nlist: {variables: {'BAD NAME': col}}\n", "list.variables: variable name: 'BAD NAME'"),
        ("name: x\nkind: bot\nlist: {variables: {QUEUE: q}}\n",
         "list.variables: variable QUEUE (column 'q'): QUEUE is set by the campaign's destination"),  # autodialer import too
        ("name: x\nkind: bot\nlist: {variables: {ORDER_ID: {column: o, kind: enum}}}\n", "an enum kind needs its values"),
        ("name: x\nkind: bot\nlist: {variables: {ORDER_ID: {column: o, default: A1}}}\n", "ORDER_ID (column 'o'): default"),
        ("name: x\nkind: bot\nlist: {phone_columns: []}\n", "list.phone_columns"),
        ("name: x\nkind: bot\nlist: {delimiter: ';;'}\n", "list.delimiter"),
        ("name: x\nkind: bot\nlist: {encoding: no-such-codec}\n", "list.encoding"),
        ("name: x\nkind: bot\nlist: {phones: [a]}\n", "list.phones: Extra inputs are not permitted"),
        ("- a\n- b\n", "a campaign file is a mapping"),
    ],
)
def test_bad_campaign_file_names_the_field(tmp_path, yaml_text, words):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text if yaml_text.startswith("-") else yaml_text + BASE_CAMPAIGN, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_campaign(path)
    assert words in str(err.value) and str(path) in str(err.value)


def test_optional_columns_and_defaults(tmp_path):
    """A variable with `optional: true` or a default may be absent from the list; a default fills
    the rows of a list without the column and the empty cells of one with it."""
    mapping = ListMapping(variables={"SIM_PRESS": {"column": "sim_press", "optional": True},
                                     "ORDER_ID": {"column": "order_id", "default": "0"},
                                     "CUSTOMER": "name"})
    assert mapping.required_columns() == ["phone", "name"]
    path = tmp_path / "real.csv"
    path.write_text("Phone,Name\n89061234567,Anna\n", encoding="utf-8")
    lf = open_list(path, mapping)
    prep = prepare_chunk(next(lf.chunks()), mapping, PhoneNormalizer("RU"), lf.columns)
    assert json.loads(prep.good["variables"][0]) == {"ORDER_ID": "0", "CUSTOMER": "Anna"}  # no SIM_PRESS at all
    path.write_text("phone,name,SIM_PRESS,order_id\n89061234567,Anna,3,\n89061234568,Boris,,42\n", encoding="utf-8")
    lf = open_list(path, mapping)
    assert "sim_press" in lf.columns  # respelled to the mapping's name, like a required column
    prep = prepare_chunk(next(lf.chunks()), mapping, PhoneNormalizer("RU"), lf.columns)
    assert [json.loads(v) for v in prep.good["variables"]] == [
        {"SIM_PRESS": "3", "ORDER_ID": "0", "CUSTOMER": "Anna"}, {"SIM_PRESS": "", "ORDER_ID": "42", "CUSTOMER": "Boris"}]
    # A role (an enum with its own default for empty cells) stays required unless declared optional.
    assert ListMapping(variables={"CONF_ROLE": "role"}).required_columns() == ["phone", "role"]


def test_shifted_csv_rows_are_rejected_not_fatal(tmp_path):
    path = tmp_path / "shifted.csv"
    path.write_text("name,phone,order_id\nIvanov, Ivan,89061234567,A1\nPetrov,89061234568,A2,,\nSidorov,89061234569\n", encoding="utf-8")
    mapping = ListMapping(variables={"ORDER_ID": {"column": "order_id", "kind": "token"}})
    lf = open_list(path, mapping)
    prep = prepare_chunk(next(lf.chunks()), mapping, PhoneNormalizer("RU"), lf.columns)
    assert prep.rejects == [(2, "(beyond the header)", "A1", "row has 4 cells, the header 3: shifted columns?")]
    # Trailing empty cells are harmless; a short row has empty cells.
    assert prep.good["row"].tolist() == [3, 4]
    assert prep.good["variables"].tolist() == ['{"ORDER_ID":"A2"}', '{"ORDER_ID":""}']
    too_wide = tmp_path / "wide.csv"
    too_wide.write_text("phone\n89061234567" + ",x" * 20 + "\n", encoding="utf-8")
    with pytest.raises(ListFileError, match="more than 8 cells beyond the header"):
        list(open_list(too_wide, ListMapping()).chunks())


def test_variable_screen_never_misses_what_the_safety_check_refuses():
    """prepare's column screen relies on str.isprintable() being False for every character
    check_dialplan_variable refuses; and flags the rows the check then refuses."""
    import sys
    import unicodedata

    from autodialer.lists.prepare import _flag_unsafe

    refused = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp")]
    assert refused and not any(ch.isprintable() for ch in refused)
    values = ["fine", "Ёжик", "no\u00a0break", "a\u200bb", "x${Y}", "$", "{", "z" * 300, "tab\t"]
    assert _flag_unsafe("NAME", values) == [3, 4, 7, 8]  # "$" then "{" in the next cell is not "${" in one
    assert _flag_unsafe("NAME", ["plain", "text"]) == []
    # Lengths are screened by a bound no value within it can pass in bytes (4 a character at worst).
    from autodialer.errors import UnsafeValueError
    from autodialer.telephony.safety import check_dialplan_variable, variable_screen_chars

    screen = variable_screen_chars("NAME")
    for ch in ("z", ",", "ж", "😀", ";"):
        fits = ch * screen
        assert _flag_unsafe("NAME", [fits]) == [] and check_dialplan_variable("NAME", fits)
    with pytest.raises(UnsafeValueError):
        check_dialplan_variable("NAME", "😀" * (screen + 1))
    assert _flag_unsafe("NAME", ["😀" * (screen + 1)]) == [0]


def _reference_scan(data: bytes, window: int):
    """What reading._scan_lines must say, the slow obvious way."""
    lines = data.split(b"\n") if data else []
    if data.endswith(b"\n"):
        lines = lines[:-1]
    lengths = [len(line) for line in lines]
    longest = max(lengths, default=0)
    longest_line = lengths.index(longest) + 1 if lengths else 0
    with_nl = [n + 1 for n in lengths]
    widest = max((sum(with_nl[i:i + window]) for i in range(len(with_nl) - window + 1)), default=0)
    odd = any(line.count(b'"') % 2 for line in lines)
    return longest, longest_line, widest, odd


@pytest.mark.parametrize("seed", range(60))
def test_line_scan_matches_reference(tmp_path, seed):
    """The numpy line scan, across its blocks (here 7 bytes, so lines and quotes straddle them),
    agrees with a plain Python split on longest line, widest window and odd quote counts."""
    import random

    from autodialer.lists import reading

    rng = random.Random(seed)
    data = b"".join(rng.choice([b"a", b'"', b"\n", b"xy,", b"\r\n", b'""']) for _ in range(rng.randint(0, 60)))
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    window = rng.randint(1, 4)
    scan = reading._scan_lines(path, window, block=7)
    assert (scan.longest, scan.longest_line, scan.widest_window, scan.odd_quotes) == _reference_scan(data, window), data


def test_chunks_bounded_by_characters_without_the_csv_pass(tmp_path):
    """Rows long enough that CHUNK_ROWS of them exceed CHUNK_CHARS still come in smaller chunks
    (the fast scan sees it and leaves the sizing to the csv pass)."""
    from autodialer.lists import reading

    path = tmp_path / "wide.csv"
    row = "79061234567," + "x" * 2000 + "\n"
    path.write_text("phone,items\n" + row * 20_000)
    mapping = ListMapping(phone_columns=["phone"], variables={"ORDER_TEXT": "items"})
    sizes = [len(c) for c in open_list(path, mapping, chunk_rows=20_000).chunks()]
    assert sum(sizes) == 20_000 and max(sizes) * (len(row) - 2) <= reading.CHUNK_CHARS < max(sizes) * len(row), sizes  # cell characters
    plain = tmp_path / "plain.csv"
    plain.write_text("phone,items\n" + "79061234567,x\n" * 30_000)
    assert reading._csv_chunk_sizes(plain, "utf-8", ",", ["phone", "items"], 0, 10_000) == []
    assert [len(c) for c in open_list(plain, mapping, chunk_rows=10_000).chunks()] == [10_000] * 3


def test_variables_json_keeps_every_character(tmp_path):
    """The variables' JSON (built a value at a time by the json module's C escaper) parses back to
    the cells as read, in the mapping's order: quotes, backslashes, slashes, braces, non-ASCII. A
    NUL (which jsonb cannot hold; text variables refuse it, see autodialer.safety) becomes U+FFFD."""
    cells = ['a "quoted" \\ back/slash', "{x} {{y}} %s {0} }{", "Привет 😀 ∑", "'single' <tag> &amp;", ""]
    path = tmp_path / "tricky.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["phone", "note", "name"], *([f"8906123456{i}", c, f"n{i}"] for i, c in enumerate(cells))])
    mapping = ListMapping(variables={"NOTE": "note", "CUSTOMER": "name"})
    lf = open_list(path, mapping)
    prep = prepare_chunk(next(lf.chunks()), mapping, PhoneNormalizer("RU"), lf.columns)
    assert prep.rejects == []
    assert [json.loads(v) for v in prep.good["variables"]] == [{"NOTE": c, "CUSTOMER": f"n{i}"} for i, c in enumerate(cells)]
    assert [list(json.loads(v)) for v in prep.good["variables"]] == [["NOTE", "CUSTOMER"]] * len(cells)
    one = ListMapping(variables={"NOTE": "note"})
    lf = open_list(path, one)
    prep = prepare_chunk(next(lf.chunks()), one, PhoneNormalizer("RU"), lf.columns)
    assert [json.loads(v) for v in prep.good["variables"]] == [{"NOTE": c} for c in cells]
    from autodialer.lists.prepare import _json_lines
    assert [json.loads(v) for v in _json_lines({"A{0}": ["n\x00l", "\t\x1f"], "B": ["x", "y"]})] == [
        {"A{0}": "n\ufffdl", "B": "x"}, {"A{0}": "\t\x1f", "B": "y"}]

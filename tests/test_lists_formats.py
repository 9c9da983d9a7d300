"""Inputs people actually send, each made by its real writer: UTF-16 tab text (Excel's "Unicode
text"), any encoding Python knows (list.encoding), .xls (xlwt) and .ods (pandas' ODF writer) read
by python-calamine, XLSX dates as ISO dates, and Latin-1 told apart from cp1251 (with the
detection reported and how sure it is)."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pandas as pd
import pytest
import xlwt

from autodialer.lists.mapping import ListMapping
from autodialer.lists.phones import PhoneNormalizer
from autodialer.lists.prepare import prepare_chunk
from autodialer.lists.reading import detect_encoding_note, open_list

MAPPING = ListMapping(phone_columns=["phone"], variables={"CUSTOMER": "name", "DELIVERY_DATE": "delivery_date"})
ROWS = [("+7 906 123 45 17", "Анна Петрова", dt.date(2026, 12, 1)), ("89061234521", "José Müller", dt.date(2026, 12, 2))]


def read(path, mapping=MAPPING):
    lf = open_list(path, mapping)
    chunk = next(lf.chunks())
    prep = prepare_chunk(chunk, mapping, PhoneNormalizer("RU"), lf.columns)
    return lf, [(p, json.loads(v)) for p, v in zip(prep.good["phone"], prep.good["variables"])]


EXPECTED = [("+79061234517", {"CUSTOMER": "Анна Петрова", "DELIVERY_DATE": "2026-12-01"}),
            ("+79061234521", {"CUSTOMER": "José Müller", "DELIVERY_DATE": "2026-12-02"})]


def test_utf16_unicode_text_as_excel_saves_it(tmp_path):
    path = tmp_path / "list.txt"
    text = "phone\tname\tdelivery_date\r\n" + "".join(f"{p}\t{n}\t{d.isoformat()}\r\n" for p, n, d in ROWS)
    path.write_bytes(text.encode("utf-16"))  # Python's UTF-16 codec: BOM + little-endian, as Excel writes it
    lf, got = read(path)
    assert (lf.encoding, lf.delimiter) == ("utf-16", "\t") and "byte-order mark" in lf.encoding_note
    assert got == EXPECTED
    path.write_bytes(text.encode("utf-16-le"))  # no BOM
    lf, got = read(path)
    assert lf.encoding == "utf-16-le" and got == EXPECTED


def test_any_encoding_python_knows(tmp_path):
    path = tmp_path / "koi8.csv"
    path.write_bytes("phone;name;delivery_date\n89061234567;Иван;2026-12-01\n".encode("koi8-r"))
    lf, got = read(path, MAPPING.model_copy(update={"encoding": "koi8-r"}))
    assert got[0][1]["CUSTOMER"] == "Иван" and lf.encoding_note == "list.encoding"
    with pytest.raises(ValueError, match="not an encoding Python knows"):
        ListMapping(encoding="klingon")


def test_latin1_is_not_read_as_cp1251_and_the_detection_says_how_sure(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("phone;name;delivery_date\n89061234567;José Müller;2026-12-01\n89061234568;François Lefèvre;2026-12-02\n"
                      .encode("latin-1"))
    encoding, note = detect_encoding_note(latin)
    assert encoding == "cp1252" and note.endswith("4 of 4 words with letters beyond ASCII read as Latin-1 (sure)"), note
    lf, got = read(latin)
    assert got[0][1]["CUSTOMER"] == "José Müller" and got[1][1]["CUSTOMER"] == "François Lefèvre"
    russian = tmp_path / "ru.csv"
    russian.write_bytes("phone;name;delivery_date\n89061234567;Иван Петров;2026-12-01\n".encode("cp1251"))
    encoding, note = detect_encoding_note(russian)
    assert encoding == "cp1251" and "2 of 2 words" in note and "Cyrillic" in note
    assert read(russian)[1][0][1]["CUSTOMER"] == "Иван Петров"


def test_xls_written_by_xlwt(tmp_path):
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Orders")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for c, h in enumerate(["phone", "name", "delivery_date"]):
        ws.write(1, c, h)  # a title row above the header
    ws.write(0, 0, "Orders for December")
    for r, (p, n, d) in enumerate(ROWS, start=2):
        ws.write(r, 0, p if r == 2 else 79061234521)  # the second phone typed as a number
        ws.write(r, 1, n)
        ws.write(r, 2, dt.datetime.combine(d, dt.time()), date_style)
    path = tmp_path / "list.xls"
    wb.save(str(path))
    lf, got = read(path)
    assert (lf.sheet, lf.header_row) == ("Orders", 2)
    assert got == EXPECTED


def test_ods_written_by_pandas(tmp_path):
    path = tmp_path / "list.ods"
    frame = pd.DataFrame({"phone": [r[0] for r in ROWS], "name": [r[1] for r in ROWS],
                          "delivery_date": [r[2] for r in ROWS]})
    frame.to_excel(path, engine="odf", index=False, sheet_name="Orders")
    lf, got = read(path)
    assert lf.sheet == "Orders" and got == EXPECTED


def test_xlsx_dates_are_iso_dates(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["phone", "name", "delivery_date"])
    ws.append([ROWS[0][0], ROWS[0][1], dt.datetime(2026, 12, 1)])
    ws.append([ROWS[1][0], ROWS[1][1], dt.date(2026, 12, 2)])
    ws.append(["89061234599", "with time", dt.datetime(2026, 12, 3, 14, 30)])
    path = tmp_path / "d.xlsx"
    wb.save(path)
    lf, got = read(path)
    assert got[:2] == EXPECTED and got[2][1]["DELIVERY_DATE"] == "2026-12-03 14:30:00"

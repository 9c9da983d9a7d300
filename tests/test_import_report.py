"""What an import tells the data team: --dry-run (detected layout, mapping, five mapped rows,
nothing written), the rejects by reason, --rejects FILE (reopened with openpyxl and pandas), and
a header not found (the closest row, the near-miss names). Real files, real PostgreSQL, the CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from autodialer.lists.errors import ListFileError
from autodialer.lists.mapping import ListMapping
from autodialer.lists.reading import open_list

ROOT = Path(__file__).resolve().parents[1]
LISTS = ROOT / "tests" / "fixtures" / "lists"
CAMPAIGN = """name: orders
kind: order_confirmation
list:
  phone_columns: [phone, phone2]
  variables: {CUSTOMER: name, ORDER_ID: {column: order_id, kind: token}, ORDER_TEXT: items}
schedule: {cron: '0 9 * * *'}
destination: {type: robot}
"""


def cli(*args: str, db_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTODIALER_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autodialer", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.fixture
def campaign(tmp_path) -> Path:
    path = tmp_path / "orders.yaml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    return path


RU_LIST = ("phone_columns: [Телефон, Телефон 2]",
           "variables: {CUSTOMER: ФИО, ORDER_ID: {column: Заказ, kind: token}, ORDER_TEXT: Состав}")


def test_dry_run_prints_what_it_found_and_writes_nothing(tmp_path):
    campaign = tmp_path / "ru.yaml"
    campaign.write_text(CAMPAIGN.replace("phone_columns: [phone, phone2]", RU_LIST[0]).replace(
        "variables: {CUSTOMER: name, ORDER_ID: {column: order_id, kind: token}, ORDER_TEXT: items}", RU_LIST[1]),
        encoding="utf-8")
    db = tmp_path / "never.db"
    proc = cli("import", str(campaign), str(LISTS / "orders_cp1251_semicolon.csv"), "--dry-run", db_url=f"sqlite:///{db}")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "dry run, nothing is written" in out
    assert "detected: encoding cp1251" in out and "delimiter ';'" in out and "header row 3" in out
    assert "phone <- Телефон, Телефон 2" in out and "ORDER_ID <- Заказ (token, sent)" in out
    mapped = [line for line in out.splitlines() if line.startswith("  row ")]
    assert len(mapped) == 5 and all("+7" in line or "+44" in line for line in mapped)
    assert "rejected" in out
    assert not db.exists()  # no database touched


def test_dry_run_of_an_xlsx_names_the_sheet_and_the_title_rows(tmp_path, campaign):
    proc = cli("import", str(campaign), str(LISTS / "orders_title_row.xlsx"), "--dry-run", db_url=f"sqlite:///{tmp_path}/x.db")
    assert proc.returncode == 0, proc.stderr
    assert "detected: sheet " in proc.stdout and "header row 3" in proc.stdout, proc.stdout


@pytest.mark.postgres
@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_import_prints_rejects_by_reason_and_writes_the_rejects_file(tmp_path, campaign, pg_url, suffix):
    out = tmp_path / f"rejects{suffix}"
    proc = cli("import", str(campaign), str(LISTS / "orders_utf8_bom.csv"), "--rejects", str(out), db_url=pg_url)
    assert proc.returncode == 0, proc.stderr
    assert "read 12, accepted 4, duplicate 1, excluded 0, rejected 7" in proc.stdout
    assert "  1 x character '@' is not allowed in a phone number" in proc.stdout
    assert f"{out}: 7 rejected row(s)" in proc.stdout
    with open(LISTS / "orders_utf8_bom.csv", encoding="utf-8-sig", newline="") as f:
        original = list(csv.reader(f))
    if suffix == ".xlsx":
        ws = openpyxl.load_workbook(out, read_only=True).active
        table = [["" if v is None else str(v) for v in r] for r in ws.iter_rows(values_only=True)]
        frame = pd.read_excel(out, dtype=str, keep_default_na=False)
    else:
        with out.open(encoding="utf-8-sig", newline="") as f:
            table = list(csv.reader(f))
        frame = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert table[0] == ["row", "column", "reason", "value"] + original[0]
    assert len(table) == 8 and len(frame) == 7
    for line in table[1:]:
        row = int(line[0])
        cells = original[row - 1]  # the spreadsheet's row number: the header is row 1
        if suffix == ".xlsx":  # XML reads a stored CR LF back as LF
            cells = [c.replace("\r\n", "\n") for c in cells]
        shown = [c[1:] if suffix == ".csv" and c.startswith("'") else c for c in line[4:]]  # CSV: formula guard
        assert shown[: len(cells)] == cells, (row, line)
        assert line[2] and line[1]
    assert set(frame["column"]) >= {"phone", "items"}


def test_header_not_found_shows_the_closest_row_and_near_misses(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("Orders for 2 December\n\nPhone number;Name;Order ID\n89061234567;Anna;1\n", encoding="utf-8")
    mapping = ListMapping(phone_columns=["phone"], variables={"ORDER_ID": {"column": "order_id", "kind": "digits"}, "CUSTOMER": "name"})
    with pytest.raises(ListFileError) as err:
        open_list(path, mapping)
    text = str(err.value)
    assert "the closest is row 3: 'Phone number', 'Name', 'Order ID'" in text, text
    assert "'phone' (near: 'Phone number')" in text and "'order_id' (near: 'Order ID')" in text
    wb = openpyxl.Workbook()
    wb.active.append(["Телефон", "name"])
    wb.save(tmp_path / "l.xlsx")
    with pytest.raises(ListFileError) as err:
        open_list(tmp_path / "l.xlsx", mapping)
    assert "the closest is row 1: 'Телефон', 'name'; missing 'phone' (nothing near), 'order_id'" in str(err.value)

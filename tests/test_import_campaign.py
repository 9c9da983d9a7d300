"""`autodialer import` with the shipped campaign examples and a real list (no lab columns), and
with campaign files `autodialer run` refuses (nothing is written). Real PostgreSQL, the real CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = ROOT / "campaigns"


def cli(*args: str, db_url: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTODIALER_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autodialer", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=180)


def rows(db_url: str, query: str) -> list[tuple]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def real_orders_xlsx(path: Path) -> Path:
    """What a shop's back office exports: its own columns, nothing of the lab's (no sim_press)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Orders"
    ws.append(["phone", "name", "order_id", "items", "delivery_date", "courier", "role"])
    ws.append(["+7 906 123 45 17", "Anna Petrova", 1001, "2 chairs", "2026-12-01", "Ivan", "moderator"])
    ws.append(["8 (906) 123-45-21", "Boris Ivanov", 1002, "sofa", "2026-12-01", "Ivan", ""])
    ws.append([79061234531, "Vera Sidorova", 1003, "lamp", "2026-12-02", "Oleg", "listener"])
    wb.save(path)
    return path


@pytest.mark.postgres
@pytest.mark.parametrize("example", ["order_confirmation.yaml", "survey.yaml", "conference.yaml"])
def test_shipped_examples_import_a_real_list_without_lab_columns(tmp_path, pg_url, example):
    listfile = real_orders_xlsx(tmp_path / "orders.xlsx")
    proc = cli("import", str(CAMPAIGNS / example), str(listfile), db_url=pg_url)
    assert proc.returncode == 0, proc.stderr
    assert "orders.xlsx: read 3, accepted 3, duplicate 0, excluded 0, rejected 0" in proc.stdout, proc.stdout
    variables = rows(pg_url, "SELECT variables FROM contacts ORDER BY id")
    assert len(variables) == 3 and all("SIM_PRESS" not in v for (v,) in variables)  # absent: nothing sent
    # The campaign row carries the settings the run would use (the one loader).
    [(name, settings)] = rows(pg_url, "SELECT name, settings FROM campaigns")
    assert settings["name"] == name and settings["list"]["variables"]["SIM_PRESS"]["optional"] is True


@pytest.mark.postgres
def test_the_sample_list_still_carries_the_lab_key_presses(tmp_path, pg_url):
    proc = cli("import", str(CAMPAIGNS / "order_confirmation.yaml"), str(CAMPAIGNS / "order_confirmation_sample.csv"),
               db_url=pg_url)
    assert proc.returncode == 0, proc.stderr
    presses = {v.get("SIM_PRESS") for (v,) in rows(pg_url, "SELECT variables FROM contacts")}
    assert {"1", "2", "3"} <= presses


@pytest.mark.postgres
def test_import_refuses_what_run_refuses_and_writes_nothing(tmp_path, pg_url):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad campaign\nkind: order_confirmation\nlist: {phone_columns: [phone]}\n"
        "schedule: {cron: 'every day'}\nring_timeout: 5s\ncaller_ids: ['not a number']\n",
        encoding="utf-8",
    )
    listfile = tmp_path / "l.csv"
    with listfile.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["phone"], ["89061234567"]])
    run = cli("run", str(bad), db_url=pg_url)
    imp = cli("import", str(bad), str(listfile), db_url=pg_url)
    assert run.returncode == imp.returncode == 2
    run_errors = run.stderr.split("error: ", 1)[1]
    assert run_errors == imp.stderr.split("error: ", 1)[1]  # the same loader, the same problems
    for field in ("name", "schedule.cron", "destination", "ring_timeout", "caller_ids"):
        assert f"  {field}" in imp.stderr, imp.stderr
    engine = sa.create_engine(pg_url)
    try:
        assert not sa.inspect(engine).has_table("campaigns") or rows(pg_url, "SELECT count(*) FROM campaigns") == [(0,)]
    finally:
        engine.dispose()

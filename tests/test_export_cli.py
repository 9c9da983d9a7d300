"""`autodialer export` / `status` from the command line against real PostgreSQL: a campaign file
or a name (the closest names on a miss), `;` and `sep=` for Excel, XLSX read back with openpyxl
and pandas without apostrophes; read-only commands never migrate; `db upgrade` / `db current`;
the alembic CLI with the URL from the environment (`alembic upgrade head --sql`)."""

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

from autodialer.store import Store

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = ROOT / "campaigns"
pytestmark = pytest.mark.postgres


def cli(*args: str, db_url: str, program=("-m", "autodialer")) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTODIALER_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *program, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def test_export_by_file_or_name_for_excel(tmp_path, pg_url):
    campaign = CAMPAIGNS / "order_confirmation.yaml"
    assert cli("import", str(campaign), str(CAMPAIGNS / "order_confirmation_sample.csv"), db_url=pg_url).returncode == 0
    out = tmp_path / "semi.csv"
    proc = cli("export", str(campaign), str(out), "--delimiter", ";", "--sep-hint", db_url=pg_url)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbfsep=;\r\n")
    text = out.read_text(encoding="utf-8-sig")
    table = list(csv.reader(text.splitlines()[1:], delimiter=";"))
    header = table[0]
    assert header[:6] == ["phone", "name", "order_id", "items", "delivery_date", "sim_press"]
    assert header[6:] == ["status", "result", "reject_reason", "attempts", "number", "timezone", "last_attempt",
                          "next_attempt", "last_cause"]
    anna = next(r for r in table if r[1] == "Anna Petrova")
    assert anna[0] == "'+7 906 123 45 17"  # CSV: a cell Excel would take for a formula keeps its guard
    assert anna[10] == "+79061234517"  # the number dialed, E.164 (a number: no guard)
    frame = pd.read_csv(out, sep=";", skiprows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(frame) == len(table) - 1 and list(frame.columns) == header

    xlsx = tmp_path / "out.xlsx"
    proc = cli("export", "order-confirmation", str(xlsx), db_url=pg_url)  # by name
    assert proc.returncode == 0, proc.stderr
    ws = openpyxl.load_workbook(xlsx).active
    cells = [c for row in ws.iter_rows() for c in row]
    quoted = {c.value for c in cells if isinstance(c.value, str) and c.value.startswith("'")}
    assert quoted == {"'79061234511"}  # no apostrophe added: the only one is the sample file's own cell
    phone = next(c for c in cells if c.value == "+7 906 123 45 17")
    assert phone.data_type == "s" and phone.quotePrefix  # stored as text: Excel will not evaluate it
    frame = pd.read_excel(xlsx, dtype=str, keep_default_na=False)
    assert "+7 906 123 45 17" in set(frame["phone"]) and set(frame["reject_reason"]) >= {"", "excluded: dnc.csv"}

    proc = cli("export", "order-confirmaton", str(tmp_path / "x.csv"), db_url=pg_url)
    assert proc.returncode == 2 and "did you mean 'order-confirmation'?" in proc.stderr, proc.stderr
    proc = cli("status", "order_confirmation", db_url=pg_url)
    assert proc.returncode == 2 and "did you mean 'order-confirmation'?" in proc.stderr, proc.stderr
    proc = cli("status", str(campaign), db_url=pg_url)
    assert proc.returncode == 0 and "order-confirmation" in proc.stdout, proc.stderr


def test_read_only_commands_never_migrate_db_upgrade_does(tmp_path, pg_url):
    engine = sa.create_engine(pg_url)
    try:
        for command in (["status"], ["export", "x", str(tmp_path / "x.csv")]):
            proc = cli(*command, db_url=pg_url)
            assert proc.returncode == 2 and "autodialer db upgrade" in proc.stderr, proc.stderr
            assert not sa.inspect(engine).has_table("alembic_version")  # nothing created
        proc = cli("db", "current", db_url=pg_url)
        assert proc.returncode == 1 and "no autodialer tables" in proc.stdout
        head = Store.head_revision()
        Store(pg_url).migrate_to("0001")
        proc = cli("status", db_url=pg_url)
        assert proc.returncode == 2 and f"is at migration 0001, this autodialer needs {head}" in proc.stderr
        proc = cli("db", "upgrade", db_url=pg_url)
        assert proc.returncode == 0 and f"0001 -> {head}" in proc.stdout, proc.stderr
        proc = cli("db", "current", db_url=pg_url)
        assert proc.returncode == 0 and f"at migration {head}" in proc.stdout and "up to date" in proc.stdout
        assert cli("status", db_url=pg_url).returncode == 0
    finally:
        engine.dispose()


def test_alembic_cli_uses_the_url_from_the_environment(tmp_path, pg_url):
    proc = cli("upgrade", "head", "--sql", db_url=pg_url, program=("-m", "alembic"))
    assert proc.returncode == 0, proc.stderr
    assert "CREATE TABLE campaigns" in proc.stdout and "CREATE INDEX ix_attempts_number" in proc.stdout
    assert "COMMENT ON COLUMN \"attempts\".\"stopped_by_pacing\"" in proc.stdout and "CREATE VIEW abandonment_daily" in proc.stdout
    proc = cli("current", db_url=pg_url, program=("-m", "alembic"))
    assert proc.returncode == 0, proc.stderr

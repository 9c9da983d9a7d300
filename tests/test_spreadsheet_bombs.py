"""Spreadsheets cannot exhaust the worker. Hostile files are generated here (the XLSX ones are
small on disk): an XLSX whose <dimension> claims A1:XFD1048576 (refused before a row is read),
deflate bombs in a sheet and in sharedStrings, a CSV with a 50 MB cell. Each import runs in a subprocess against a real
PostgreSQL, which reports its own peak RSS (ru_maxrss): under 300 MB for every one of them, and
each bomb is refused with an error naming the file and what is wrong. While a file is read no
campaign row lock is held; in a run, one unreadable file is reported and the rest dialed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from autodialer.lists.errors import ListFileError
from autodialer.lists.mapping import ListMapping
from autodialer.lists.reading import ROW, open_list
from tests.faultkit import load_into_store, rows, write_campaign

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"phone_columns": ["phone"], "variables": {"CUSTOMER": "name"}}
RSS_LIMIT_MB = 300

CHILD = textwrap.dedent("""
    import json, resource, sys
    from autodialer.campaigns.campaign import load_campaign
    from autodialer.lists.errors import ListFileError
    from autodialer.store import Store
    campaign = load_campaign(sys.argv[1])
    store = Store(sys.argv[2])
    store.migrate()
    cid = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())
    out = {}
    try:
        report = store.import_list(cid, sys.argv[3], campaign.list_settings(), workers=0)
        out["report"] = str(report)
    except ListFileError as exc:
        out["error"] = str(exc)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
""")


def _import_in_child(campaign: Path, db_url: str, path: Path) -> dict:
    """Run the import in a fresh process and return what it printed. Linux folds the memory a
    process was forked with into ru_maxrss at exec, so a child forked straight from this (big)
    test process would report this process's peak: /bin/sh, small, forks the child instead
    (`; exit` keeps it from exec'ing in place)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(["/bin/sh", "-c", '"$@"; exit $?', "sh", sys.executable, "-c", CHILD, str(campaign), db_url,
                           str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _small_xlsx(path: Path, n: int = 3) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["phone", "name"])
    for i in range(n):
        ws.append([f"+7906123456{i}", f"Customer {i}"])
    wb.save(path)


def _rewrite_part(path: Path, name: str, write) -> None:
    """Copy the XLSX at `path` with part `name` replaced by what write(file) writes (streamed
    through the deflater, so a gigabyte part costs a few MB on disk and never sits in memory)."""
    src = path.with_suffix(".src.xlsx")
    path.rename(src)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename == name:
                part = zipfile.ZipInfo(name)
                part.compress_type = zipfile.ZIP_DEFLATED
                with zout.open(part, "w", force_zip64=True) as f:
                    write(f, zin.read(name))
            else:
                zout.writestr(info, zin.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    src.unlink()


def _dimension_lie(path: Path, claim: str = "A1:XFD1048576") -> None:
    """A 3-row list whose sheet claims its cells span `claim`."""
    _small_xlsx(path)

    def write(f, old):
        new, n = re.subn(rb'<dimension ref="A1:B4"\s*/>', b'<dimension ref="%s"/>' % claim.encode(), old)
        assert n == 1
        f.write(new)

    _rewrite_part(path, "xl/worksheets/sheet1.xml", write)


def _sheet_bomb(path: Path, mib: int) -> None:
    """The sheet: the real rows, then `mib` MiB of empty-string rows (what a deflate bomb inflates to)."""
    _small_xlsx(path)
    row = b"<row><c t=\"inlineStr\"><is><t></t></is></c></row>"

    def write(f, old):
        head, _, tail = old.partition(b"</sheetData>")
        f.write(head)
        block = row * ((1 << 20) // len(row))
        for _ in range(mib):
            f.write(block)
        f.write(b"</sheetData>" + tail)

    _rewrite_part(path, "xl/worksheets/sheet1.xml", write)


NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _shared_strings_bomb(path: Path, mib: int) -> None:
    """A minimal XLSX whose cells are shared strings (as Excel writes them); sharedStrings.xml
    has the four real strings and then `mib` MiB more."""
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            "</Types>"),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<workbook {NS.decode()} xmlns:r="{REL}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet {NS.decode()}><sheetData>'
            '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row></sheetData></worksheet>'),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        part = zipfile.ZipInfo("xl/sharedStrings.xml")
        part.compress_type = zipfile.ZIP_DEFLATED
        with z.open(part, "w", force_zip64=True) as f:
            f.write(b"<sst " + NS + b"><si><t>phone</t></si><si><t>name</t></si><si><t>+79061234561</t></si>"
                    b"<si><t>Customer</t></si>")
            block = b"<si><t>x</t></si>" * ((1 << 20) // 17)
            for _ in range(mib):
                f.write(block)
            f.write(b"</sst>")


def _csv_giant_cell(path: Path, mb: int, *, newlines: bool) -> None:
    piece = ("A" * 99 + "\n") if newlines else "A" * 100
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("phone,name\n+79061234561,Anna\n+79061234571,\"")
        for _ in range(mb * 10_000):
            f.write(piece)
        f.write("\"\n+79061234581,Boris\n")


CASES = {
    # name: (make(path), expected error fragment or None for a file that loads)
    "dimension.xlsx": (_dimension_lie, "sheet 'Sheet' claims its cells span A1:XFD1048576 (16,384 columns x "
                                       "1,048,576 rows = 17,179,869,184 cells"),
    "sheet-bomb.xlsx": (lambda p: _sheet_bomb(p, 512), "inflates to 536,"),
    "sheet-ratio.xlsx": (lambda p: _sheet_bomb(p, 100), "fold"),
    "strings-bomb.xlsx": (lambda p: _shared_strings_bomb(p, 256), "xl/sharedStrings.xml inflates to"),
    "strings-ratio.xlsx": (lambda p: _shared_strings_bomb(p, 30), "fold"),
    "strings-ok.xlsx": (lambda p: _shared_strings_bomb(p, 0), None),
    "cell-50mb.csv": (lambda p: _csv_giant_cell(p, 50, newlines=False), "line 3 is 50,000,015 bytes long"),
    "cell-50mb-lines.csv": (lambda p: _csv_giant_cell(p, 50, newlines=True), "row 3 has a cell over 8,388,608 characters"),
}


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_spreadsheet_is_refused_or_read_within_300_mb(tmp_path, pg_url, name):
    make, expected = CASES[name]
    path = tmp_path / name
    make(path)
    if name.endswith(".xlsx"):
        assert path.stat().st_size < 3 << 20, path.stat().st_size  # small on disk
    camp = write_campaign(tmp_path, [], name="bombs", list=MAPPING)
    out = _import_in_child(camp, pg_url, path)
    print(f"{name}: {path.stat().st_size:,} bytes on disk, peak RSS {out['rss_mb']:.0f} MB: {out.get('error') or out['report']}")
    assert out["rss_mb"] < RSS_LIMIT_MB
    if expected is None:
        assert "error" not in out and ("read 3, accepted 3" in out["report"] or "read 1, accepted 1" in out["report"]), out
    else:
        assert expected in out["error"] and name in out["error"] and "not loaded" in out["error"], out
        assert rows(pg_url, "SELECT count(*) AS n FROM uploads")[0]["n"] == 0  # nothing of it was kept


@pytest.mark.parametrize("claim, refused", [
    ("A1:AMJ65536", False),  # 1,024 columns x 65,536 rows = 2**26 cells: the most a sheet may claim
    ("A1:BL1048576", False),  # 64 columns, full height: 2**26 cells
    ("A1:AMK1", True),  # 1,025 columns
    ("A1:BM1048576", True),  # 65 columns, full height: 2**26 + 1,048,576 cells
    ("C3:AML3", False),  # the claim is counted from where it starts (1,024 columns)
])
def test_a_dimension_claim_is_refused_beyond_the_bound_and_loads_within_it(tmp_path, claim, refused):
    """Beyond 1,024 columns or 2**26 cells the file is refused before a row is read, naming
    the file, the sheet and the claim and saying what to do; within them the claim is not
    trusted either: only the sheet's real 3 rows come back."""
    path = tmp_path / "claims.xlsx"
    _dimension_lie(path, claim)
    if refused:
        with pytest.raises(ListFileError) as err:
            open_list(path, ListMapping(phone_columns=["phone"]))
        message = str(err.value)
        assert f"{path}: sheet 'Sheet' claims its cells span {claim}" in message, message
        assert "not loaded" in message and "save it again" in message and "export the sheet as CSV" in message
    else:
        frames = list(open_list(path, ListMapping(phone_columns=["phone"])).chunks())
        assert [len(f) for f in frames] == [3] and list(frames[0][ROW]) == [2, 3, 4]


@pytest.mark.postgres
def test_baseline_rss_of_an_ordinary_import(tmp_path, pg_url):
    """For comparison: the same child importing an ordinary 3-row list."""
    path = tmp_path / "ok.xlsx"
    _small_xlsx(path)
    camp = write_campaign(tmp_path, [], name="bombs", list=MAPPING)
    out = _import_in_child(camp, pg_url, path)
    print(f"baseline: peak RSS {out['rss_mb']:.0f} MB")
    assert "read 3, accepted 3" in out["report"] and out["rss_mb"] < RSS_LIMIT_MB


@pytest.mark.postgres
def test_no_campaign_row_lock_while_a_file_is_read(tmp_path, pg_url):
    """A big list imports in a thread; meanwhile another session locks and updates the
    campaign's row without waiting (the import serialises on an advisory lock instead of
    SELECT ... FOR UPDATE on the campaign)."""
    from autodialer.store.ingest import IMPORT_LOCK

    camp = write_campaign(tmp_path, [], name="locks", list=MAPPING)
    campaign, store, cid = load_into_store(camp, pg_url)
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as f:
        f.write("phone,name\n")
        for i in range(300_000):
            f.write(f"+7906{i:07d},Customer {i}\n")
    done = threading.Event()
    errors: list[BaseException] = []

    def run():
        try:
            store.import_list(cid, big, campaign.list_settings(), workers=0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            deadline = time.monotonic() + 120
            while not done.is_set() and time.monotonic() < deadline:
                held = conn.execute(sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :k AND objid = :c AND granted"),
                    {"k": IMPORT_LOCK, "c": cid}).scalar()
                conn.commit()
                if held:
                    break
                time.sleep(0.02)
            assert not done.is_set(), "the import ended before it could be observed"
            with conn.begin():
                conn.execute(sa.text("SET LOCAL lock_timeout = '1s'"))
                # What a writer of the campaign's row takes (the old import's FOR UPDATE blocked it).
                # The upload row's foreign key holds only KEY SHARE, which blocks no update of the row.
                conn.execute(sa.text("SELECT id FROM campaigns WHERE id = :c FOR NO KEY UPDATE NOWAIT"), {"c": cid})
                conn.execute(sa.text("UPDATE campaigns SET settings = settings WHERE id = :c"), {"c": cid})
            assert not done.is_set()  # the row was free while the file was being read
    finally:
        thread.join()
        engine.dispose()
        store.close()
    assert not errors, errors
    assert rows(pg_url, "SELECT accepted FROM uploads WHERE file_name = 'big.csv'")[0]["accepted"] == 300_000


@pytest.mark.prefect
@pytest.mark.postgres
def test_run_reports_an_unreadable_list_and_dials_the_rest(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    _sheet_bomb(tmp_path / "bomb.xlsx", 512)
    camp = write_campaign(tmp_path, ["+79061234511", "+79061234521"], name="bomb-run", lists=["list.csv", "bomb.xlsx"],
                          list={"phone_columns": ["phone"], "variables": {"CUSTOMER": "name", "SIM_PRESS": "sim_press"}})
    state = asyncio.run(campaign_flow(str(camp), run_minutes=1.0, return_state=True))
    assert state.is_completed(), state.message
    assert "bomb.xlsx: NOT LOADED: " in state.message and "inflates to" in state.message, state.message
    assert "list.csv: read 2, accepted 2" in state.message
    assert sorted(r["number"] for r in rows(pg_url, "SELECT number FROM attempts")) == ["+79061234511", "+79061234521"]

    async def lists_artifact():
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["bomb-run-lists"])))
            return found[0].data

    data = asyncio.run(lists_artifact())
    table = json.loads(data) if isinstance(data, str) else data
    by_file = {r["file"]: r for r in table}
    assert by_file["bomb.xlsx"]["loaded"] == "no" and "inflates to 536," in by_file["bomb.xlsx"]["error"]
    assert by_file["list.csv"]["loaded"] == "yes" and by_file["list.csv"]["accepted"] == 2

"""Lists into the store, on SQLite and PostgreSQL: exact counts for the messy fixtures, dedupe
across lists, exclusions, idempotent re-import, rejects, export with formula neutralisation."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from zoneinfo import ZoneInfo
import sqlalchemy as sa

from autodialer.lists.errors import ListFileError
from autodialer.lists.mapping import ListSettings
from autodialer.store import Store

LISTS = Path(__file__).parent / "fixtures" / "lists"
ROOT = Path(__file__).resolve().parents[1]


def settings(columns="ru", exclusions=()):
    mapping = (
        {"phone_columns": ["Телефон", "Телефон 2"], "variables": {"CUSTOMER": "ФИО", "ORDER_ID": {"column": "Заказ", "kind": "token"}, "ORDER_TEXT": "Состав"}}
        if columns == "ru"
        else {"phone_columns": ["phone", "phone2"], "variables": {"CUSTOMER": "name", "ORDER_ID": {"column": "order_id", "kind": "token"}, "ORDER_TEXT": "items"}}
    )
    return ListSettings.model_validate(
        {"name": "orders", "kind": "order_confirmation", "default_region": "RU", "list": mapping, "exclusions": list(exclusions)}
    )


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.migrate()
    yield s
    s.close()


def counts(report):
    return (report.read, report.accepted, report.duplicate, report.excluded, report.rejected, report.blank)


def rows(store, sql, **params):
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def test_three_messy_lists_exact_counts(store):
    cid = store.ensure_campaign("orders", kind="order_confirmation")
    first = store.import_list(cid, LISTS / "orders_cp1251_semicolon.csv", settings("ru", [LISTS / "dnc.csv"]))
    assert counts(first) == (13, 4, 1, 1, 7, 2) and first.alternates_ignored == 1
    assert str(first) == (
        "orders_cp1251_semicolon.csv: read 13, accepted 4, duplicate 1, excluded 1, rejected 7 "
        "(blank rows 2, alternates ignored 1)"
    )
    (dnc,) = first.exclusion_reports
    assert (dnc.read, dnc.accepted, dnc.rejected, dnc.blank) == (3, 2, 1, 1)
    # Anna's number was loaded by the first list: a duplicate against an earlier list.
    second = store.import_list(cid, LISTS / "orders_utf8_bom.csv", settings("en"))
    assert counts(second) == (12, 3, 2, 0, 7, 1)
    third = store.import_list(cid, LISTS / "orders_title_row.xlsx", settings("en"))
    assert counts(third) == (7, 4, 1, 0, 2, 1)

    assert rows(store, "SELECT COUNT(*) FROM contacts") == [(11,)]
    # Nothing is lost: every non-blank row is a contact source or a reject (alternates notes aside).
    sources = rows(store, "SELECT COUNT(*) FROM contact_sources")[0][0]
    rejected = rows(store, "SELECT COUNT(*) FROM rejects WHERE reason NOT LIKE 'alternate ignored:%' AND upload_id <> :d", d=dnc.upload_id)[0][0]
    assert sources + rejected == 13 + 12 + 7
    uploads = rows(store, "SELECT file_name, rows_read, accepted, duplicate, excluded, rejected, blank FROM uploads ORDER BY id")
    assert uploads == [
        ("dnc.csv", 3, 2, 0, 0, 1, 1),
        ("orders_cp1251_semicolon.csv", 13, 4, 1, 1, 7, 2),
        ("orders_utf8_bom.csv", 12, 3, 2, 0, 7, 1),
        ("orders_title_row.xlsx", 7, 4, 1, 0, 2, 1),
    ]


def test_contact_fields_sources_and_rejects(store):
    cid = store.ensure_campaign("orders", kind="order_confirmation")
    store.import_list(cid, LISTS / "orders_cp1251_semicolon.csv", settings("ru", [LISTS / "dnc.csv"]))
    store.import_list(cid, LISTS / "orders_utf8_bom.csv", settings("en"))
    from datetime import datetime, timezone

    due = store.due_contacts(cid, now=datetime.now(timezone.utc))
    by_phone = {c.phone: c for c in due}
    ivanov = by_phone["+79061234567"]
    assert ivanov.variables == {"CUSTOMER": "Иванов Иван", "ORDER_ID": "A-1", "ORDER_TEXT": "Чайник"}
    # One person, three source rows: Иванов, Петров (same list) and Anna (the next list).
    assert ivanov.source == ("orders_cp1251_semicolon.csv:4", "orders_cp1251_semicolon.csv:5", "orders_utf8_bom.csv:2")
    assert (ivanov.state, ivanov.attempts, ivanov.last_status, ivanov.next_attempt_at) == ("pending", 0, None, None)
    assert (ivanov.timezones, ivanov.timezone_source) == (["Europe/Moscow"], "registry")  # 906 123: a Tatarstan range
    assert by_phone["+79061234568"].alternates == ["+79061234569", "+79061234570"]
    assert by_phone["+79062000002"].alternates == ["+79062000003"]
    assert by_phone["+442079460958"].timezones == ["Europe/London"]
    assert "+79990000001" not in by_phone  # on the DNC list
    rejects = rows(
        store,
        "SELECT r.row_number, r.\"column\", r.value, r.reason FROM rejects r JOIN uploads u ON u.id = r.upload_id"
        " WHERE u.file_name = 'orders_utf8_bom.csv' ORDER BY r.row_number",
    )
    assert [r[0] for r in rejects] == [3, 5, 6, 7, 8, 9, 10]
    assert rejects[1] == (5, "phone", "٧٩٠٦٢٠٠٠٠٠٤", "non-ASCII digit '٧' (ARABIC-INDIC DIGIT SEVEN) in a phone number")
    assert rejects[2][2] == "7906200\r\n0005"  # the value is kept as it was
    assert rejects[3][1:] == ("items", "x" * 1000 + "... (5000 characters)", "variable ORDER_TEXT: the AMI line `Variable: ...` would be 5023 bytes (UTF-8, with `Variable: ` and CRLF); "
                                "Asterisk 22 refuses the whole message for a line over 1024")
    excluded = rows(store, "SELECT row_number, value, reason FROM rejects WHERE reason LIKE 'excluded:%'")
    assert excluded == [(15, "+79990000001", "excluded: dnc.csv")]


def test_same_file_twice_adds_nothing(store, tmp_path):
    cid = store.ensure_campaign("orders", kind="order_confirmation")
    store.import_list(cid, LISTS / "orders_utf8_bom.csv", settings("en"))
    before = rows(store, "SELECT (SELECT COUNT(*) FROM contacts), (SELECT COUNT(*) FROM contact_sources), (SELECT COUNT(*) FROM rejects)")
    copy = tmp_path / "renamed.csv"
    shutil.copy(LISTS / "orders_utf8_bom.csv", copy)
    again = store.import_list(cid, copy, settings("en"))
    assert again.already_imported and counts(again) == (0, 0, 0, 0, 0, 0)
    assert "already imported" in str(again)
    assert rows(store, "SELECT (SELECT COUNT(*) FROM contacts), (SELECT COUNT(*) FROM contact_sources), (SELECT COUNT(*) FROM rejects)") == before
    # The same file for another campaign is a new upload.
    other = store.ensure_campaign("other", kind="order_confirmation")
    assert store.import_list(other, LISTS / "orders_utf8_bom.csv", settings("en")).accepted == 4


def test_exclusions_loaded_later_stop_pending_contacts(store, tmp_path):
    cid = store.ensure_campaign("orders", kind="order_confirmation")
    store.import_list(cid, LISTS / "orders_title_row.xlsx", settings("en"))
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    assert len(store.due_contacts(cid, now=now)) == 4
    dnc = tmp_path / "global.csv"
    dnc.write_text("phone\n8 (906) 300-00-01\n", encoding="utf-8")
    report = store.import_exclusions(dnc, campaign_id=None, default_region="RU")
    assert (report.read, report.accepted) == (1, 1)
    assert "+79063000001" not in {c.phone for c in store.due_contacts(cid, now=now)}
    assert store.excluded_numbers(cid, ["+79063000001", "+79063000002"]) == {"+79063000001"}
    # A global list applies to every campaign's imports too: Lev and Semen share the number.
    other = store.ensure_campaign("other", kind="k")
    r = store.import_list(other, LISTS / "orders_title_row.xlsx", settings("en"))
    assert (r.accepted, r.duplicate, r.excluded) == (3, 0, 2)


def test_bad_file_rolls_back_everything(store, tmp_path):
    cid = store.ensure_campaign("orders", kind="order_confirmation")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,tel\nA,89061234567\n", encoding="utf-8")
    with pytest.raises(ListFileError, match="phone"):
        store.import_list(cid, bad, settings("en"))
    assert rows(store, "SELECT COUNT(*) FROM uploads") == [(0,)]


def test_export_csv_and_xlsx_neutralise_formulas(store, tmp_path):
    cid = store.ensure_campaign("orders", kind="order_confirmation")
    store.import_list(cid, LISTS / "orders_utf8_bom.csv", settings("en"))
    out = tmp_path / "out.csv"
    assert store.export("orders", out) == 12  # every non-blank row of the file, in file order
    with out.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["name", "phone", "phone2", "order_id", "items", "status", "result", "reject_reason", "attempts",
                        "number", "timezone", "last_attempt", "next_attempt", "last_cause"]
    assert [r[0] for r in table[1:]] == ["Anna", "Boris", "Vera", "Gleb", "Dina", "Egor", "Fedor", "Galina", "Hleb", "Ilya", "Jana", "Kira"]
    by_name = {r[0]: r for r in table[1:]}
    assert by_name["Jana"][4] == "'=1+1" and by_name["Jana"][5:] == ["", "", "", "0", "+79062000009", "Europe/Moscow", "", "", ""]
    assert by_name["Anna"][1] == "'+7 906 123 45 67"  # starts with +: neutralised as well
    assert by_name["Boris"][4] == "line one\nline two"  # the cell as it was in the file
    # The reject reason has its own column; result is the business result only.
    assert by_name["Boris"][5:] == ["NOT_LOADED", "", "variable ORDER_TEXT: control character '\\n' is not allowed", "0",
                                    "", "", "", "", ""]
    assert by_name["Anna"][5:] == ["", "", "", "0", "+79061234567", "Europe/Moscow", "", "", ""]  # number dialed, its zones
    assert by_name["Egor"][4] == "x" * 5000
    xlsx = tmp_path / "out.xlsx"
    assert store.export("orders", xlsx) == 12
    ws = openpyxl.load_workbook(xlsx).active
    values = list(ws.values)
    assert values[0][:2] == ("name", "phone")
    # XLSX: no visible apostrophe; a formula-like cell is a text cell with Excel's quote prefix.
    jana = next(r for r in ws.iter_rows() if r[0].value == "Jana")
    assert jana[4].value == "=1+1" and jana[4].data_type == "s" and jana[4].quotePrefix
    anna = next(r for r in ws.iter_rows() if r[0].value == "Anna")
    assert anna[1].value == "+7 906 123 45 67" and anna[1].data_type == "s" and anna[8].value == 0  # attempts: a number
    assert not any(isinstance(v, str) and v.startswith("'") for row in values for v in row)


def test_export_shows_outcomes_exclusions_and_every_list(store, tmp_path):
    cid = store.ensure_campaign("orders", kind="order_confirmation")
    store.import_list(cid, LISTS / "orders_cp1251_semicolon.csv", settings("ru", [LISTS / "dnc.csv"]))
    store.import_list(cid, LISTS / "orders_title_row.xlsx", settings("en"))
    from datetime import datetime, timezone

    from autodialer.telephony.outcomes import CallResult, CallStatus

    now = datetime.now(timezone.utc)
    ivanov = next(c for c in store.due_contacts(cid, now=now) if c.phone == "+79061234567")
    assert store.claim_attempt(ivanov.id, attempt_id="e1", number=ivanov.phone, now=now, max_attempts=3)
    store.finish_attempt(CallResult(attempt_id="e1", number=ivanov.phone, status=CallStatus.ANSWERED), contact_state="done",
                         next_attempt_at=None, contact_result="confirmed")
    out = tmp_path / "out.csv"
    assert store.export("orders", out) == 13 + 7
    with out.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    # Both files' columns, the Russian ones first; the second file's rows below.
    assert table[0][:5] == ["ФИО", "Телефон", "Телефон 2", "Заказ", "Состав"]
    assert table[0][5:] == ["name", "phone", "phone2", "order_id", "items", "status", "result", "reject_reason", "attempts",
                            "number", "timezone", "last_attempt", "next_attempt", "last_cause"]
    rows_by_name = {r[0] or r[5]: r for r in table[1:]}
    ivanov_row = rows_by_name["Иванов Иван"]
    assert ivanov_row[-9:-3] == ["ANSWERED", "confirmed", "", "1", "+79061234567", "Europe/Moscow"]
    # The last attempt in the callee's local time (Moscow, UTC+3), to the second.
    local = now.astimezone(ZoneInfo("Europe/Moscow")).strftime("%Y-%m-%d %H:%M:%S +03:00")
    assert ivanov_row[-3:] == [local, "", ""]
    assert rows_by_name["Петров Пётр"][-9:-3] == ivanov_row[-9:-3]  # the same person
    assert rows_by_name["В стоп-листе"][-9:] == ["BLOCKED", "", "excluded: dnc.csv", "0", "+79990000001", "", "", "", ""]
    assert rows_by_name["Lev"][6] == "79063000001" and rows_by_name["Lev"][-9:-5] == ["", "", "", "0"]


def test_cli_import_and_export(db_url, tmp_path):
    campaign = tmp_path / "orders.yaml"
    shutil.copy(LISTS / "dnc.csv", tmp_path / "dnc.csv")
    campaign.write_text(
        "name: orders\nkind: order_confirmation\ndefault_region: RU\n"
        "list:\n  phone_columns: [phone, phone2]\n  variables: {CUSTOMER: name, ORDER_ID: {column: order_id, kind: token}, ORDER_TEXT: items}\n"
        "exclusions: [dnc.csv]\nschedule: {cron: '0 9 * * *'}\ndestination: {type: robot}\n",
        encoding="utf-8",
    )
    env = {"AUTODIALER_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "autodialer", *a], capture_output=True, text=True, env=env, cwd=ROOT)  # noqa: E731
    out = run("import", str(campaign), str(LISTS / "orders_utf8_bom.csv"))
    assert out.returncode == 0, out.stderr
    assert "orders_utf8_bom.csv: read 12, accepted 4, duplicate 1, excluded 0, rejected 7 (blank rows 1)" in out.stdout
    assert "exclusions dnc.csv: read 3, accepted 2" in out.stdout
    out = run("export", "orders", str(tmp_path / "o.xlsx"))
    assert out.returncode == 0 and "12 rows" in out.stdout
    out = run("export", "nope", str(tmp_path / "o.csv"))
    assert out.returncode == 2 and "no campaign named 'nope'" in out.stderr
    out = run("import", str(tmp_path / "missing.yaml"), str(LISTS / "orders_utf8_bom.csv"))
    assert out.returncode == 2 and "campaign file not found" in out.stderr and "Traceback" not in out.stderr


def test_chunks_and_worker_processes_give_the_same_result(db_url, tmp_path):
    """A list read in many chunks, prepared in this process or by one or two worker processes: the
    same counts, contacts (alternates and zones included), sources and rejects with their reasons
    (dedupe across chunks, alternates in a second column and in one cell, an exclusion that hits an
    alternate, phone shapes that take the normaliser's fast and slow paths)."""
    shapes = ["8906777{:04d}", "+7 906 777 {:04d}", "7906777{:04d}.0", "8 (906) 777-{:04d}"]
    lines = ["name,phone,phone2,order_id"]
    for i in range(300):
        phone = "bad" if i % 17 == 0 else shapes[i % 4].format(i % 250)  # 50 repeats of earlier numbers, across chunks
        second = ""
        if i % 7 == 0:
            second = f"+7914555{i:04d}"  # a Vladivostok mobile as the alternate
        elif i % 11 == 0:
            second = f'"8 4012 55{i:04d}; x{i}"'  # a Kaliningrad landline and a bad part in one cell
        elif i % 13 == 0:
            second = f"+1 212 555 {i:04d}"  # a foreign number: phonenumbers' own path
        lines.append(f"N{i},{phone},{second},O{i}")
        if i % 50 == 0:
            lines.append(",,,")
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("phone\n+79145550014\n+79067770099\n", encoding="utf-8")  # an alternate, a primary
    results = []
    for workers in (0, 1, 2):
        store = Store(db_url)
        store.migrate()
        cid = store.ensure_campaign(f"w{workers}", kind="k")
        s = ListSettings.model_validate({"name": f"w{workers}", "kind": "k", "default_region": "RU", "exclusions": [str(dnc)],
                                         "list": {"phone_columns": ["phone", "phone2"],
                                                  "variables": {"ORDER_ID": {"column": "order_id", "kind": "token"}}}})
        report = store.import_list(cid, path, s, workers=workers, chunk_rows=40)
        contacts = rows(store, "SELECT phone, alternates, timezone, timezone_source, variables, row_number FROM contacts"
                               " WHERE campaign_id = :c ORDER BY id", c=cid)
        sources = rows(store, "SELECT s.row_number, k.phone FROM contact_sources s JOIN contacts k ON k.id = s.contact_id"
                              " WHERE k.campaign_id = :c ORDER BY s.row_number", c=cid)
        rejected = rows(store, 'SELECT row_number, "column", value, reason FROM rejects r JOIN uploads u ON u.id = r.upload_id'
                               " WHERE u.campaign_id = :c AND u.kind = 'list' ORDER BY row_number, reason", c=cid)
        results.append((counts(report), report.alternates_ignored, contacts, sources, rejected))
        store.close()
    assert results[0] == results[1] == results[2]
    (read, accepted, duplicate, excluded, rejected, blank), ignored, contacts, sources, rejects = results[0]
    # 18 rows have a bad first number; 5 of them a valid one in phone2 (rows 0, 119, 238, 187, 221).
    assert (read, blank, rejected, excluded) == (300, 6, 13, 2)
    assert accepted + duplicate == 300 - 13 - 2 and len(contacts) == accepted and len(sources) == 285
    assert ignored >= sum(1 for i in range(300) if i % 7 and i % 11 == 0 and i % 17)  # the bad part of each shared cell, at least
    by_row = {c[5]: c for c in contacts}
    alternates = by_row[2 + 7 + 1][1]  # row 7 (after one blank line) keeps its Vladivostok alternate
    assert (json.loads(alternates) if isinstance(alternates, str) else alternates) == ["+79145550007"]
    assert {c[3] for c in contacts} >= {"registry"}
    assert any(r[3].startswith("excluded: ") and r[2] == "+79145550014" for r in rejects)


def test_variables_round_trip_exactly(store, tmp_path):
    """Backslashes, quotes, tabs-free unicode and JSON-looking text survive COPY and JSON intact."""
    tricky = ['C:\\path\\to \\"x\\"', 'O\'Brien "Bob"', "Ёжик — 🦔", '{"not": "json"}', "\\N", "a\\tb"]
    path = tmp_path / "tricky.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phone", "text"])
        for i, text in enumerate(tricky):
            w.writerow([f"8906888{i:04d}", text])
    cid = store.ensure_campaign("tricky", kind="k")
    s = ListSettings.model_validate({"name": "tricky", "kind": "k", "list": {"variables": {"TEXT": "text"}}})
    assert store.import_list(cid, path, s).accepted == len(tricky)
    from datetime import datetime, timezone

    got = [c.variables["TEXT"] for c in store.due_contacts(cid, now=datetime.now(timezone.utc))]
    assert got == tricky


def test_export_adds_the_contacts_that_came_from_no_file(store, tmp_path):
    """Click-to-call requests and missed calls to recall are contacts too: after the file rows,
    with their number in an added column, their status, result and attempts."""
    from datetime import datetime, timezone

    from autodialer.store.adhoc import ensure_contact
    from autodialer.telephony.outcomes import CallResult, CallStatus

    cid = store.ensure_campaign("orders", kind="order_confirmation")
    store.import_list(cid, LISTS / "orders_utf8_bom.csv", settings("en"))
    contact_id = ensure_contact(store, cid, "+79069990001")
    ensure_contact(store, cid, "+79069990002")
    now = datetime.now(timezone.utc)
    assert store.claim_attempt(contact_id, attempt_id="cb1", number="+79069990001", now=now, max_attempts=3)
    store.finish_attempt(CallResult(attempt_id="cb1", number="+79069990001", status=CallStatus.BUSY),
                         contact_state="pending", next_attempt_at=None, contact_result=None)
    out = tmp_path / "out.csv"
    assert store.export("orders", out) == 12 + 2
    with out.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table[0][5:] == ["status", "result", "reject_reason", "attempts", "number", "timezone", "last_attempt",
                            "next_attempt", "last_cause"]
    assert table[1][0] == "Anna"
    assert table[-2][5:11] == ["BUSY", "", "", "1", "+79069990001", "Asia/Krasnoyarsk"]  # 906 999: a Tuva range
    assert table[-2][11].endswith("+07:00") and table[-2][:5] == [""] * 5
    assert table[-1][5:11] == ["", "", "", "0", "+79069990002", "Asia/Krasnoyarsk"]


def test_fewer_collections_nests_and_restores():
    """The bulk load's collector thresholds apply while any load runs and are put back after the last."""
    import gc

    from autodialer.store.bulk import BULK_GC_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], BULK_GC_THRESHOLD[0])
        with fewer_collections():
            assert gc.get_threshold()[0] == max(before[0], BULK_GC_THRESHOLD[0])
        assert gc.get_threshold()[0] == max(before[0], BULK_GC_THRESHOLD[0])
        assert gc.isenabled()
    assert gc.get_threshold() == before

"""Export a campaign's rows back to the data team: every non-blank row of every list they
uploaded, read again from the stored file, with its original columns plus status, result,
attempts and timezone (the zones its calling window is evaluated in, contacts.timezone). A row
that became a contact (or a duplicate of one) shows the contact's last status; a rejected row
shows status NOT_LOADED and the reason; an excluded row BLOCKED. CSV or XLSX by the output's
suffix.

Contacts that came from no file (click-to-call requests, missed calls to recall back) follow the
file rows, with their number in an added `number` column (E.164), there only when such contacts
exist.

Cells a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a leading
apostrophe (OWASP's CSV-injection advice), in CSV and XLSX alike.
"""

from __future__ import annotations

import csv
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from autodialer.errors import AutodialerError
from autodialer.store import schema as t

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ADDED = ("status", "result", "attempts", "timezone")  # timezone: the zones the window honours (contacts.timezone)
NOT_LOADED = "NOT_LOADED"
BLOCKED = "BLOCKED"


def neutralise(value) -> str:
    """A cell as text a spreadsheet will not evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _upload_rows(conn, upload, columns: list[str]) -> Iterator[list]:
    """Lines (original cells in `columns` order + status, result, attempts, timezone) of one upload."""
    from autodialer.lists.reading import ROW, open_list, reader_mapping

    s, c, r = t.contact_sources, t.contacts, t.rejects
    outcome = {
        row: (status, result, attempts, zones)
        for row, status, result, attempts, zones in conn.execute(
            sa.select(s.c.row_number, c.c.last_status, c.c.result, c.c.attempts, c.c.timezone)
            .join(c, c.c.id == s.c.contact_id)
            .where(s.c.upload_id == upload.id)
        )
    }
    for row, reason in conn.execute(
        sa.select(r.c.row_number, r.c.reason)
        .where(r.c.upload_id == upload.id, ~r.c.reason.startswith("alternate ignored:"))
        .order_by(r.c.id)
    ):
        if row not in outcome:
            outcome[row] = (BLOCKED if reason.startswith("excluded:") else NOT_LOADED, reason, 0, None)
    content = conn.execute(sa.select(t.upload_files.c.content).where(t.upload_files.c.upload_id == upload.id)).scalar()
    options = upload.read_options or {}
    if content is None:  # an upload from before files were kept: the outcomes without the cells
        for row in sorted(outcome):
            status, result, attempts, zones = outcome[row]
            yield [""] * len(columns) + [neutralise(status), neutralise(result), attempts, neutralise(zones)]
        return
    positions = [columns.index(col) for col in upload.columns]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{options.get('suffix') or '.csv'}"
        path.write_bytes(zlib.decompress(content) if options.get("compression") == "zlib" else content)
        listfile = open_list(path, reader_mapping(options), required=[])
        for chunk in listfile.chunks():
            # By position: the import may have respelled a header to the mapping's name.
            cells = [chunk.iloc[:, k].tolist() for k in range(len(upload.columns))]
            for i, row in enumerate(chunk[ROW].tolist()):
                if row not in outcome:  # a blank row
                    continue
                line = [""] * len(columns)
                for pos, values in zip(positions, cells):
                    line[pos] = neutralise(values[i])
                status, result, attempts, zones = outcome[row]
                yield line + [neutralise(status), neutralise(result), attempts, neutralise(zones)]


def export_campaign(store, campaign: str, out_path: Path) -> int:
    suffix = out_path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise AutodialerError(f"export file must end in .csv or .xlsx, got {out_path.name!r}")
    cid = store.campaign_id(campaign)
    u = t.uploads
    with store.engine.connect() as conn:
        uploads = conn.execute(
            sa.select(u.c.id, u.c.columns, u.c.read_options).where(u.c.campaign_id == cid, u.c.kind == "list").order_by(u.c.id)
        ).all()
        columns: list[str] = []
        for up in uploads:
            columns += [col for col in up.columns if col not in columns]
        header = columns + [f"dialer_{a}" if a in columns else a for a in ADDED]
        c = t.contacts
        adhoc = conn.execute(
            sa.select(c.c.phone, c.c.last_status, c.c.result, c.c.attempts, c.c.timezone)
            .where(c.c.campaign_id == cid, c.c.upload_id == t.NO_UPLOAD).order_by(c.c.id)
        ).all()
        if adhoc:
            header.append("dialer_number" if "number" in header else "number")

        def lines():
            for up in uploads:
                for line in _upload_rows(conn, up, columns):
                    yield line + [""] if adhoc else line
            for phone, status, result, attempts, zones in adhoc:
                yield [""] * len(columns) + [neutralise(status), neutralise(result), attempts, neutralise(zones), neutralise(phone)]

        out_path.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        if suffix == ".csv":
            with out_path.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel opens UTF-8 correctly
                writer = csv.writer(f)
                writer.writerow([neutralise(h) for h in header])
                for line in lines():
                    writer.writerow(line)
                    count += 1
        else:
            import openpyxl

            wb = openpyxl.Workbook(write_only=True)
            ws = wb.create_sheet("results")
            ws.append([neutralise(h) for h in header])
            for line in lines():
                ws.append(line)  # every original cell as text, so nothing is evaluated
                count += 1
            wb.save(out_path)
    return count

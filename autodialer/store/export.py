"""Export a campaign's rows back to the data team: the original columns plus status, result and
attempts, one line per source row (duplicates included), CSV or XLSX by the file's suffix.

Cells a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a leading
apostrophe (OWASP's CSV-injection advice), in CSV and XLSX alike.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import sqlalchemy as sa

from autodialer.errors import AutodialerError
from autodialer.store import schema as t

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ADDED = ("status", "result", "attempts")


def neutralise(value) -> str:
    """A cell as text a spreadsheet will not evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_campaign(store, campaign: str, out_path: Path) -> int:
    suffix = out_path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise AutodialerError(f"export file must end in .csv or .xlsx, got {out_path.name!r}")
    cid = store.campaign_id(campaign)
    s, u, c = t.contact_sources, t.uploads, t.contacts
    with store.engine.connect() as conn:
        uploads = conn.execute(
            sa.select(u.c.id, u.c.columns).where(u.c.campaign_id == cid, u.c.kind == "list").order_by(u.c.id)
        ).all()
        columns: list[str] = []
        for up in uploads:
            columns += [col for col in up.columns if col not in columns]
        names = [f"dialer_{a}" if a in columns else a for a in ADDED]
        header = columns + names
        query = (
            sa.select(s.c.upload_id, s.c.data, c.c.last_status, c.c.result, c.c.attempts)
            .join(c, c.c.id == s.c.contact_id)
            .where(c.c.campaign_id == cid)
            .order_by(s.c.upload_id, s.c.row_number)
        )
        rows = conn.execution_options(yield_per=10_000).execute(query)

        def lines():
            for r in rows:
                data = r.data if isinstance(r.data, dict) else json.loads(r.data)
                yield [neutralise(data.get(col, "")) for col in columns] + [
                    neutralise(r.last_status), neutralise(r.result), r.attempts]

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

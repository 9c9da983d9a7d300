"""Export a campaign's rows back to the data team: every non-blank row of every list they
uploaded, read again from the stored file, with its original columns, then what the dialer did
(ADDED): status, result (the business result: confirmed, q1=3;q2=1...), reject_reason (why the
row was not loaded or is blocked; never mixed into result), attempts, number (E.164, the number
dialed), timezone (the zones its calling window is evaluated in, contacts.timezone),
last_attempt and next_attempt (in the callee's local time, the first of its zones, else the
campaign's: `2026-12-02 10:15:00 +03:00`) and last_cause (the last attempt's hangup cause). A
rejected row shows status NOT_LOADED, an excluded row BLOCKED.

Contacts that came from no file (click-to-call requests, missed calls to recall back) follow the
file rows, with only the added columns filled.

CSV or XLSX by the output's suffix (autodialer/lists/writing.py: XLSX strings are text cells,
no apostrophe shown; CSV cells that would run as formulas get a leading apostrophe; `;` and a
`sep=` line on request).
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from autodialer.lists.writing import check_suffix, write_table
from autodialer.store import schema as t
from autodialer.store.types import to_utc

ADDED = ("status", "result", "reject_reason", "attempts", "number", "timezone", "last_attempt", "next_attempt", "last_cause")
NOT_LOADED = "NOT_LOADED"
BLOCKED = "BLOCKED"
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def local_time(when, zones: str | None, fallback: str) -> str:
    """`when` (UTC) in the callee's local time: the first usable of `zones`, else `fallback`."""
    if when is None:
        return ""
    from autodialer.rules.windows import usable_zone, zone

    name = next((z for z in (zones or "").split() if usable_zone(z)), fallback)
    text = to_utc(when if isinstance(when, datetime) else datetime.fromisoformat(str(when))).astimezone(zone(name)).strftime(LOCAL_FORMAT)
    return text[:-2] + ":" + text[-2:]  # +0300 -> +03:00


class _Outcomes:
    """What the dialer did for each contact of the campaign, as the export's added cells."""

    def __init__(self, conn, campaign_id: int, fallback_zone: str):
        c, a = t.contacts, t.attempts
        self.fallback = fallback_zone
        self.cause: dict[int, str] = {}
        for contact_id, cause, cause_txt in conn.execute(
            sa.select(a.c.contact_id, a.c.cause, a.c.cause_txt).where(a.c.campaign_id == campaign_id)
            .order_by(a.c.started_at, a.c.attempt_id)
        ):
            self.cause[contact_id] = " ".join(str(x) for x in (cause, cause_txt) if x not in (None, ""))
        self.contacts = {
            row.id: row for row in conn.execute(
                sa.select(c.c.id, c.c.phone, c.c.last_status, c.c.result, c.c.attempts, c.c.timezone, c.c.last_attempt_at,
                          c.c.next_attempt_at, c.c.upload_id).where(c.c.campaign_id == campaign_id))
        }

    def cells(self, contact_id: int) -> list:
        k = self.contacts[contact_id]
        return [k.last_status or "", k.result or "", "", k.attempts, k.phone, k.timezone or "",
                local_time(k.last_attempt_at, k.timezone, self.fallback), local_time(k.next_attempt_at, k.timezone, self.fallback),
                self.cause.get(contact_id, "")]

    @staticmethod
    def not_loaded(reason: str, number: str = "") -> list:
        status = BLOCKED if reason.startswith("excluded:") else NOT_LOADED
        return [status, "", reason, 0, number, "", "", "", ""]


def _upload_rows(conn, upload, columns: list[str], outcomes: _Outcomes) -> Iterator[list]:
    """Lines (original cells in `columns` order + ADDED) of one upload."""
    from autodialer.lists.reading import ROW, open_list, reader_mapping

    s, r = t.contact_sources, t.rejects
    added: dict[int, list] = {
        row: outcomes.cells(contact_id)
        for row, contact_id in conn.execute(sa.select(s.c.row_number, s.c.contact_id).where(s.c.upload_id == upload.id))
        if contact_id in outcomes.contacts
    }
    for row, reason, column, value in conn.execute(
        sa.select(r.c.row_number, r.c.reason, r.c.column, r.c.value)
        .where(r.c.upload_id == upload.id, ~r.c.reason.startswith("alternate ignored:"))
        .order_by(r.c.id)
    ):
        if row not in added:
            added[row] = _Outcomes.not_loaded(reason, value if reason.startswith("excluded:") else "")
    content = conn.execute(sa.select(t.upload_files.c.content).where(t.upload_files.c.upload_id == upload.id)).scalar()
    options = upload.read_options or {}
    if content is None:  # an upload from before files were kept: the outcomes without the cells
        for row in sorted(added):
            yield [""] * len(columns) + added[row]
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
                if row not in added:  # a blank row
                    continue
                line = [""] * len(columns)
                for pos, values in zip(positions, cells):
                    line[pos] = values[i]
                yield line + added[row]


def export_campaign(store, campaign: str, out_path: Path, *, delimiter: str = ",", sep_hint: bool = False) -> int:
    check_suffix(out_path)
    cid = store.campaign_id(campaign)
    u = t.uploads
    with store.engine.connect() as conn:
        settings = conn.execute(sa.select(t.campaigns.c.settings).where(t.campaigns.c.id == cid)).scalar() or {}
        fallback = ((settings.get("schedule") or {}).get("timezone")) or "UTC"
        uploads = conn.execute(
            sa.select(u.c.id, u.c.columns, u.c.read_options).where(u.c.campaign_id == cid, u.c.kind == "list").order_by(u.c.id)
        ).all()
        columns: list[str] = []
        for up in uploads:
            columns += [col for col in up.columns if col not in columns]
        header = columns + [f"dialer_{a}" if a in columns else a for a in ADDED]
        outcomes = _Outcomes(conn, cid, fallback)
        adhoc = sorted(i for i, k in outcomes.contacts.items() if k.upload_id == t.NO_UPLOAD)

        def lines():
            for up in uploads:
                yield from _upload_rows(conn, up, columns, outcomes)
            for contact_id in adhoc:
                yield [""] * len(columns) + outcomes.cells(contact_id)

        return write_table(out_path, header, lines(), delimiter=delimiter, sep_hint=sep_hint)

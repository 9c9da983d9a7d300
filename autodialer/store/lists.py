"""The store's side of lists in: uploads, their rejects and the exclusion (do-not-call) lists.

The import itself is autodialer/store/ingest.py; these are the Store methods that start it and
read back what an upload brought (its rejects, how it was read) and which numbers are excluded.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from autodialer.store import schema as t
from autodialer.store.uploads import IngestReport


class ListsMixin:
    """Store methods on uploads and exclusions (self.engine: Store's)."""

    def import_list(self, campaign_id: int, path, settings, *, global_exclusions=None, workers: int | None = None,
                    chunk_rows: int | None = None) -> IngestReport:
        """Load a contact list (CSV/XLSX) into the campaign. See autodialer.store.ingest.

        workers: processes preparing rows (None: 2 on a machine with 4+ CPUs, 1 on 2-3 (default_workers), used when the file has
        more than one chunk of `chunk_rows` rows; 0: all in this process)."""
        from autodialer.lists.reading import CHUNK_ROWS
        from autodialer.store.ingest import import_list

        return import_list(self, campaign_id, Path(path), settings, global_exclusions=global_exclusions or [],
                           workers=workers, chunk_rows=chunk_rows or CHUNK_ROWS)

    def reject_counts(self, upload_id: int) -> list[tuple[str, int]]:
        """(reason, rows) of an upload's rejects (alternates ignored on accepted rows left out)."""
        r = t.rejects
        with self.engine.connect() as conn:
            return [(reason, int(n)) for reason, n in conn.execute(
                sa.select(r.c.reason, sa.func.count()).where(r.c.upload_id == upload_id, ~r.c.reason.startswith("alternate ignored:"))
                .group_by(r.c.reason))]

    def rejects(self, upload_id: int) -> list[tuple[int, str, str, str]]:
        """(row, column, value, reason) of an upload's rejected rows, in row order."""
        r = t.rejects
        with self.engine.connect() as conn:
            return [tuple(x) for x in conn.execute(
                sa.select(r.c.row_number, r.c.column, r.c.value, r.c.reason)
                .where(r.c.upload_id == upload_id, ~r.c.reason.startswith("alternate ignored:")).order_by(r.c.row_number, r.c.id))]

    def upload_read_options(self, upload_id: int) -> dict:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.uploads.c.read_options).where(t.uploads.c.id == upload_id)).scalar() or {}

    def import_exclusions(self, path, *, campaign_id: int | None, default_region: str, mapping=None) -> IngestReport:
        """Load a do-not-call file (a `phone` column by default); campaign_id None = global."""
        from autodialer.store.ingest import import_exclusions

        return import_exclusions(self, Path(path), campaign_id=campaign_id, default_region=default_region, mapping=mapping)

    def excluded_numbers(self, campaign_id: int, numbers: list[str]) -> set[str]:
        """Which of `numbers` are on the campaign's or the global exclusion list (e.g. alternates)."""
        if not numbers:
            return set()
        e = t.exclusions
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(e.c.phone).where(
                    e.c.phone.in_(numbers), sa.or_(e.c.campaign_id.is_(None), e.c.campaign_id == campaign_id)
                )
            )
            return {r.phone for r in rows}

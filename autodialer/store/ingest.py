"""Loading lists and exclusion files into the store, chunk by chunk, in one transaction.

Rows are prepared in pandas (autodialer.lists.prepare) and written with COPY (PostgreSQL) or
executemany (SQLite) straight into contacts, contact_sources and rejects. The campaign's known
numbers are read once (imports into one campaign run one at a time: PostgreSQL, a transaction
advisory lock per campaign, never the campaign's row, so a run starting meanwhile is not held up
by a big file; SQLite has one writer anyway); a number already known is a duplicate whose source
row is linked to the existing contact. The file is opened and checked (header, limits: see
autodialer.lists.reading) before the transaction starts, so a file refused holds nothing.
Contact ids come from the table's own sequence. A file whose sha256 was loaded before adds nothing.
"""

from __future__ import annotations

import queue
import threading
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from autodialer.lists.errors import ListFileError
from autodialer.lists.mapping import ListMapping
from autodialer.lists.phones import PhoneNormalizer
from autodialer.lists.prepare import numbers_of, prepare_chunk
from autodialer.lists.parallel import default_workers, prepared_chunks
from autodialer.lists.reading import CHUNK_ROWS, open_list
from autodialer.store import schema as t
from autodialer.store.schema import ContactState
from autodialer.store.bulk import BULK_GC_THRESHOLD, copy_csv, copy_rows, copy_text, fewer_collections, insert_columns, rows_csv
from autodialer.store.errors import StoreError
from autodialer.store.uploads import IngestReport, file_sha256
from autodialer.store.types import sqlite_text

EXCLUSION_MAPPING = ListMapping(phone_columns=["phone"])
IMPORT_LOCK = 0x6C697374  # pg_advisory_xact_lock(IMPORT_LOCK, campaign id): one list import per campaign at a time


def _find_upload(conn, campaign_id: int | None, kind: str, sha: str):
    u = t.uploads
    cond = u.c.campaign_id.is_(None) if campaign_id is None else u.c.campaign_id == campaign_id
    return conn.execute(sa.select(u.c.id).where(cond, u.c.kind == kind, u.c.sha256 == sha)).scalar()


def _new_upload(conn, campaign_id: int | None, kind: str, listfile, sha: str) -> int:
    """The upload row, and the file itself (export reads the data team's rows back from it)."""
    path = listfile.path
    options = {"suffix": path.suffix.lower(), "encoding": listfile.encoding, "delimiter": listfile.delimiter,
               "header_row": listfile.header_row, "sheet": listfile.sheet, "compression": "zlib",
               "encoding_note": listfile.encoding_note}
    upload_id = int(
        conn.execute(
            t.uploads.insert()
            .values(campaign_id=campaign_id, kind=kind, file_name=path.name, sha256=sha,
                    columns=listfile.columns, read_options=options, imported_at=datetime.now(timezone.utc))
            .returning(t.uploads.c.id)
        ).scalar_one()
    )
    conn.execute(t.upload_files.insert().values(upload_id=upload_id, content=compress_file(path)))
    return upload_id


def compress_file(path: Path) -> bytes:
    """The file, zlib-compressed (a CSV shrinks ~5x), read in blocks so it is never whole in memory."""
    packer = zlib.compressobj(level=1)
    parts = []
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            parts.append(packer.compress(block))
    parts.append(packer.flush())
    return b"".join(parts)


def _write_rejects(conn, upload_id: int, rows: list[tuple[int, str, str, str]]) -> None:
    copy_rows(conn, "rejects", REJECT_COLUMNS, [(upload_id, r, col, value, reason) for r, col, value, reason in rows])


def _exclusion_map(conn, campaign_id: int | None) -> dict[str, str]:
    e = t.exclusions
    cond = e.c.campaign_id.is_(None)
    if campaign_id is not None:
        cond = sa.or_(cond, e.c.campaign_id == campaign_id)
    out: dict[str, str] = {}
    for phone, source in conn.execute(sa.select(e.c.phone, e.c.source).where(cond).order_by(e.c.id)):
        out.setdefault(phone, source)
    return out


def _check_campaign(conn, campaign_id: int) -> None:
    if conn.execute(sa.select(t.campaigns.c.id).where(t.campaigns.c.id == campaign_id)).scalar() is None:
        raise StoreError(f"no campaign with id {campaign_id} (Store.ensure_campaign first)")


class _Writer:
    """Runs the COPYs of one chunk while the next chunk is prepared (PostgreSQL: the driver
    releases the GIL while the server works). SQLite writes inline: one connection, one thread."""

    def __init__(self, conn, threaded: bool):
        self.conn = conn
        self.error: BaseException | None = None
        self.queue: queue.Queue | None = queue.Queue(maxsize=1) if threaded else None
        self.thread = threading.Thread(target=self._loop, name="ingest-writer", daemon=True) if threaded else None
        if self.thread:
            self.thread.start()

    def _loop(self):
        while (job := self.queue.get()) is not None:
            if self.error is None:
                try:
                    job()
                except BaseException as exc:  # re-raised in the caller's thread by submit()/close()
                    self.error = exc

    def submit(self, job) -> None:
        if self.error is not None:
            raise self.error
        if self.queue is None:
            job()
        else:
            self.queue.put(job)

    def close(self) -> None:
        if self.thread:
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


class _ContactIds:
    """New contact ids, from the contacts sequence (so inserts elsewhere can never collide).

    PostgreSQL: a block of n ids a chunk (nextval, then setval past the block), under an advisory
    lock that every import takes for this, on a second connection (sequences are outside
    transactions, and the import's connection belongs to the writer thread meanwhile); one
    nextval a row would cost ~4 s a million. SQLite: BEGIN IMMEDIATE holds the write lock for the
    whole import, so max(id) + 1... is ours."""

    LOCK = 0x61_64_69_64  # pg_advisory_xact_lock key of the contacts id reservation

    def __init__(self, store, conn, pg: bool):
        self.pg = pg
        if pg:
            self.seq_conn = store.engine.connect()
            self.next = None
        else:
            self.seq_conn = None
            self.next = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM contacts").scalar()

    def take(self, n: int) -> list[int]:
        if n == 0:
            return []
        if self.pg:
            c = self.seq_conn
            c.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", {"k": self.LOCK})
            first = c.exec_driver_sql("SELECT nextval(pg_get_serial_sequence('contacts', 'id'))").scalar()
            if n > 1:
                c.exec_driver_sql("SELECT setval(pg_get_serial_sequence('contacts', 'id'), %(last)s)", {"last": first + n - 1})
            c.commit()
            return list(range(first, first + n))
        ids = list(range(self.next, self.next + n))
        self.next += n
        return ids

    def close(self) -> None:
        if self.seq_conn is not None:
            self.seq_conn.close()


def import_list(store, campaign_id: int, path: Path, settings, *, global_exclusions: list, workers: int | None = None,
                chunk_rows: int = CHUNK_ROWS) -> IngestReport:
    with fewer_collections():
        return _import_list(store, campaign_id, path, settings, global_exclusions=global_exclusions, workers=workers,
                            chunk_rows=chunk_rows)


def _import_list(store, campaign_id: int, path: Path, settings, *, global_exclusions: list, workers: int | None,
                 chunk_rows: int) -> IngestReport:
    started = time.perf_counter()
    sub_reports = [
        store.import_exclusions(p, campaign_id=None, default_region=settings.default_region) for p in global_exclusions
    ] + [store.import_exclusions(p, campaign_id=campaign_id, default_region=settings.default_region) for p in settings.exclusions]
    report = IngestReport(file=path.name, exclusion_reports=sub_reports)
    if not path.is_file():
        raise ListFileError(f"list file not found: {path}")
    sha = file_sha256(path)
    mapping = settings.list
    pg = store.dialect == "postgresql"
    with store.engine.connect() as conn:
        _check_campaign(conn, campaign_id)
        existing = _find_upload(conn, campaign_id, "list", sha)
    if existing is not None:
        report.upload_id, report.already_imported = int(existing), True
        return report
    listfile = open_list(path, mapping, chunk_rows=chunk_rows)  # outside any transaction: the checks read the file
    with store.engine.begin() as conn:
        if pg:  # one import at a time per campaign: the map of known numbers below stays true
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s, %(c)s)", {"k": IMPORT_LOCK, "c": int(campaign_id)})
        existing = _find_upload(conn, campaign_id, "list", sha)  # loaded meanwhile by another import
        if existing is not None:
            report.upload_id, report.already_imported = int(existing), True
            return report
        upload_id = _new_upload(conn, campaign_id, "list", listfile, sha)
        report.upload_id = upload_id
        excluded_by = _exclusion_map(conn, campaign_id)
        c = t.contacts
        known: dict[str, int] = {p: i for p, i in conn.execute(sa.select(c.c.phone, c.c.id).where(c.c.campaign_id == campaign_id))}
        excl_column = mapping.phone_columns[0] if len(mapping.phone_columns) == 1 else ", ".join(mapping.phone_columns)
        now_text = sqlite_text(datetime.now(timezone.utc)) if not pg else datetime.now(timezone.utc).isoformat()
        contact_ids = _ContactIds(store, conn, pg)
        writer = _Writer(conn, threaded=pg)
        try:
            workers = default_workers() if workers is None else workers
            for prep in prepared_chunks(listfile, mapping, settings.default_region, workers=workers, gc_threshold=BULK_GC_THRESHOLD):
                report.read += prep.read
                report.blank += prep.blank
                report.rejected += len(prep.rejects)
                report.alternates_ignored += len(prep.notes)
                rejects = prep.rejects + prep.notes
                good = prep.good
                if len(good) and excluded_by:
                    numbers = [numbers_of(p, a) for p, a in zip(good["phone"].tolist(), good["alternates"].tolist())]
                    hit = pd.Series([any(n in excluded_by for n in ns) for ns in numbers], index=good.index)
                    if hit.any():
                        for r, ns in zip(good["row"].tolist(), numbers):
                            number = next((n for n in ns if n in excluded_by), None)
                            if number is None:
                                continue
                            rejects.append((int(r), excl_column, number, f"excluded: {excluded_by[number]}"))
                        report.excluded += int(hit.sum())
                        good = good[~hit]
                contacts_cols = sources_cols = None
                if len(good):
                    phones = good["phone"]
                    # Python set/dict look-ups: isin()/map() on a dict would copy all known numbers per chunk.
                    unseen = [p not in known for p in phones.tolist()]
                    new = ~phones.duplicated().to_numpy() & np.array(unseen, dtype=bool)
                    firsts = good[new]
                    ids = contact_ids.take(len(firsts))
                    known.update(zip(firsts["phone"].tolist(), ids))
                    report.accepted += len(firsts)
                    report.duplicate += len(good) - len(firsts)
                    n_new, n_all = len(firsts), len(good)
                    contacts_cols = (
                        ids,
                        [campaign_id] * n_new,
                        firsts["phone"].tolist(),
                        firsts["alternates"].tolist(),
                        firsts["timezone"].tolist(),
                        firsts["timezone_source"].tolist(),
                        firsts["variables"].tolist(),
                        [ContactState.PENDING.value] * n_new,
                        [0] * n_new,
                        [upload_id] * n_new,
                        firsts["row"].tolist(),
                        [now_text] * n_new,
                    )
                    sources_cols = (
                        [upload_id] * n_all,
                        good["row"].tolist(),
                        [known[p] for p in phones.tolist()],
                    )
                rejects.sort()
                writer.submit(_chunk_job(conn, pg, upload_id, contacts_cols, sources_cols, rejects))
        finally:
            writer.close()
            contact_ids.close()
        report.blank += listfile.skipped_blank
        conn.execute(
            t.uploads.update()
            .where(t.uploads.c.id == upload_id)
            .values(rows_read=report.read, blank=report.blank, accepted=report.accepted, duplicate=report.duplicate,
                    excluded=report.excluded, rejected=report.rejected)
        )
        if pg and report.accepted > 10_000:  # fresh statistics, so due_contacts is planned as index scans at once
            conn.exec_driver_sql("ANALYZE contacts")
            conn.exec_driver_sql("ANALYZE contact_sources")
    report.seconds = time.perf_counter() - started
    return report


REJECT_COLUMNS = ["upload_id", "row_number", '"column"', "value", "reason"]


CONTACT_COLUMNS = ["id", "campaign_id", "phone", "alternates", "timezone", "timezone_source", "variables", "state", "attempts",
                   "upload_id", "row_number", "created_at"]
SOURCE_COLUMNS = ["upload_id", "row_number", "contact_id"]


def _contacts_text(cols) -> str:
    """COPY text (tab-separated) of CONTACT_COLUMNS. Only the variables' JSON can hold a backslash;
    no value holds a tab, newline or carriage return (JSON escapes them)."""
    ids, campaign_ids, phones, alternates, zones, sources, variables, states, attempts, uploads, rows, created = cols
    if not ids:
        return ""
    # One f-string a row (half the cost of joining eleven fields); the constant columns are constant.
    # A number with no zone known: NULL, written as \x01 (JSON escapes control characters, so no
    # variable holds one) and turned into COPY's \N after the backslashes are escaped.
    fixed = f"{states[0]}\t{attempts[0]}\t{uploads[0]}"
    campaign, now = campaign_ids[0], created[0]
    text = "\n".join([f"{i}\t{campaign}\t{p}\t{a}\t{z or NULL_MARK}\t{s or NULL_MARK}\t{v}\t{fixed}\t{r}\t{now}"
                      for i, p, a, z, s, v, r in zip(ids, phones, alternates, zones, sources, variables, rows)]) + "\n"
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    return text.replace(NULL_MARK, "\\N") if NULL_MARK in text else text


NULL_MARK = "\x01"


def _sources_text(cols) -> str:
    uploads, rows, contact_ids = cols
    if not rows:
        return ""
    upload = uploads[0]
    return "\n".join([f"{upload}\t{r}\t{c}" for r, c in zip(rows, contact_ids)]) + "\n"


def _chunk_job(conn, pg: bool, upload_id, contacts_cols, sources_cols, rejects):
    """The chunk's writes as a callable. PostgreSQL: the COPY text is built now, in the caller's
    thread, so the writer thread only waits on the server."""
    reject_rows = [(upload_id, r, col, value, reason) for r, col, value, reason in rejects]
    if not pg:
        def job():
            if contacts_cols is not None:
                insert_columns(conn, "contacts", CONTACT_COLUMNS, contacts_cols)
                insert_columns(conn, "contact_sources", SOURCE_COLUMNS, sources_cols)
            copy_rows(conn, "rejects", REJECT_COLUMNS, reject_rows)
        return job
    payload = []
    if contacts_cols is not None:
        payload.append(("contacts", CONTACT_COLUMNS, _contacts_text(contacts_cols)))
        payload.append(("contact_sources", SOURCE_COLUMNS, _sources_text(sources_cols)))
    reject_text = rows_csv(reject_rows) if reject_rows else ""

    def job():
        for table, columns, text in payload:
            copy_text(conn, table, columns, text)
        copy_csv(conn, "rejects", REJECT_COLUMNS, reject_text)
    return job


def import_exclusions(store, path: Path, *, campaign_id: int | None, default_region: str, mapping=None) -> IngestReport:
    """Every valid number of the file (primary and alternates) becomes an exclusion entry; the
    source recorded (and shown in rejects as 'excluded: <source>') is the file name."""
    started = time.perf_counter()
    mapping = mapping or EXCLUSION_MAPPING
    report = IngestReport(file=path.name)
    if not path.is_file():
        raise StoreError(f"exclusion file not found: {path}")
    sha = file_sha256(path)
    with store.engine.begin() as conn:
        if campaign_id is not None:
            _check_campaign(conn, campaign_id)
        existing = _find_upload(conn, campaign_id, "exclusions", sha)
        if existing is not None:
            report.upload_id, report.already_imported = int(existing), True
            return report
        listfile = open_list(path, mapping)
        upload_id = _new_upload(conn, campaign_id, "exclusions", listfile, sha)
        report.upload_id = upload_id
        e = t.exclusions
        scope = e.c.campaign_id.is_(None) if campaign_id is None else e.c.campaign_id == campaign_id
        present = {p for (p,) in conn.execute(sa.select(e.c.phone).where(scope))}
        normalizer = PhoneNormalizer(default_region)
        now = datetime.now(timezone.utc)
        for chunk in listfile.chunks():
            prep = prepare_chunk(chunk, mapping, normalizer, listfile.columns)
            report.read += prep.read
            report.blank += prep.blank
            report.rejected += len(prep.rejects)
            report.alternates_ignored += len(prep.notes)
            _write_rejects(conn, upload_id, sorted(prep.rejects + prep.notes))
            new = []
            good = prep.good
            for numbers in [numbers_of(p, a) for p, a in zip(good["phone"].tolist(), good["alternates"].tolist())]:
                fresh = [n for n in numbers if n not in present]
                if fresh:
                    report.accepted += 1
                else:
                    report.duplicate += 1
                for n in fresh:
                    present.add(n)
                    new.append({"campaign_id": campaign_id, "phone": n, "source": path.name, "upload_id": upload_id, "added_at": now})
            if new:
                conn.execute(e.insert(), new)
        report.blank += listfile.skipped_blank
        conn.execute(
            t.uploads.update()
            .where(t.uploads.c.id == upload_id)
            .values(rows_read=report.read, blank=report.blank, accepted=report.accepted, duplicate=report.duplicate,
                    rejected=report.rejected)
        )
    report.seconds = time.perf_counter() - started
    return report

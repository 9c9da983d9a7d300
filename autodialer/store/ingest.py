"""Loading lists and exclusion files into the store, chunk by chunk, in one transaction.

Rows are prepared in pandas (autodialer.lists.prepare), staged into temporary tables with COPY
(PostgreSQL) or executemany (SQLite), and merged with one INSERT ... SELECT ... ON CONFLICT DO
NOTHING on (campaign_id, phone): a number already in the campaign is a duplicate whose source
row is still linked to the existing contact. A file whose sha256 was loaded before adds nothing.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from autodialer.lists.mapping import ListMapping
from autodialer.lists.phones import PhoneNormalizer
from autodialer.lists.prepare import prepare_chunk
from autodialer.lists.reading import open_list
from autodialer.store import schema as t
from autodialer.store.bulk import copy_frame, copy_rows
from autodialer.store.store import IngestReport, StoreError, _sha256
from autodialer.store.types import UtcDateTime

EXCLUSION_MAPPING = ListMapping(phone_columns=["phone"])


def _find_upload(conn, campaign_id: int | None, kind: str, sha: str):
    u = t.uploads
    cond = u.c.campaign_id.is_(None) if campaign_id is None else u.c.campaign_id == campaign_id
    return conn.execute(sa.select(u.c.id).where(cond, u.c.kind == kind, u.c.sha256 == sha)).scalar()


def _new_upload(conn, campaign_id: int | None, kind: str, path: Path, sha: str, columns: list[str]) -> int:
    return int(
        conn.execute(
            t.uploads.insert()
            .values(campaign_id=campaign_id, kind=kind, file_name=path.name, sha256=sha, columns=columns,
                    imported_at=datetime.now(timezone.utc))
            .returning(t.uploads.c.id)
        ).scalar_one()
    )


def _write_rejects(conn, upload_id: int, rows: list[tuple[int, str, str, str]]) -> None:
    copy_rows(conn, "rejects", ["upload_id", "row_number", '"column"', "value", "reason"],
              [(upload_id, r, col, value, reason) for r, col, value, reason in rows])


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


def import_list(store, campaign_id: int, path: Path, settings, *, global_exclusions: list) -> IngestReport:
    started = time.perf_counter()
    sub_reports = [
        store.import_exclusions(p, campaign_id=None, default_region=settings.default_region) for p in global_exclusions
    ] + [store.import_exclusions(p, campaign_id=campaign_id, default_region=settings.default_region) for p in settings.exclusions]
    report = IngestReport(file=path.name, exclusion_reports=sub_reports)
    if not path.is_file():
        raise StoreError(f"list file not found: {path}")
    sha = _sha256(path)
    mapping = settings.list
    pg = store.dialect == "postgresql"
    with store.engine.begin() as conn:
        _check_campaign(conn, campaign_id)
        existing = _find_upload(conn, campaign_id, "list", sha)
        if existing is not None:
            report.upload_id, report.already_imported = int(existing), True
            return report
        listfile = open_list(path, mapping)
        upload_id = _new_upload(conn, campaign_id, "list", path, sha, listfile.columns)
        report.upload_id = upload_id
        excluded_by = _exclusion_map(conn, campaign_id)
        temp = "TEMPORARY" if pg else "TEMP"
        on_commit = " ON COMMIT DROP" if pg else ""
        conn.exec_driver_sql("DROP TABLE IF EXISTS stage_contacts")
        conn.exec_driver_sql("DROP TABLE IF EXISTS stage_sources")
        conn.exec_driver_sql(
            f"CREATE {temp} TABLE stage_contacts (row_number integer, phone text, alternates text, timezone text,"
            f" timezones text, variables text){on_commit}"
        )
        conn.exec_driver_sql(f"CREATE {temp} TABLE stage_sources (row_number integer, phone text, data text){on_commit}")
        normalizer = PhoneNormalizer(settings.default_region)
        seen: set[str] = set()
        excl_column = mapping.phone_columns[0] if len(mapping.phone_columns) == 1 else ", ".join(mapping.phone_columns)
        staged_sources = 0
        for chunk in listfile.chunks():
            prep = prepare_chunk(chunk, mapping, normalizer, listfile.columns)
            report.read += prep.read
            report.blank += prep.blank
            report.rejected += len(prep.rejects)
            report.alternates_ignored += len(prep.notes)
            rejects = prep.rejects + prep.notes
            good = prep.good
            if len(good) and excluded_by:
                hit = good["phone"].isin(excluded_by.keys())
                multi = good["numbers"].map(len) > 1
                if multi.any():
                    hit |= good["numbers"].map(lambda ns: any(n in excluded_by for n in ns)) & multi
                if hit.any():
                    for r, numbers in good.loc[hit, ["row", "numbers"]].itertuples(index=False):
                        number = next(n for n in numbers if n in excluded_by)
                        rejects.append((int(r), excl_column, number, f"excluded: {excluded_by[number]}"))
                    report.excluded += int(hit.sum())
                    good = good[~hit]
            if len(good):
                dup = good["phone"].duplicated() | good["phone"].isin(seen)
                seen.update(good["phone"].tolist())
                firsts = good[~dup]
                stage = pd.DataFrame(
                    {
                        "row_number": firsts["row"].to_numpy(),
                        "phone": firsts["phone"].to_numpy(),
                        "alternates": [json.dumps(ns[1:]) for ns in firsts["numbers"]],
                        "timezone": firsts["timezone"].to_numpy(),
                        "timezones": firsts["timezones"].to_numpy(),
                        "variables": firsts["variables"].to_numpy(),
                    }
                )
                copy_frame(conn, "stage_contacts", stage)
                copy_frame(conn, "stage_sources", pd.DataFrame({"row_number": good["row"].to_numpy(), "phone": good["phone"].to_numpy(), "data": good["data"].to_numpy()}))
                staged_sources += len(good)
            rejects.sort()
            _write_rejects(conn, upload_id, rejects)

        cast = (lambda col: f"CAST(s.{col} AS jsonb)") if pg else (lambda col: f"s.{col}")
        if pg:
            conn.exec_driver_sql("ANALYZE stage_contacts")
            conn.exec_driver_sql("ANALYZE stage_sources")
        now = sa.bindparam("now", value=datetime.now(timezone.utc), type_=UtcDateTime)
        inserted = conn.execute(
            sa.text(
                "INSERT INTO contacts (campaign_id, phone, alternates, timezone, timezones, variables, state, attempts,"
                " upload_id, row_number, created_at)"
                f" SELECT :campaign_id, s.phone, {cast('alternates')}, s.timezone, {cast('timezones')}, {cast('variables')},"
                " 'pending', 0, :upload_id, s.row_number, :now"
                " FROM stage_contacts s WHERE true ORDER BY s.row_number"
                " ON CONFLICT (campaign_id, phone) DO NOTHING"
            ).bindparams(now),
            {"campaign_id": campaign_id, "upload_id": upload_id},
        ).rowcount
        conn.execute(
            sa.text(
                "INSERT INTO contact_sources (contact_id, upload_id, row_number, data)"
                f" SELECT c.id, :upload_id, s.row_number, {cast('data')}"
                " FROM stage_sources s JOIN contacts c ON c.campaign_id = :campaign_id AND c.phone = s.phone"
            ),
            {"campaign_id": campaign_id, "upload_id": upload_id},
        )
        report.accepted = int(inserted)
        report.duplicate = staged_sources - report.accepted
        conn.execute(
            t.uploads.update()
            .where(t.uploads.c.id == upload_id)
            .values(rows_read=report.read, blank=report.blank, accepted=report.accepted, duplicate=report.duplicate,
                    excluded=report.excluded, rejected=report.rejected)
        )
        if not pg:
            conn.exec_driver_sql("DROP TABLE stage_contacts")
            conn.exec_driver_sql("DROP TABLE stage_sources")
    report.seconds = time.perf_counter() - started
    return report


def import_exclusions(store, path: Path, *, campaign_id: int | None, default_region: str, mapping=None) -> IngestReport:
    """Every valid number of the file (primary and alternates) becomes an exclusion entry; the
    source recorded (and shown in rejects as 'excluded: <source>') is the file name."""
    started = time.perf_counter()
    mapping = mapping or EXCLUSION_MAPPING
    report = IngestReport(file=path.name)
    if not path.is_file():
        raise StoreError(f"exclusion file not found: {path}")
    sha = _sha256(path)
    with store.engine.begin() as conn:
        if campaign_id is not None:
            _check_campaign(conn, campaign_id)
        existing = _find_upload(conn, campaign_id, "exclusions", sha)
        if existing is not None:
            report.upload_id, report.already_imported = int(existing), True
            return report
        listfile = open_list(path, mapping)
        upload_id = _new_upload(conn, campaign_id, "exclusions", path, sha, listfile.columns)
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
            for numbers in prep.good["numbers"] if len(prep.good) else []:
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
        conn.execute(
            t.uploads.update()
            .where(t.uploads.c.id == upload_id)
            .values(rows_read=report.read, blank=report.blank, accepted=report.accepted, duplicate=report.duplicate,
                    rejected=report.rejected)
        )
    report.seconds = time.perf_counter() - started
    return report

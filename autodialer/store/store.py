"""The outcome store: contacts in, dialing state, attempts out. PostgreSQL or SQLite, one schema.

The campaign flows call due_contacts -> claim_attempt (before the originate) -> finish_attempt(s).
claim_attempt is a compare-and-set in one transaction, so two runs can never dial the same
contact at once and a crash after the claim can never cause a dial beyond the attempt cap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from autodialer.config import check_database_url, redact_database_url
from autodialer.outcomes import STOPPED_KEY, CallResult, CallStatus, FailureKind, stopped_by_pacing
from autodialer.safety import check_dial_number
from autodialer.store import schema as t
from autodialer.store.schema import ContactState
from autodialer.store.facts import abandoned, campaign_local_start, live_answered, machine_hangup
from autodialer.store.errors import StoreError
from autodialer.store.types import UtcDateTime, to_utc
from autodialer.store.uploads import IngestReport
from autodialer.zones import parse_stored

STALE_ERROR = "run died; outcome unknown"
PENDING = ContactState.PENDING.value
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Contact:
    id: int
    campaign_id: int
    phone: str  # E.164 with +
    alternates: list[str]
    # The zones the calling window must be open in (contacts.timezone; autodialer.zones): one
    # where the number says where the callee is, several where it cannot be narrowed (a
    # nationwide range, Yakutia's three zones); empty when none is known.
    timezones: list[str]
    timezone_source: str | None  # registry, area_code, phonenumbers, country (autodialer.zones.ZoneSource)
    variables: dict[str, str]
    attempts: int
    state: str
    last_status: str | None
    result: str | None
    next_attempt_at: datetime | None
    source: tuple[str, ...] = ()  # "file.csv:row" for every source row, duplicates included


@dataclass(frozen=True)
class Claim:
    """What claim_attempt did: `claimed` (truthy) and the attempt row is written; or not, and
    `limited_until` says when a contact-frequency limit lets the contact be called (its next
    attempt time was moved there, nothing counted), `reason` why."""

    claimed: bool
    limited_until: datetime | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.claimed


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Store:
    def __init__(self, url: str):
        self.url = check_database_url(url, source="store URL")
        self.dialect = sa.engine.make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            self.engine = sa.create_engine(self.url, connect_args={"timeout": 30})

            @sa.event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            @sa.event.listens_for(self.engine, "begin")
            def _sqlite_begin_immediate(conn):
                # Take the write lock at BEGIN so a read-then-write transaction cannot deadlock.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

            # pysqlite's own implicit BEGIN is disabled so ours is the only one.
            @sa.event.listens_for(self.engine, "connect", insert=True)
            def _no_implicit_begin(dbapi_conn, _record):
                dbapi_conn.isolation_level = None
        else:
            self.engine = sa.create_engine(self.url, pool_pre_ping=True)

    def __repr__(self) -> str:
        return f"Store({redact_database_url(self.url)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> None:
        """alembic upgrade head; idempotent. Only commands that write call it (import, run,
        `autodialer db upgrade`); read-only ones (status, export, reports) call require_current."""
        self.migrate_to("head")

    @staticmethod
    def head_revision() -> str:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def current_revision(self) -> str | None:
        """The database's alembic revision (None: no autodialer tables yet)."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    @staticmethod
    def probe(url: str, *, timeout: int = 5) -> str | None:
        """Connect once to `url` (at most `timeout` s on PostgreSQL) and return its alembic
        revision (None: no autodialer tables yet); the driver's error if it cannot connect. For
        the checks (`autodialer config --check`, preflight), which must not wait for a dead server."""
        url = check_database_url(url, source="store URL")
        engine = sa.create_engine(url, connect_args={"connect_timeout": timeout} if url.startswith("postgresql") else {})
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        finally:
            engine.dispose()

    def require_current(self) -> None:
        """For read-only commands: the database is at this code's migration, else a StoreError
        saying what to run. They never migrate: a DBA decides when the schema changes."""
        current, head = self.current_revision(), self.head_revision()
        if current == head:
            return
        if current is None:
            raise StoreError(f"{redact_database_url(self.url)} has no autodialer tables yet: run `autodialer db upgrade` "
                             "(or import a list)")
        raise StoreError(f"{redact_database_url(self.url)} is at migration {current}, this autodialer needs {head}: "
                         "run `autodialer db upgrade` (review the DDL first: alembic upgrade head --sql)")

    def migrate_to(self, revision: str, *, script_location: str | Path | None = None) -> None:
        """alembic upgrade (or downgrade, for an older revision / "base") to `revision`."""
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(script_location or MIGRATIONS))
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                # Table rebuilds (batch migrations) drop and rename tables that foreign keys and the
                # views reference: foreign keys are off for the migration (a PRAGMA that only works
                # outside a transaction) and checked after; legacy renames leave the views alone.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
                conn.connection.dbapi_connection.execute("PRAGMA legacy_alter_table=ON")
            try:
                with conn.begin():
                    if self.dialect == "postgresql":
                        # Two workers starting on a fresh database would both create the tables
                        # and one would fail: migrations take turns (the second finds head).
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('autodialer-migrate'))"))
                    self._run_migrations(conn, cfg, revision)
                if self.dialect == "sqlite":
                    broken = conn.connection.dbapi_connection.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(f"migration to {revision} left rows with broken references: {broken[:5]}")
            finally:
                if self.dialect == "sqlite":
                    conn.connection.dbapi_connection.execute("PRAGMA legacy_alter_table=OFF")
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @staticmethod
    def _run_migrations(conn, cfg, revision: str) -> None:
        from alembic import command
        from alembic.script import ScriptDirectory

        cfg.attributes["connection"] = conn
        current = None
        if sa.inspect(conn).has_table("alembic_version"):
            current = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        script = ScriptDirectory.from_config(cfg)
        target = script.get_revision(revision) if revision not in ("head", "base") else None
        older = revision == "base" or (
            current is not None
            and target is not None
            and target.revision != current
            and target.revision in {r.revision for r in script.iterate_revisions(current, "base")}
        )
        if older:
            command.downgrade(cfg, revision)
        else:
            command.upgrade(cfg, revision)

    # -- campaigns ---------------------------------------------------------------------------

    def ensure_campaign(self, name: str, *, kind: str, settings: dict | None = None) -> int:
        """Insert or update the campaign named `name`; returns its id."""
        if not name or len(name) > 200:
            raise StoreError(f"campaign name must be 1-200 characters, got {name!r}")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.campaigns.c.id).where(t.campaigns.c.name == name)).first()
            if row:
                conn.execute(t.campaigns.update().where(t.campaigns.c.id == row.id).values(kind=kind, settings=settings))
                return int(row.id)
            if self.dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = insert(t.campaigns).values(name=name, kind=kind, settings=settings, created_at=_now())
            stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"kind": kind, "settings": settings})
            conn.execute(stmt)
            return int(conn.execute(sa.select(t.campaigns.c.id).where(t.campaigns.c.name == name)).scalar_one())

    def save_pacing_state(self, campaign_id: int, queue: str, state: dict, *, now: datetime | None = None) -> None:
        """Keep what the campaign's pacer learned (one row per campaign, replaced)."""
        p = t.pacing_state
        with self.engine.begin() as conn:
            conn.execute(p.delete().where(p.c.campaign_id == campaign_id))
            conn.execute(p.insert().values(campaign_id=campaign_id, queue=queue, state=state,
                                           saved_at=to_utc(now, field="now") if now else _now()))

    def load_pacing_state(self, campaign_id: int) -> tuple[str, dict, datetime] | None:
        """(queue, state, saved_at) as last saved for the campaign, or None."""
        p = t.pacing_state
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(p.c.queue, p.c.state, p.c.saved_at).where(p.c.campaign_id == campaign_id)).first()
        return (row.queue, row.state, to_utc(row.saved_at, field="saved_at")) if row else None

    def campaign_settings(self) -> dict[str, dict]:
        """Each campaign's settings as registered by its last run or import, by name."""
        k = t.campaigns
        with self.engine.connect() as conn:
            return {name: settings or {} for name, settings in conn.execute(sa.select(k.c.name, k.c.settings))}

    def campaign_id(self, name: str) -> int:
        """The id of the campaign named `name`; StoreError naming the closest names on a miss."""
        import difflib

        with self.engine.connect() as conn:
            cid = conn.execute(sa.select(t.campaigns.c.id).where(t.campaigns.c.name == name)).scalar()
            if cid is None:
                names = [n for (n,) in conn.execute(sa.select(t.campaigns.c.name).order_by(t.campaigns.c.name))]
        if cid is None:
            near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            near += [n for n in names if n not in near and (name.lower() in n.lower() or n.lower() in name.lower())]
            hint = f"; did you mean {' or '.join(repr(n) for n in near[:3])}?" if near else (
                f" (campaigns: {', '.join(names[:10])})" if names else " (import a list for it first)")
            raise StoreError(f"no campaign named {name!r} in the store{hint}")
        return int(cid)

    # -- lists in ----------------------------------------------------------------------------

    def import_list(self, campaign_id: int, path, settings, *, global_exclusions=None, workers: int | None = None,
                    chunk_rows: int | None = None) -> IngestReport:
        """Load a contact list (CSV/XLSX) into the campaign. See autodialer.store.ingest.

        workers: processes preparing rows (None: 2 on a machine with 4+ CPUs, used when the file has
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

    # -- dialing state -----------------------------------------------------------------------

    def due_contacts(self, campaign_id: int, *, now: datetime, limit: int | None = None) -> list[Contact]:
        """Pending contacts whose next attempt is due: never-tried ones first (by id), then retries
        by next_attempt_at, id; numbers on an exclusion list (even one loaded after the import) are
        skipped. Two index scans (ix_contacts_due), so a batch is cheap on a million contacts."""
        c, e = t.contacts, t.exclusions
        now = to_utc(now, field="now")
        excluded = sa.exists().where(e.c.phone == c.c.phone, sa.or_(e.c.campaign_id.is_(None), e.c.campaign_id == c.c.campaign_id))
        base = sa.select(c).where(c.c.campaign_id == campaign_id, c.c.state == PENDING, ~excluded)
        fresh = base.where(c.c.next_attempt_at.is_(None)).order_by(c.c.id)
        retries = base.where(c.c.next_attempt_at <= now).order_by(c.c.next_attempt_at, c.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(fresh if limit is None else fresh.limit(limit)).all()
            if limit is None or len(rows) < limit:
                more = retries if limit is None else retries.limit(limit - len(rows))
                rows += conn.execute(more).all()
            return self._contacts(conn, rows)

    def contact(self, contact_id: int) -> Contact:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.contacts).where(t.contacts.c.id == contact_id)).all()
            if not rows:
                raise StoreError(f"no contact with id {contact_id}")
            return self._contacts(conn, rows)[0]

    def _contacts(self, conn, rows) -> list[Contact]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        sources: dict[int, list[str]] = {}
        s, u = t.contact_sources, t.uploads
        for i in range(0, len(ids), 5000):
            q = (
                sa.select(s.c.contact_id, u.c.file_name, s.c.row_number)
                .join(u, u.c.id == s.c.upload_id)
                .where(s.c.contact_id.in_(ids[i : i + 5000]))
                .order_by(s.c.contact_id, s.c.upload_id, s.c.row_number)
            )
            for r in conn.execute(q):
                sources.setdefault(r.contact_id, []).append(f"{r.file_name}:{r.row_number}")
        return [
            Contact(
                id=int(r.id),
                campaign_id=int(r.campaign_id),
                phone=r.phone,
                alternates=list(r.alternates or []),
                timezones=list(parse_stored(r.timezone)),
                timezone_source=r.timezone_source,
                variables=dict(r.variables or {}),
                attempts=int(r.attempts),
                state=r.state,
                last_status=r.last_status,
                result=r.result,
                next_attempt_at=r.next_attempt_at,
                source=tuple(sources.get(r.id, ())),
            )
            for r in rows
        ]

    def claim_attempt(
        self,
        contact_id: int,
        *,
        attempt_id: str,
        number: str,
        now: datetime,
        max_attempts: int,
        run_id: str | None = None,
        caller_id: str | None = None,
        trunk: str | None = None,
        rule=None,
    ) -> Claim:
        """Compare-and-set pending -> dialing (attempts += 1) and write the DIALING attempt row, in one
        transaction, before the originate. Falsy (nothing written) if claimed elsewhere or capped.

        `rule` (autodialer.frequency.FrequencyRule): the contact-frequency limits are checked in
        the same transaction, against every campaign's attempts to `number`, under a per-number
        lock (PostgreSQL: a transaction advisory lock; SQLite: BEGIN IMMEDIATE, one writer), so
        two campaigns sharing a number cannot both pass the check. Over a limit: the contact's
        next attempt time moves to when it is allowed, nothing is counted. The attempt row keeps
        the rule's callee facts (zones, local start, outside the window) and the start in the
        campaign's own zone (campaign_local_start: the analyst views' local hour and day)."""
        check_dial_number(number, field="number")
        now = to_utc(now, field="now")
        claim, insert_attempt = _claim_statements()
        facts = rule.facts(now) if rule is not None else {}
        with self.engine.begin() as conn:
            if rule is not None and rule.limits.any:
                limited = self._frequency_check(conn, contact_id, number, now, rule)
                if limited is not None:
                    return limited
            claimed = conn.execute(claim, {"b_id": contact_id, "b_max": max_attempts, "b_now": now}).first()
            if claimed is None:
                return Claim(False, reason="claimed by another run or attempt cap reached")
            campaign_zone = conn.execute(_campaign_zone_query(), {"b_campaign": claimed.campaign_id}).scalar()
            conn.execute(
                insert_attempt,
                {
                    "attempt_id": attempt_id,
                    "contact_id": contact_id,
                    "campaign_id": claimed.campaign_id,
                    "run_id": run_id,
                    "number": number,
                    "caller_id": caller_id,
                    "trunk": trunk,
                    "started_at": now,
                    "status": "DIALING",
                    "callee_zones": facts.get("callee_zones"),
                    "local_start": facts.get("local_start"),
                    "outside_window": facts.get("outside_window"),
                    "campaign_local_start": campaign_local_start(now, campaign_zone),
                },
            )
        return Claim(True)

    def _frequency_check(self, conn, contact_id: int, number: str, now: datetime, rule) -> Claim | None:
        """Inside the claim's transaction: lock the number, read its counted attempts of every
        campaign, ask the rule. A Claim (not claimed) when over a limit, its contact moved on."""
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                         {"k": "autodialer-number:" + number})
        c = t.contacts
        history = [(s, ab) for _, s, ab in self._counted_calls(conn, number, since=now - rule.limits.lookback())]
        limited = rule.verdict(history, now)
        if limited is None:
            return None
        if limited.until is not None:
            conn.execute(c.update().where(c.c.id == contact_id, c.c.state == PENDING)
                         .values(next_attempt_at=limited.until))
        return Claim(False, limited_until=limited.until, reason=limited.reason)

    @staticmethod
    def _counted_calls(conn, number: str, *, since: datetime) -> list[tuple[str, datetime, bool]]:
        from autodialer.store.facts import reached_callee

        a = t.attempts
        return [(i, to_utc(s, field="started_at"), bool(ab)) for i, s, ab in conn.execute(
            sa.select(a.c.attempt_id, a.c.started_at, abandoned(a)).where(
                a.c.number == number, a.c.started_at >= since, reached_callee(a)))]

    def counted_calls(self, number: str, *, since: datetime) -> list[tuple[str, datetime, bool]]:
        """The calls to `number` that count against the contact-frequency limits (reached the
        callee's phone, in flight included), every campaign, started at or after `since`: (attempt
        id, start, abandoned). What the claim's check reads, for scheduling a retry past them."""
        with self.engine.connect() as conn:
            return self._counted_calls(conn, number, since=to_utc(since, field="since"))

    def attempt_starts(self, contact_id: int, *, status: str, including: str | None = None) -> list[datetime]:
        """When the contact's attempts that ended with `status` began (and the attempt
        `including`, whatever it is recorded as yet: the one being decided)."""
        a = t.attempts
        which = a.c.status == status
        if including is not None:
            which = sa.or_(which, a.c.attempt_id == including)
        with self.engine.connect() as conn:
            return [to_utc(s, field="started_at") for (s,) in conn.execute(
                sa.select(a.c.started_at).where(a.c.contact_id == contact_id, which))]

    def finish_attempt(self, result: CallResult, *, contact_state: str, next_attempt_at: datetime | None,
                       contact_result: str | None = None, only_if_dialing: bool = False) -> bool:
        """Record a finished call: every CallResult field on the attempt row; the contact's state,
        last status, result and next attempt time, in one transaction. False when nothing was
        written (`only_if_dialing` and the attempt was already recorded)."""
        return self.finish_attempts([(result, contact_state, next_attempt_at, contact_result)],
                                    only_if_dialing=only_if_dialing) == 1

    def finish_attempts(self, items: list[tuple[CallResult, str, datetime | None, str | None]], *,
                        only_if_dialing: bool = False) -> int:
        """Bulk finish_attempt: one SELECT and two executemany statements in one transaction.
        Returns how many attempts were written.

        A result may overwrite an attempt already recorded (a journal replayed after another run
        resolved the attempt UNKNOWN: the journal knows better), and writing the same result twice
        changes nothing. `only_if_dialing` (a run resolving a dead run's attempts, which knows
        less) writes only attempts still DIALING. A contact is updated only if no *other* attempt
        of it is still DIALING or started later (a late result must not overwrite the state of a
        newer claim). A NOT_SENT result (the Originate never left, or Asterisk refused it: nothing
        rang) gives the attempt back: the contact's attempt counter goes down again, once, and its
        last status stays what it was."""
        if not items:
            return 0
        attempt_rows, contact_rows = [], []
        for result, state, next_at, contact_result in items:
            if state not in (ContactState.PENDING, ContactState.DONE):
                raise StoreError(f"contact_state must be 'pending' or 'done', got {state!r}")
            status = CallStatus(result.status).value
            attempt_rows.append(
                {
                    "b_attempt_id": result.attempt_id,
                    "status": status,
                    "reason": result.reason,
                    "cause": result.cause,
                    "cause_txt": result.cause_txt,
                    "dial_status": result.dial_status,
                    "channel_id": result.channel_id,
                    "other_channel_id": result.other_channel_id,
                    "channel": result.channel,
                    "action_id": result.action_id,
                    "queued_at": result.queued_at and to_utc(result.queued_at, field="queued_at"),
                    "answered_at": result.answered_at and to_utc(result.answered_at, field="answered_at"),
                    "ended_at": result.ended_at and to_utc(result.ended_at, field="ended_at"),
                    "talk_seconds": result.talk_seconds,
                    "events": list(result.events or []),
                    "error": result.error,
                    "failure": FailureKind(result.failure).value if result.failure is not None else None,
                    "amd_status": result.amd_status,
                    "amd_cause": result.amd_cause,
                    "amd_action": result.amd_action,
                    "amd_seconds": result.amd_seconds,
                    "stopped_by_pacing": stopped_by_pacing(result),
                }
            )
            contact_rows.append(
                {
                    "b_attempt_id": result.attempt_id,
                    "b_given_back": int(status == CallStatus.NOT_SENT.value),  # once: see below
                    "state": ContactState(state).value,
                    "last_status": status,
                    "result": contact_result,
                    "next_attempt_at": next_at and to_utc(next_at, field="next_attempt_at"),
                }
            )
        ids = [r["b_attempt_id"] for r in attempt_rows]
        update_attempt, update_contact = _finish_statements(tuple(k for k in attempt_rows[0] if k != "b_attempt_id"))
        a = t.attempts
        with self.engine.begin() as conn:
            prior: dict[str, tuple[int, str]] = {}  # attempt id -> (contact id, status before this write)
            for i in range(0, len(ids), 5000):
                query = (sa.select(a.c.attempt_id, a.c.contact_id, a.c.status)
                         .where(a.c.attempt_id.in_(ids[i : i + 5000])).with_for_update())
                prior.update((r.attempt_id, (r.contact_id, r.status)) for r in conn.execute(query))
            missing = [i for i in ids if i not in prior]
            if missing:
                raise StoreError(f"no attempt row for attempt_id(s) {', '.join(missing[:5])} (claim_attempt first)")
            keep = [k for k, i in enumerate(ids) if not only_if_dialing or prior[i][1] == "DIALING"]
            if not keep:
                return 0
            for k in keep:
                row = contact_rows[k]
                contact_id, was = prior[row["b_attempt_id"]]
                row["b_contact_id"] = contact_id
                if was == CallStatus.NOT_SENT.value:  # given back already: a replay does not give it back twice
                    row["b_given_back"] = 0
            conn.execute(update_attempt, [attempt_rows[k] for k in keep])
            conn.execute(update_contact, [contact_rows[k] for k in keep])
        return len(keep)

    def live_answers(self, campaign_id: int, *, since: datetime) -> list[tuple[datetime, bool, bool]]:
        """The campaign's live-answered attempts (ANSWERED, ABANDONED) and MACHINE hang-ups
        (outcomes.is_machine_hangup) that started at or after `since`, oldest first: (when
        answered, abandoned, machine hang-up), as the view live_answers has them. The
        abandonment cap counts them over its window, across runs (a hang-up as the campaign's
        amd.false_machine_rate of an abandoned call)."""
        since = to_utc(since, field="since")
        a = t.attempts
        when = sa.func.coalesce(a.c.answered_at, a.c.started_at)
        machine = machine_hangup(a)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(when, abandoned(a), sa.case((machine, 1), else_=0))
                .where(a.c.campaign_id == campaign_id, a.c.started_at >= since, sa.or_(live_answered(a), machine))
                .order_by(when)
            ).all()
        return [(to_utc(w, field="answered_at"), bool(ab), bool(m)) for w, ab, m in rows]

    def answered_attempts(self, campaign: str) -> list[sa.Row]:
        """The campaign's answered attempts in start order: phone, attempt_id, answered_at, events
        (what a survey's answers are read from)."""
        a, c, k = t.attempts, t.contacts, t.campaigns
        query = (sa.select(c.c.phone, a.c.attempt_id, a.c.answered_at, a.c.events)
                 .join(c, c.c.id == a.c.contact_id).join(k, k.c.id == a.c.campaign_id)
                 .where(k.c.name == campaign, a.c.answered_at.is_not(None))
                 .order_by(a.c.started_at, a.c.attempt_id))
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def status_counts(self, contact_id: int, *, excluding: str | None = None) -> dict[str, int]:
        """The contact's attempts by status; NO_ANSWER attempts that pacing stopped while they
        rang are counted apart, under "STOPPED"; NOT_SENT ones (given back) under their status.
        `excluding`: an attempt left out (the one being decided: whatever it was recorded as
        before, it is counted once, as its new result)."""
        a = t.attempts
        stopped = sa.and_(a.c.status == CallStatus.NO_ANSWER.value, a.c.failure == FailureKind.STOPPED_RINGING.value)
        key = sa.case((stopped, STOPPED_KEY), else_=a.c.status)
        query = sa.select(key, sa.func.count()).where(a.c.contact_id == contact_id)
        if excluding is not None:
            query = query.where(a.c.attempt_id != excluding)
        with self.engine.connect() as conn:
            rows = conn.execute(query.group_by(key))
            return {status: int(n) for status, n in rows}

    # -- outcomes out ------------------------------------------------------------------------

    def summary(self, campaign: str | None = None) -> list[dict]:
        query = "SELECT * FROM campaign_summary"
        params = {}
        if campaign is not None:
            query += " WHERE campaign = :campaign"
            params["campaign"] = campaign
        query += " ORDER BY campaign"
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(query), params).mappings().all()
        return [{k: (int(v) if isinstance(v, (int, float)) or type(v).__name__ == "Decimal" else v) for k, v in r.items()} for r in rows]

    def zone_counts(self, campaign_id: int) -> dict[str, int]:
        """Contacts of a campaign by what is known of their zone: `several` (not narrowed to one:
        the window must be open in every candidate), `none` (the campaign's zone stands in)."""
        c = t.contacts
        several = sa.func.sum(sa.case((c.c.timezone.like("% %"), 1), else_=0))
        none = sa.func.sum(sa.case((c.c.timezone.is_(None), 1), else_=0))
        with self.engine.connect() as conn:
            total, n_several, n_none = conn.execute(
                sa.select(sa.func.count(), several, none).where(c.c.campaign_id == campaign_id)).one()
        return {"contacts": int(total), "several": int(n_several or 0), "none": int(n_none or 0)}

    def export(self, campaign: str, out_path, *, delimiter: str = ",", sep_hint: bool = False) -> int:
        """Write the campaign's source rows with what the dialer did (CSV or XLSX by suffix;
        autodialer/store/export.py)."""
        from autodialer.store.export import export_campaign

        return export_campaign(self, campaign, Path(out_path), delimiter=delimiter, sep_hint=sep_hint)


@functools.lru_cache(maxsize=1)
def _claim_statements():
    """claim_attempt's compare-and-set UPDATE and its INSERT, built once."""
    c = t.contacts
    claim = (
        c.update()
        .where(c.c.id == sa.bindparam("b_id"), c.c.state == PENDING, c.c.attempts < sa.bindparam("b_max"))
        .values(state=ContactState.DIALING.value, attempts=c.c.attempts + 1, last_attempt_at=sa.bindparam("b_now", type_=UtcDateTime))
        .returning(c.c.campaign_id)
    )
    return claim, t.attempts.insert()


@functools.lru_cache(maxsize=1)
def _campaign_zone_query():
    """The campaign's own time zone (campaigns.settings' schedule.timezone), for the attempt's
    campaign_local_start."""
    c = t.campaigns
    return sa.select(c.c.settings[("schedule", "timezone")].as_string()).where(c.c.id == sa.bindparam("b_campaign"))


@functools.lru_cache(maxsize=4)
def _finish_statements(attempt_columns: tuple[str, ...]):
    """The two UPDATEs of finish_attempts, built once: building them costs more than running them."""
    a, c = t.attempts, t.contacts
    update_attempt = a.update().where(a.c.attempt_id == sa.bindparam("b_attempt_id")).values(
        **{k: sa.bindparam(k) for k in attempt_columns}
    )
    other, this = sa.alias(a, "other"), sa.alias(a, "this")
    started = sa.select(this.c.started_at).where(this.c.attempt_id == sa.bindparam("b_attempt_id")).scalar_subquery()
    superseded = sa.exists().where(  # another attempt of the contact in flight, or a later one
        other.c.contact_id == c.c.id, other.c.attempt_id != sa.bindparam("b_attempt_id"),
        sa.or_(other.c.status == "DIALING", other.c.started_at > started),
    )
    given_back = sa.bindparam("b_given_back", type_=sa.Integer)
    update_contact = (
        c.update()
        .where(c.c.id == sa.bindparam("b_contact_id"), ~superseded)
        .values(
            state=sa.bindparam("state"),
            attempts=c.c.attempts - given_back,
            last_status=sa.case((given_back == 1, c.c.last_status), else_=sa.bindparam("last_status")),
            result=sa.bindparam("result"),
            next_attempt_at=sa.bindparam("next_attempt_at", type_=UtcDateTime),
        )
    )
    return update_attempt, update_contact


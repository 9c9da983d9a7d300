"""The outcome store: contacts in, dialing state, attempts out. PostgreSQL or SQLite, one schema.

The campaign flows call due_contacts -> claim_attempt (before the originate) -> finish_attempt(s).
claim_attempt is a compare-and-set in one transaction, so two runs can never dial the same
contact at once and a crash after the claim can never cause a dial beyond the attempt cap.

Store is the one front door callers use; its methods live by what they store, one mixin a
module, so each concern reads on its own: contacts and the claim (store/contacts.py), attempts
and finishing them (store/attempts.py), campaigns and pacing state (store/campaigns.py), lists
in (store/lists.py), reports (store/reports.py). This module holds the connection and the schema's
migrations. The mixins import nothing from here (no import cycle).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from autodialer.config import check_database_url, redact_database_url
from autodialer.store.attempts import STALE_ERROR, AttemptsMixin
from autodialer.store.campaigns import CampaignsMixin
from autodialer.store.contacts import Claim, Contact, ContactsMixin
from autodialer.store.errors import StoreError
from autodialer.store.lists import ListsMixin
from autodialer.store.reports import ReportsMixin
from autodialer.store.uploads import IngestReport

__all__ = ["MIGRATIONS", "STALE_ERROR", "Claim", "Contact", "IngestReport", "Store", "StoreError"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _revision_of(conn) -> str | None:
    """The alembic revision the database on `conn` is at (None: no autodialer tables yet)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


class Store(ContactsMixin, AttemptsMixin, CampaignsMixin, ListsMixin, ReportsMixin):
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
            return _revision_of(conn)

    @staticmethod
    def probe(url: str, *, timeout: int = 5) -> str | None:
        """Connect once to `url` (at most `timeout` s on PostgreSQL) and return its alembic
        revision (None: no autodialer tables yet); the driver's error if it cannot connect. For
        the checks (`autodialer config --check`, preflight), which must not wait for a dead server."""
        url = check_database_url(url, source="store URL")
        engine = sa.create_engine(url, connect_args={"connect_timeout": timeout} if url.startswith("postgresql") else {})
        try:
            with engine.connect() as conn:
                return _revision_of(conn)
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
        current = _revision_of(conn)
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

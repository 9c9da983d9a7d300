"""Alembic environment. Store.migrate() passes its connection in; the `alembic` CLI (alembic.ini
at the repository root) uses the database AUTODIALER_DATABASE_URL names, so a DBA can review the
DDL (`alembic upgrade head --sql`) or check the revision (`alembic current`) without a URL in a file."""

import sqlalchemy as sa
from alembic import context

from autodialer.store.schema import metadata


class _NoRows:
    """What a data migration reads in offline (--sql) mode: nothing (there is no database)."""

    def all(self):
        return []

    def first(self):
        return None

    def scalar(self):
        return None

    def __iter__(self):
        return iter(())


class _OfflineBind:
    """op.get_bind() in offline mode: statements are written to the script as alembic writes
    them; a SELECT a data migration runs to backfill rows (0006's zones) reads nothing and is
    noted in the script instead (`autodialer db upgrade` runs the backfill on the database)."""

    def __init__(self, bind):
        self._bind = bind

    def execute(self, statement, *args, **kwargs):
        if getattr(statement, "is_select", False):
            context.get_context().impl.static_output(
                "-- offline: a data migration reads rows here and backfills them (autodialer db upgrade does it)")
            return _NoRows()
        if args or kwargs:  # an executemany of parameters read from rows: none offline
            return _NoRows()
        return self._bind.execute(statement)

    def __getattr__(self, name):
        return getattr(self._bind, name)


def _configure(**kwargs) -> None:
    context.configure(target_metadata=metadata, compare_type=True, **kwargs)
    if context.is_offline_mode():
        impl = context.get_context().impl
        impl.connection = _OfflineBind(impl.connection)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")  # SQLite ALTERs rebuild tables
else:
    from autodialer import config

    url = config.database_url()
    if context.is_offline_mode():
        _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"),
                   dialect_opts={"paramstyle": "named"})
    else:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                _configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
                conn.commit()
        finally:
            engine.dispose()

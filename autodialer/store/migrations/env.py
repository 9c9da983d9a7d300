"""Alembic environment: run with the connection Store.migrate() passes in (no alembic.ini needed)."""

from alembic import context

from autodialer.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - `alembic` CLI use; Store.migrate() always passes one
    raise RuntimeError("run migrations through autodialer.store.Store(url).migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need table rebuilds
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""Several workers starting on a fresh PostgreSQL database at once all get a migrated store
(without the advisory lock one of them fails or they deadlock on the DDL)."""

import threading

import pytest

from autodialer.store import Store

pytestmark = pytest.mark.postgres


def test_concurrent_migrations_take_turns(pg_url):
    errors: list[str] = []

    def worker():
        try:
            store = Store(pg_url)
            store.migrate()
            store.ensure_campaign("same", kind="bot")
            store.engine.dispose()
        except Exception as exc:  # collected, asserted below
            errors.append(repr(exc)[:300])

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a migration hung"
    assert errors == []
    assert [row["campaign"] for row in Store(pg_url).summary()] == ["same"]

"""The outcome store (SQLAlchemy 2; PostgreSQL in production, SQLite embedded)."""

from autodialer.store.store import STALE_ERROR, Contact, IngestReport, Store, StoreError, new_attempt_id

__all__ = ["Contact", "IngestReport", "STALE_ERROR", "Store", "StoreError", "new_attempt_id"]

"""The outcome store (SQLAlchemy 2; PostgreSQL in production, SQLite embedded)."""

from autodialer.store.store import STALE_ERROR, Claim, Contact, IngestReport, Store, StoreError, new_attempt_id

__all__ = ["Claim", "Contact", "IngestReport", "STALE_ERROR", "Store", "StoreError", "new_attempt_id"]

"""The outcome store (SQLAlchemy 2; PostgreSQL in production, SQLite embedded)."""

from autodialer.store.schema import ContactState
from autodialer.store.store import STALE_ERROR, Claim, Contact, IngestReport, Store, StoreError

__all__ = ["Claim", "Contact", "ContactState", "IngestReport", "STALE_ERROR", "Store", "StoreError"]

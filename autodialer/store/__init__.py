"""The outcome store (SQLAlchemy 2; PostgreSQL in production, SQLite embedded)."""

from autodialer.store.schema import ContactState
from autodialer.store.errors import StoreError
from autodialer.store.store import STALE_ERROR, Claim, Contact, Store
from autodialer.store.uploads import IngestReport

__all__ = ["Claim", "Contact", "ContactState", "IngestReport", "STALE_ERROR", "Store", "StoreError"]

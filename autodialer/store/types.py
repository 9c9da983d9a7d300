"""Column types that behave the same on PostgreSQL and SQLite.

UtcDateTime: timezone-aware UTC datetimes in and out. PostgreSQL stores `timestamptz`; SQLite
stores fixed-width ISO 8601 text (`2026-11-28 01:02:03.000000+00:00`), which sorts and compares
as time and which SQLite's date functions read. A naive datetime is refused: its zone is unknown.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f+00:00"


def utc_now() -> datetime:
    """Now, timezone-aware UTC (what the store writes when no time is given)."""
    return datetime.now(timezone.utc)


def to_utc(value: datetime, *, field: str = "timestamp") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: naive datetime {value.isoformat()} (pass a timezone-aware UTC datetime)")
    return value.astimezone(timezone.utc)


def sqlite_text(value: datetime) -> str:
    return to_utc(value).strftime(SQLITE_FORMAT)


class UtcDateTime(TypeDecorator):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return sqlite_text(value)
        return to_utc(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:  # SQLite text written by hand without an offset: UTC by convention
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# JSON documents: jsonb on PostgreSQL (queryable by analysts), JSON text on SQLite.
Json = sa.JSON().with_variant(JSONB(), "postgresql")
# Integer primary keys: bigint on PostgreSQL, INTEGER (the rowid) on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

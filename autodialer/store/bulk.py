"""Bulk writes: COPY on PostgreSQL, executemany on SQLite; never a row at a time.

On PostgreSQL the text for COPY is built separately (`rows_csv`, or the import's own text
builders) from sending it (`copy_text`, `copy_csv`), so an import can build the next chunk's text
while the server loads the previous one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import sqlalchemy as sa

COPY_BLOCK = 1 << 20  # characters handed to the driver at a time (its default, 8 KiB, costs a call each)


def _csv_field(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return '"' + str(value).replace('"', '""') + '"'


def rows_csv(rows: Sequence[Sequence]) -> str:
    """COPY csv text. Strings are always quoted (an unquoted empty field means NULL), None is NULL."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    for row in rows:
        if any(v is None for v in row):
            buf.write(",".join("" if v is None else _csv_field(v) for v in row) + "\n")
        else:
            writer.writerow(row)
    return buf.getvalue()


def copy_csv(conn: sa.Connection, table: str, columns: Sequence[str], text: str) -> None:
    if not text:
        return
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", io.StringIO(text), size=COPY_BLOCK)


def copy_rows(conn: sa.Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> int:
    """Append `rows` (tuples of str/int/float/None) to `table` inside the connection's transaction."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        copy_csv(conn, table, columns, rows_csv(rows))
    else:
        placeholders = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", [tuple(r) for r in rows])
    return len(rows)


def copy_text(conn: sa.Connection, table: str, columns: Sequence[str], text: str) -> None:
    if not text:
        return
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text), size=COPY_BLOCK)


def insert_columns(conn: sa.Connection, table: str, columns: Sequence[str], values: Sequence[Sequence]) -> None:
    """executemany of column lists (SQLite)."""
    if not values or not len(values[0]):
        return
    placeholders = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", list(zip(*values)))

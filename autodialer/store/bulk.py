"""Bulk writes: COPY on PostgreSQL, executemany on SQLite; never a row at a time.

On PostgreSQL the text for COPY is built separately (`rows_csv`, or the import's own text
builders) from sending it (`copy_text`, `copy_csv`), so an import can build the next chunk's text
while the server loads the previous one.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import threading
from collections.abc import Iterator, Sequence

import sqlalchemy as sa

COPY_BLOCK = 1 << 20  # characters handed to the driver at a time (its default, 8 KiB, costs a call each)
# CPython's collector while a bulk load runs: a young-generation pass every 50,000 net allocations
# instead of 700, and a full pass a fifth as often (see fewer_collections).
BULK_GC_THRESHOLD = (50_000, 20, 50)
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the collector less often for the duration of a bulk load.

    A million-row import allocates millions of small objects that live until the load ends (the
    phone cache's tuples, each chunk's lists and object arrays) and creates no cycles worth
    collecting; with the default thresholds (700, 10, 10) the collector rescans them over and
    over: ~5 s of the ~23 s the client spent on the million-row bench (`bench/list_ingest.py`,
    18 s with these thresholds, 17 s with the collector off). The collector stays on (another
    thread's cycles are still freed) and the thresholds are put back when the last nested load ends.
    """
    global _gc_depth, _gc_saved
    with _gc_lock:
        if _gc_depth == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*(max(a, b) for a, b in zip(_gc_saved, BULK_GC_THRESHOLD)))
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                _gc_saved = None


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

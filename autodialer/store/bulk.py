"""Bulk writes: COPY on PostgreSQL, executemany on SQLite; never a row at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import sqlalchemy as sa


def copy_rows(conn: sa.Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> int:
    """Append `rows` (tuples of str/int/None) to `table` inside the connection's transaction."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        buf = io.StringIO()
        writer = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        # COPY csv reads an unquoted empty field as NULL and a quoted one as "": strings are
        # quoted (QUOTE_NONNUMERIC), and None is written as a bare empty field by hand.
        for row in rows:
            if any(v is None for v in row):
                buf.write(",".join("" if v is None else _csv_field(v) for v in row) + "\n")
            else:
                writer.writerow(row)
        buf.seek(0)
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buf)
        return len(rows)
    placeholders = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", [tuple(r) for r in rows])
    return len(rows)


def copy_frame(conn: sa.Connection, table: str, frame) -> int:
    """Append a DataFrame (columns named as the table's) the fast way for each backend."""
    if len(frame) == 0:
        return 0
    columns = list(frame.columns)
    if conn.dialect.name == "postgresql":
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False, na_rep="", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        buf.seek(0)
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buf)
        return len(frame)
    placeholders = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        list(frame.itertuples(index=False, name=None)),
    )
    return len(frame)


def _csv_field(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return '"' + str(value).replace('"', '""') + '"'

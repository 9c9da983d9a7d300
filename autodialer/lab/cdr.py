"""The lab's CDR: one row per channel of a call when the call ends, in cdr_pgsql's table, as
Asterisk's cdr_pgsql writes them (uniqueid = the channel's Uniqueid, so the Originate's ChannelId
and OtherChannelId for its Local ;1 and ;2 legs: ../shared/asterisk-22/cdr_resync_during_call.csv).

Times are wall-clock seconds (not time-scaled): the dialer reads them as times. A lab that is
stopped with calls up writes nothing for them, as an Asterisk that dies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

log = logging.getLogger("autodialer.lab.cdr")

# cdr_pgsql's table, as Asterisk's contrib/scripts create it.
CDR_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
  calldate timestamptz NOT NULL DEFAULT now(), clid varchar(80) NOT NULL DEFAULT '',
  src varchar(80) NOT NULL DEFAULT '', dst varchar(80) NOT NULL DEFAULT '', dcontext varchar(80) NOT NULL DEFAULT '',
  channel varchar(80) NOT NULL DEFAULT '', dstchannel varchar(80) NOT NULL DEFAULT '',
  lastapp varchar(80) NOT NULL DEFAULT '', lastdata varchar(80) NOT NULL DEFAULT '',
  duration bigint NOT NULL DEFAULT 0, billsec bigint NOT NULL DEFAULT 0, disposition varchar(45) NOT NULL DEFAULT '',
  amaflags bigint NOT NULL DEFAULT 0, accountcode varchar(20) NOT NULL DEFAULT '', uniqueid varchar(150) NOT NULL DEFAULT '',
  userfield varchar(255) NOT NULL DEFAULT ''
)"""

# Hangup cause of a leg that was never answered -> its disposition (cdr.c's mapping, simplified).
_DISPOSITIONS = {17: "BUSY", 18: "NO ANSWER", 19: "NO ANSWER", 16: "NO ANSWER", 34: "CONGESTION", 38: "CONGESTION",
                 41: "CONGESTION", 42: "CONGESTION"}


def disposition(answered: bool, cause: int | None) -> str:
    return "ANSWERED" if answered else _DISPOSITIONS.get(cause, "FAILED")


class CdrWriter:
    def __init__(self, url: str, table: str = "cdr"):
        import sqlalchemy as sa

        from autodialer.telephony.safety import check_token

        self.table = check_token(table, field="cdr_table")
        self.engine = sa.create_engine(url)
        with self.engine.begin() as conn:
            conn.execute(sa.text(CDR_DDL.format(table=self.table)))
        self._pending: set[asyncio.Future] = set()
        self.rows_written = 0

    def rows_for(self, call, channels) -> list[dict]:
        mono, wall = time.monotonic(), datetime.now(timezone.utc)
        out = []
        for ch in channels:
            end = ch.ended_at if ch.ended_at is not None else mono
            answered = ch.up_at is not None
            out.append({
                "calldate": wall - timedelta(seconds=mono - ch.created),
                "clid": f'"{ch.cid_name}" <{ch.cid_num}>', "src": "", "dst": ch.exten, "dcontext": ch.context,
                "channel": ch.name, "lastapp": ch.app or "", "lastdata": (ch.appdata or "")[:80],
                "duration": int(round(end - ch.created)),
                "billsec": int(round(end - ch.up_at)) if answered else 0,
                "disposition": disposition(answered, ch.cause), "uniqueid": ch.uniqueid,
                "accountcode": call.req.account or "",
            })
        return out

    def record(self, call, channels) -> None:
        """Write the call's rows in a thread; never blocks the lab's loop."""
        rows = self.rows_for(call, channels)
        if not rows:
            return
        future = asyncio.get_running_loop().run_in_executor(None, self._insert, rows)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _insert(self, rows: list[dict]) -> None:
        import sqlalchemy as sa

        cols = list(rows[0])
        stmt = sa.text(f"INSERT INTO {self.table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt, rows)
            self.rows_written += len(rows)
        except Exception:
            log.exception("writing %d CDR rows failed", len(rows))

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        self.engine.dispose()

"""How a call ended, from Asterisk's CDR table, for a call whose end the AMI did not show us (it
ended while the link was down).

Every attempt's Originate sets ChannelId = the attempt id and OtherChannelId = `<id>-b`, and
Asterisk writes them as the `uniqueid` of the Local ;1 and ;2 legs' CDR rows
(../shared/asterisk-22/cdr_resync_during_call.csv). ;2 is the leg that rang the callee; an
answered call has ANSWERED on its rows and the talk time in the ;2 row's billsec (the ;1 row of a
call that went into ConfBridge may say billsec 0). The table is the standard cdr_pgsql one
(autodialer.recall.missed.cdr_table): calldate is the start, the end is calldate + duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from autodialer.telephony.outcomes import CallStatus

DISPOSITIONS = {
    "ANSWERED": CallStatus.ANSWERED,
    "NO ANSWER": CallStatus.NO_ANSWER,
    "BUSY": CallStatus.BUSY,
    "CONGESTION": CallStatus.CONGESTION,
    "FAILED": CallStatus.FAILED,
}


@dataclass(frozen=True)
class CdrOutcome:
    status: CallStatus
    disposition: str
    answered_at: datetime | None
    ended_at: datetime | None
    talk_seconds: float | None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def outcome_from_rows(attempt_id: str, rows: list[dict]) -> CdrOutcome | None:
    """The call's outcome from its legs' CDR rows (dicts with uniqueid, calldate, duration,
    billsec, disposition); None when there are none or none says anything we know."""
    legs = [r for r in rows if r.get("uniqueid") in (attempt_id, f"{attempt_id}-b")]
    answered = [r for r in legs if (r.get("disposition") or "").upper() == "ANSWERED"]
    if answered:
        row = max(answered, key=lambda r: (r.get("billsec") or 0, r.get("uniqueid") == f"{attempt_id}-b"))
        start = _utc(row.get("calldate"))
        billsec = int(row.get("billsec") or 0)
        end = start + timedelta(seconds=int(row.get("duration") or 0)) if start else None
        return CdrOutcome(CallStatus.ANSWERED, "ANSWERED", end - timedelta(seconds=billsec) if end else None, end,
                          float(billsec))
    # Not answered: the ;2 leg (the one that rang the callee) says how, else ;1.
    for uid in (f"{attempt_id}-b", attempt_id):
        for row in legs:
            status = DISPOSITIONS.get((row.get("disposition") or "").upper())
            if row.get("uniqueid") == uid and status is not None:
                start = _utc(row.get("calldate"))
                end = start + timedelta(seconds=int(row.get("duration") or 0)) if start else None
                return CdrOutcome(status, row["disposition"].upper(), None, end, None)
    return None


CDR_URL_VAR = "AUTODIALER_CDR_DATABASE_URL"


def cdr_reader_from_env(env=None, *, table: str = "cdr") -> "CdrReader | None":
    """The CDR reader of a deployment that has Asterisk's CDR database (AUTODIALER_CDR_DATABASE_URL),
    else None (calls that end during an AMI outage are then UNKNOWN)."""
    import os

    import sqlalchemy as sa

    from autodialer.config import check_database_url

    url = (os.environ if env is None else env).get(CDR_URL_VAR)
    if not url:
        return None
    return CdrReader(sa.create_engine(check_database_url(url, source=CDR_URL_VAR), pool_pre_ping=True), table)


class CdrReader:
    """Reads the rows of an attempt's legs from the CDR table (blocking: run it in a thread)."""

    def __init__(self, engine, table: str = "cdr"):
        from autodialer.telephony.safety import check_token

        self.engine = engine
        self.table = check_token(table, field="cdr_table")

    def rows(self, attempt_id: str) -> list[dict]:
        import sqlalchemy as sa

        from autodialer.recall.missed import cdr_table

        cdr = cdr_table(self.table)
        query = sa.select(cdr.c.uniqueid, cdr.c.calldate, cdr.c.duration, cdr.c.billsec, cdr.c.disposition).where(
            cdr.c.uniqueid.in_([attempt_id, f"{attempt_id}-b"]))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def outcome(self, attempt_id: str) -> CdrOutcome | None:
        return outcome_from_rows(attempt_id, self.rows(attempt_id))

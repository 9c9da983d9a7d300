"""The SQL forms of the outcome definitions the compliance rules count (autodialer.telephony.outcomes):
which attempts reached the callee's phone, which are live-answered, which abandoned. The store's
queries use these; the views `contact_attempts` and `live_answers` (migration 0007) are written
from the same sets, and tests/test_compliance.py checks every status against both."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from autodialer.telephony.outcomes import (ABANDONED_STATUSES, LIVE_ANSWERED_STATUSES, MACHINE_HANGUP_ACTION, NOT_REACHING_FAILURES,
                                 NOT_REACHING_STATUSES, CallStatus)


def _values(items) -> list[str]:
    return sorted(i.value for i in items)


def reached_callee(a):
    """outcomes.reached_callee over the attempts table (or an alias of it)."""
    return sa.and_(~a.c.status.in_(_values(NOT_REACHING_STATUSES)),
                   sa.or_(a.c.failure.is_(None), ~a.c.failure.in_(_values(NOT_REACHING_FAILURES))))


def live_answered(a):
    return a.c.status.in_(_values(LIVE_ANSWERED_STATUSES))


def abandoned(a):
    """1 for an abandoned attempt, else 0 (a number, so it sums)."""
    return sa.case((a.c.status.in_(_values(ABANDONED_STATUSES)), 1), else_=0)


def machine_hangup(a):
    """outcomes.is_machine_hangup over the attempts table: a MACHINE call AMD hung up on (a person
    among them counts as abandoned, weighted by amd.false_machine_rate)."""
    return sa.and_(a.c.status == CallStatus.MACHINE.value, a.c.amd_action == MACHINE_HANGUP_ACTION)


def sql_list(items) -> str:
    """`'A', 'B'`: the set as SQL literals, for the views' text."""
    return ", ".join(f"'{v}'" for v in _values(items))


def campaign_local_start(started: datetime, zone_name: str | None) -> str:
    """attempts.campaign_local_start: the start in the campaign's own time zone
    ('YYYY-MM-DD HH:MM:SS'), the analyst views' local hour and day (attempts_hourly.local_hour,
    abandonment_daily.day, caller_id_daily.day; migration 0010). Written with the attempt, so
    the views read the same on PostgreSQL and SQLite (which has no time zone database). A zone
    this machine cannot use: UTC."""
    from autodialer.rules.windows import usable_zone, zone

    tz = zone(zone_name) if usable_zone(zone_name) else timezone.utc
    return started.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

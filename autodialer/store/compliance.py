"""What the compliance report reads (autodialer/reports/compliance.py): the compliance_daily view's days,
the report's attempts with the facts it recounts (zones, the run's settings), the counted
attempts of numbers recounted in every zone's calendar, and the campaign's stored settings.

The report decides what the rows mean (windows then, calendar peaks, the abandonment window);
these are its queries, here so that SQL of our tables stays inside the store.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from autodialer.store import schema as t
from autodialer.store.facts import reached_callee


def compliance_days(store, campaign: str, first: str, last: str) -> list:
    """compliance_daily's rows of `campaign` for the days `first`..`last` (ISO dates), by day."""
    with store.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT * FROM compliance_daily WHERE campaign = :c AND day >= :a AND day <= :b ORDER BY day"),
            {"c": campaign, "a": first, "b": last}).mappings().all()


def report_attempts(store, campaign_id: int, first: str, last: str) -> list:
    """The campaign's counted attempts (contact_attempts) of the callee-local days `first`..`last`:
    (local_day, started_at, callee_zones, the contact's zones, the run's settings, number) each."""
    with store.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT ca.local_day, ca.started_at, ca.callee_zones, k.timezone, r.settings, ca.number FROM contact_attempts ca "
            "JOIN attempts a ON a.attempt_id = ca.attempt_id "
            "LEFT JOIN contacts k ON k.id = ca.contact_id LEFT JOIN runs r ON r.run_id = a.run_id "
            "WHERE ca.campaign_id = :cid AND ca.local_day >= :a AND ca.local_day <= :b"),
            {"cid": campaign_id, "a": first, "b": last}).all()


def reached_starts(store, numbers: set, since: datetime, before: datetime) -> dict[str, list]:
    """When each of `numbers` was called and the call reached the callee (facts.reached_callee,
    every campaign), started in [`since`, `before`): {number: [started_at, ...]}."""
    out: dict[str, list] = {}
    if not numbers:
        return out
    a = t.attempts
    chosen = sorted(numbers)
    with store.engine.connect() as conn:
        for i in range(0, len(chosen), 1000):
            for number, started in conn.execute(sa.select(a.c.number, a.c.started_at).where(
                    a.c.number.in_(chosen[i:i + 1000]), a.c.started_at >= since, a.c.started_at < before,
                    reached_callee(a))):
                out.setdefault(number, []).append(started)
    return out


MISSING = object()  # stored_settings' answer for a campaign the store does not have


def stored_settings(store, name: str):
    """campaigns.settings of the campaign named `name` (None if it has none), or MISSING."""
    k = t.campaigns
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(k.c.settings).where(k.c.name == name)).first()
    return MISSING if row is None else row.settings

"""What the store reports back: the campaign summary, zones of its contacts, live answers for the
pacer's abandonment window, a survey's answered attempts, the export (Store's report methods).

Reads only: the definitions of live-answered, abandoned and machine hang-up are
autodialer/store/facts.py's, shared with the analysts' views.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from autodialer.store import schema as t
from autodialer.store.facts import abandoned, live_answered, machine_hangup
from autodialer.store.types import to_utc


class ReportsMixin:
    """Store methods that read outcomes back (self.engine: Store's)."""

    def live_answers(self, campaign_id: int, *, since: datetime) -> list[tuple[datetime, bool, bool]]:
        """The campaign's live-answered attempts (ANSWERED, ABANDONED) and MACHINE hang-ups
        (outcomes.is_machine_hangup) that started at or after `since`, oldest first: (when
        answered, abandoned, machine hang-up), as the view live_answers has them. The
        abandonment cap counts them over its window, across runs (a hang-up as the campaign's
        amd.false_machine_rate of an abandoned call)."""
        since = to_utc(since, field="since")
        a = t.attempts
        when = sa.func.coalesce(a.c.answered_at, a.c.started_at)
        machine = machine_hangup(a)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(when, abandoned(a), sa.case((machine, 1), else_=0))
                .where(a.c.campaign_id == campaign_id, a.c.started_at >= since, sa.or_(live_answered(a), machine))
                .order_by(when)
            ).all()
        return [(to_utc(w, field="answered_at"), bool(ab), bool(m)) for w, ab, m in rows]

    def answered_attempts(self, campaign: str) -> list[sa.Row]:
        """The campaign's answered attempts in start order: phone, attempt_id, answered_at, events
        (what a survey's answers are read from)."""
        a, c, k = t.attempts, t.contacts, t.campaigns
        query = (sa.select(c.c.phone, a.c.attempt_id, a.c.answered_at, a.c.events)
                 .join(c, c.c.id == a.c.contact_id).join(k, k.c.id == a.c.campaign_id)
                 .where(k.c.name == campaign, a.c.answered_at.is_not(None))
                 .order_by(a.c.started_at, a.c.attempt_id))
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def summary(self, campaign: str | None = None) -> list[dict]:
        query = "SELECT * FROM campaign_summary"
        params = {}
        if campaign is not None:
            query += " WHERE campaign = :campaign"
            params["campaign"] = campaign
        query += " ORDER BY campaign"
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(query), params).mappings().all()
        return [{k: (int(v) if isinstance(v, (int, float)) or type(v).__name__ == "Decimal" else v) for k, v in r.items()} for r in rows]

    def zone_counts(self, campaign_id: int) -> dict[str, int]:
        """Contacts of a campaign by what is known of their zone: `several` (not narrowed to one:
        the window must be open in every candidate), `none` (the campaign's zone stands in)."""
        c = t.contacts
        several = sa.func.sum(sa.case((c.c.timezone.like("% %"), 1), else_=0))
        none = sa.func.sum(sa.case((c.c.timezone.is_(None), 1), else_=0))
        with self.engine.connect() as conn:
            total, n_several, n_none = conn.execute(
                sa.select(sa.func.count(), several, none).where(c.c.campaign_id == campaign_id)).one()
        return {"contacts": int(total), "several": int(n_several or 0), "none": int(n_none or 0)}

    def export(self, campaign: str, out_path, *, delimiter: str = ",", sep_hint: bool = False) -> int:
        """Write the campaign's source rows with what the dialer did (CSV or XLSX by suffix;
        autodialer/store/export.py)."""
        from autodialer.store.export import export_campaign

        return export_campaign(self, campaign, Path(out_path), delimiter=delimiter, sep_hint=sep_hint)

"""The store's campaigns and what a campaign's pacer keeps between runs (Store's campaign methods).

A campaign row is the name every contact, attempt and run hangs on and the settings its last run
or import registered (what the reports and the dashboard read back); pacing_state is one row per
campaign, replaced, so a restarted run's pacer starts from what the last one learned.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from autodialer.store import schema as t
from autodialer.store.errors import StoreError
from autodialer.store.types import to_utc, utc_now as _now


class CampaignsMixin:
    """Store methods on campaigns and pacing state (self.engine, self.dialect: Store's)."""

    def ensure_campaign(self, name: str, *, kind: str, settings: dict | None = None) -> int:
        """Insert or update the campaign named `name`; returns its id."""
        if not name or len(name) > 200:
            raise StoreError(f"campaign name must be 1-200 characters, got {name!r}")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.campaigns.c.id).where(t.campaigns.c.name == name)).first()
            if row:
                conn.execute(t.campaigns.update().where(t.campaigns.c.id == row.id).values(kind=kind, settings=settings))
                return int(row.id)
            if self.dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = insert(t.campaigns).values(name=name, kind=kind, settings=settings, created_at=_now())
            stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"kind": kind, "settings": settings})
            conn.execute(stmt)
            return int(conn.execute(sa.select(t.campaigns.c.id).where(t.campaigns.c.name == name)).scalar_one())

    def save_pacing_state(self, campaign_id: int, queue: str, state: dict, *, now: datetime | None = None) -> None:
        """Keep what the campaign's pacer learned (one row per campaign, replaced)."""
        p = t.pacing_state
        with self.engine.begin() as conn:
            conn.execute(p.delete().where(p.c.campaign_id == campaign_id))
            conn.execute(p.insert().values(campaign_id=campaign_id, queue=queue, state=state,
                                           saved_at=to_utc(now, field="now") if now else _now()))

    def load_pacing_state(self, campaign_id: int) -> tuple[str, dict, datetime] | None:
        """(queue, state, saved_at) as last saved for the campaign, or None."""
        p = t.pacing_state
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(p.c.queue, p.c.state, p.c.saved_at).where(p.c.campaign_id == campaign_id)).first()
        return (row.queue, row.state, to_utc(row.saved_at, field="saved_at")) if row else None

    def campaign_settings(self) -> dict[str, dict]:
        """Each campaign's settings as registered by its last run or import, by name."""
        k = t.campaigns
        with self.engine.connect() as conn:
            return {name: settings or {} for name, settings in conn.execute(sa.select(k.c.name, k.c.settings))}

    def campaign_id(self, name: str) -> int:
        """The id of the campaign named `name`; StoreError naming the closest names on a miss."""
        import difflib

        with self.engine.connect() as conn:
            cid = conn.execute(sa.select(t.campaigns.c.id).where(t.campaigns.c.name == name)).scalar()
            if cid is None:
                names = [n for (n,) in conn.execute(sa.select(t.campaigns.c.name).order_by(t.campaigns.c.name))]
        if cid is None:
            near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            near += [n for n in names if n not in near and (name.lower() in n.lower() or n.lower() in name.lower())]
            hint = f"; did you mean {' or '.join(repr(n) for n in near[:3])}?" if near else (
                f" (campaigns: {', '.join(names[:10])})" if names else " (import a list for it first)")
            raise StoreError(f"no campaign named {name!r} in the store{hint}")
        return int(cid)

"""Contacts that come from no file: click-to-call requests and missed calls to recall.

The list import is the only writer of contacts from spreadsheets; these helpers add one contact
at a time to the same table, so the outcome tables, views and `autodialer status/export` see
them like any other. Such a contact has `upload_id` 0 and `row_number` 0 (no upload brought it).
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from autodialer.safety import check_dial_number, check_dialplan_variable
from autodialer.store import schema as t
from autodialer.store.schema import NO_UPLOAD
from autodialer.zones import callee_zones


def ensure_contact(store, campaign_id: int, phone: str, *, variables: dict[str, str] | None = None,
                   reopen: bool = False, next_attempt_at: datetime | None = None) -> int:
    """The id of the campaign's contact for `phone` (E.164), created pending if missing.

    `reopen`: a contact that is `done` becomes `pending` again (a new request for the same
    number); one `dialing` is left alone (a call is in flight: the claim will then refuse).
    Variables given replace the contact's."""
    check_dial_number(phone, field="phone")
    for name, value in (variables or {}).items():
        check_dialplan_variable(name, str(value))
    c = t.contacts
    now = datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(c.c.id, c.c.state).where(c.c.campaign_id == campaign_id, c.c.phone == phone)).first()
        if row is None:
            zones = callee_zones(phone)
            values = dict(campaign_id=campaign_id, phone=phone, alternates=[], timezone=zones.text,
                          timezone_source=zones.source.value if zones.source else None,
                          variables=dict(variables or {}), state="pending", attempts=0, upload_id=NO_UPLOAD,
                          row_number=0, created_at=now, next_attempt_at=next_attempt_at)
            if store.dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            conn.execute(insert(c).values(**values).on_conflict_do_nothing(index_elements=["campaign_id", "phone"]))
            return int(conn.execute(sa.select(c.c.id).where(c.c.campaign_id == campaign_id, c.c.phone == phone)).scalar_one())
        changes = {}
        if variables is not None:
            changes["variables"] = dict(variables)
        if reopen and row.state == "done":
            changes.update(state="pending", next_attempt_at=next_attempt_at)
        if changes:
            conn.execute(c.update().where(c.c.id == row.id).values(**changes))
        return int(row.id)


def attempt_row(store, attempt_id: str) -> dict | None:
    """The attempts row with this id (a request already dialled), or None."""
    a = t.attempts
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(a).where(a.c.attempt_id == attempt_id)).mappings().first()
    return dict(row) if row else None

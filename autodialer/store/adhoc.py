"""Contacts that come from no file: click-to-call requests and missed calls to recall.

The list import is the only writer of contacts from spreadsheets; these helpers add one contact
at a time to the same table, so the outcome tables, views and `autodialer status/export` see
them like any other. Such a contact has `upload_id` 0 and `row_number` 0 (no upload brought it).

Such a number was chosen by a caller or a requester, not by whoever uploaded the list, so it is
checked before it becomes a contact to dial (`refusal`): the campaign's `allowed_numbers`
(autodialer.rules.number_policy) and the do-not-call lists (the campaign's and the global entries of
`exclusions`, as a list import applies them). A refused number is kept as a contact `done` with
`result` `refused: <why>` (`refuse`), so analysts and the export see it and why.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from autodialer.telephony.safety import check_dial_number, check_dialplan_variable
from autodialer.store import schema as t
from autodialer.store.schema import ContactState, NO_UPLOAD
from autodialer.zones import callee_zones

PENDING, DIALING, DONE = ContactState.PENDING.value, ContactState.DIALING.value, ContactState.DONE.value


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
                          variables=dict(variables or {}), state=PENDING, attempts=0, upload_id=NO_UPLOAD,
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
        if reopen and row.state == DONE:
            changes.update(state=PENDING, next_attempt_at=next_attempt_at)
        if changes:
            conn.execute(c.update().where(c.c.id == row.id).values(**changes))
        return int(row.id)


def attempt_row(store, attempt_id: str) -> dict | None:
    """The attempts row with this id (a request already dialed), or None."""
    a = t.attempts
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(a).where(a.c.attempt_id == attempt_id)).mappings().first()
    return dict(row) if row else None


REFUSED = "refused: "  # contacts.result of a number refused by policy or a do-not-call list


def refusal(store, campaign, campaign_id: int, phone: str) -> str | None:
    """Why `phone` (E.164) may not be dialed for `campaign`, or None: a type or region its
    `allowed_numbers` does not allow, or an entry of the campaign's or the global do-not-call list."""
    reason = campaign.allowed_numbers.refusal(phone, campaign.default_region)
    if reason is not None:
        return reason
    return do_not_call(store, phone, campaign_id)


def do_not_call(store, phone: str, campaign_id: int | None = None) -> str | None:
    """`on a do-not-call list (<file>)` if `phone` (E.164) is on the global list or, given a
    campaign, on the campaign's; else None."""
    e = t.exclusions
    scope = e.c.campaign_id.is_(None) if campaign_id is None else sa.or_(e.c.campaign_id.is_(None),
                                                                          e.c.campaign_id == campaign_id)
    with store.engine.connect() as conn:
        source = conn.execute(sa.select(e.c.source).where(e.c.phone == phone, scope)
                              .order_by(e.c.campaign_id.is_(None), e.c.id).limit(1)).scalar()
    return None if source is None else f"on a do-not-call list ({source})"


def global_do_not_call(store, phone: str) -> str | None:
    """do_not_call against the global list only, in a store that may hold no list at all (a
    manual call's check: a store nothing was ever imported into has no exclusions table)."""
    if not sa.inspect(store.engine).has_table("exclusions"):
        return None
    return do_not_call(store, phone)


def refuse(store, campaign_id: int, phone: str, reason: str, *, variables: dict[str, str] | None = None) -> int:
    """Record `phone` as refused: its contact (created if missing) is `done` with result
    `refused: <reason>` and no next attempt. A contact being dialed now is left alone (its call
    is already placed); returns the contact id."""
    contact_id = ensure_contact(store, campaign_id, phone, variables=variables)
    c = t.contacts
    with store.engine.begin() as conn:
        conn.execute(c.update().where(c.c.id == contact_id, c.c.state != DIALING)
                     .values(state=DONE, result=REFUSED + reason, next_attempt_at=None))
    return contact_id


def load_campaign_exclusions(store, campaign, campaign_id: int) -> None:
    """The campaign's `exclusions:` files into the exclusions table (a file loaded before adds
    nothing), for flows whose contacts come from no list import (recall, click-to-call)."""
    for path in campaign.exclusion_paths():
        store.import_exclusions(path, campaign_id=campaign_id, default_region=campaign.default_region)

"""From missed calls to recall contacts, in the campaign's outcome store.

One contact per number (the store's rule: unique per campaign and phone) carries the current
recall: variables QUEUE (the queue that missed the call), MISSED_AT (ISO UTC, the first miss of
the period) and MISSED_SOURCE (ami / cdr). Rules:
- one recall per number per period: a miss in the period of the contact's MISSED_AT adds nothing;
  a miss in a later period reopens a finished contact (attempts start again from 0);
- a number that got through after its miss is not called back (result `got_through`);
- a miss not called back within `within` is dropped (result `expired`);
- the callback is due `delay` after the miss (next_attempt_at);
- the caller ID is the caller's to choose (spoofable): a number of a type or region the
  campaign's `allowed_numbers` does not allow, or on a do-not-call list, is not called back; its
  contact is recorded `done` with result `refused: <why>` (autodialer.store.adhoc.refusal),
  checked again right before a callback is dialed.
Closing a pending contact is a compare-and-set on state = pending, so it never races a claim.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from autodialer.rules.durations import parse_duration
from autodialer.recall.missed import GotThrough, MissedCall
from autodialer.store import recall as stored
from autodialer.store import ContactState
from autodialer.rules.windows import zone

PENDING, DIALING, DONE = ContactState.PENDING.value, ContactState.DIALING.value, ContactState.DONE.value

UTC = timezone.utc


class RecallPlanner:
    def __init__(self, store, campaign, campaign_id: int):
        from autodialer.lists.phones import PhoneNormalizer

        self.store = store
        self.campaign = campaign
        self.settings = campaign.recall
        self.campaign_id = campaign_id
        self.normalizer = PhoneNormalizer(campaign.default_region)

    def normalize(self, number: str) -> str | None:
        e164, _zones, _reason = self.normalizer.normalize(number)
        return e164

    def refusal(self, phone: str) -> str | None:
        """Why the campaign may not call `phone` back (policy, do-not-call), or None."""
        from autodialer.store.adhoc import refusal

        return refusal(self.store, self.campaign, self.campaign_id, phone)

    def refuse_due(self, contact_id: int, phone: str) -> str | None:
        """Before a callback: the number checked again (the campaign's allowed_numbers may have
        changed since the miss, a do-not-call entry may have been added: due_contacts already
        leaves those out, this records why); a refused one is closed `refused: <why>`."""
        from autodialer.store.adhoc import REFUSED

        reason = self.refusal(phone)
        if reason is None:
            return None
        stored.close_pending_contact(self.store, contact_id, REFUSED + reason)
        return reason

    def period_start(self, at: datetime) -> datetime:
        if self.settings.period == "day":
            local = at.astimezone(zone(self.campaign.schedule.timezone))
            return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        return at - timedelta(seconds=parse_duration(self.settings.period))

    def add_missed(self, missed: MissedCall) -> str:
        """Record one missed call; returns what was done: new / reopened / already queued /
        already recalled this period / not a valid number / dialing now."""
        from autodialer.store.adhoc import ensure_contact

        from autodialer.store.adhoc import refuse

        phone = self.normalize(missed.number)
        if phone is None:
            return "not a valid number"
        at = missed.at.astimezone(UTC)
        variables = {"QUEUE": missed.queue, "MISSED_AT": at.isoformat(timespec="seconds"), "MISSED_SOURCE": missed.source}
        reason = self.refusal(phone)
        if reason is not None:
            refuse(self.store, self.campaign_id, phone, reason, variables=variables)
            return f"refused: {reason}"
        due = at + timedelta(seconds=self.settings.delay)
        row = stored.recall_contact(self.store, self.campaign_id, phone)
        if row is None:
            ensure_contact(self.store, self.campaign_id, phone, variables=variables, next_attempt_at=due)
            return "new"
        first = _parse((row.variables or {}).get("MISSED_AT"))
        if first is not None and first >= self.period_start(at):
            return "already queued" if row.state == PENDING else "already recalled this period"
        if row.state == DIALING:
            return "dialing now"
        stored.reopen_recall(self.store, row.id, variables=variables, next_attempt_at=due)
        return "reopened"

    def got_through(self, event: GotThrough) -> int:
        """The number reached an operator: its pending recall of a miss before that is dropped."""
        phone = self.normalize(event.number)
        if phone is None:
            return 0
        return self._close(phone, "got_through", before=event.at.astimezone(UTC))

    def expire(self, now: datetime) -> int:
        """Drop pending recalls whose miss is older than `within`."""
        limit = now.astimezone(UTC) - timedelta(seconds=self.settings.within)
        n = 0
        for r in stored.pending_recalls(self.store, self.campaign_id):
            missed_at = _parse((r.variables or {}).get("MISSED_AT"))
            if missed_at is not None and missed_at < limit:
                n += self._close(r.phone, "expired", before=None)
        return n

    def _close(self, phone: str, result: str, *, before: datetime | None) -> int:
        def keep(variables: dict) -> bool:
            missed_at = _parse(variables.get("MISSED_AT"))
            # got through before this miss: the miss still needs its callback
            return before is not None and (missed_at is None or missed_at > before)

        return stored.close_pending_recall(self.store, self.campaign_id, phone, result, keep=keep)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)

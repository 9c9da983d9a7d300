"""Conference assembly: dial every participant of a list into one ConfBridge room.

The moderator(s) first (the list marks them: variable CONF_ROLE = moderator); the others once a
moderator is in the room. A participant who did not answer (busy, no answer, congestion...) is
dialed again after the policy's interval for that outcome, as long as the conference lasts (a
moderator is in the room); a moderator is retried until the run's deadline. Each contact's
result is `joined` (reported by dialer-conference-join) or its last status.

The room is followed through the AMI's ConfbridgeJoin / ConfbridgeLeave / ConfbridgeEnd events
(`Admin: Yes` marks the moderator's profile, dialer_moderator). Prefect-free, like dialing.py.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from autodialer.dialer.dialing import AttemptOutcome, ContactDialer, utcnow
from autodialer.errors import ConfigError

log = logging.getLogger("autodialer.conference")

ROLE_VARIABLE = "CONF_ROLE"
MODERATOR = "moderator"


def role_of(contact) -> str:
    return (contact.variables or {}).get(ROLE_VARIABLE, "").strip().lower() or "participant"


class ConferenceRoom:
    """Who is in one ConfBridge room, from the AMI events. `moderator_joined` is set when a
    marked/admin user enters; `over` once the last of them has left (or the room ended) after
    that: the participants' profile (end_marked) takes them out too."""

    def __init__(self, session, room: str):
        self.room = room
        self.members: dict[str, bool] = {}  # Uniqueid -> admin
        self.moderator_joined = asyncio.Event()
        self.over = asyncio.Event()
        self.joined_ever: set[str] = set()  # Linkedids (= attempt ids) of every call that joined
        self._unsubscribe = [session.subscribe(name, self._on_event)
                             for name in ("ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd")]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_event(self, event) -> None:
        if event.get("Conference") != self.room:
            return
        name = event.get("Event")
        uid = event.get("Uniqueid") or ""
        admin = (event.get("Admin") or "").lower() == "yes"
        if name == "ConfbridgeJoin":
            self.members[uid] = admin
            self.joined_ever.add(event.get("Linkedid") or uid)
            if admin:
                self.moderator_joined.set()
        elif name == "ConfbridgeLeave":
            self.members.pop(uid, None)
            if self.moderator_joined.is_set() and not any(self.members.values()):
                self.over.set()
        elif name == "ConfbridgeEnd" and self.moderator_joined.is_set():
            self.over.set()

    @property
    def live(self) -> bool:
        return self.moderator_joined.is_set() and not self.over.is_set()


@dataclass(frozen=True)
class ParticipantResult:
    contact_id: int
    phone: str
    role: str
    result: str  # joined / busy / no_answer / ... / not_called (the conference did not take place)
    attempts: int  # originates made in this run


def participant_result(outcome: AttemptOutcome | None) -> str:
    if outcome is None:
        return "not_called"
    if outcome.contact_result:
        return outcome.contact_result
    if outcome.result is not None:
        return outcome.result.status.value.lower()
    return f"skipped: {outcome.skipped}"


class ConferenceAssembly:
    """Assemble one conference with a ContactDialer whose campaign sends answered calls to
    dialer-conference-join (destination type conference)."""

    def __init__(self, dialer: ContactDialer, session, *, deadline: datetime, on_outcome=None):
        campaign = dialer.campaign
        if campaign.destination.type != "conference" or not campaign.destination.room:
            raise ConfigError(f"{campaign.name}: conference assembly needs destination type conference with a room")
        self.dialer = dialer
        self.room = ConferenceRoom(session, campaign.destination.room)
        self.deadline = deadline
        self.on_outcome = on_outcome  # async callback(contact, outcome) after every attempt
        self.attempts: dict[int, int] = {}

    async def run(self, contacts: list, dial=None) -> list[ParticipantResult]:
        """Dial the moderators, then (once one is in the room) everyone else. `dial(contact,
        keep_dialing)` wraps each contact's dialing (the flow makes it a Prefect task)."""
        moderators = [c for c in contacts if role_of(c) == MODERATOR]
        others = [c for c in contacts if role_of(c) != MODERATOR]
        if contacts and not moderators:
            raise ConfigError(f"{self.dialer.campaign.name}: no contact is marked {ROLE_VARIABLE}={MODERATOR} "
                              "(map a column of the list to the variable CONF_ROLE)")
        dial = dial or (lambda contact, fn: fn(contact))
        try:
            first = [asyncio.ensure_future(dial(c, self.keep_dialing)) for c in moderators]
            joined = asyncio.ensure_future(self.room.moderator_joined.wait())
            everyone = asyncio.gather(*first)
            await asyncio.wait([joined, everyone], return_when=asyncio.FIRST_COMPLETED)
            rest = []
            if self.room.moderator_joined.is_set():
                rest = [asyncio.ensure_future(dial(c, self.keep_dialing)) for c in others]
            else:
                log.warning("no moderator joined room %s: the participants are not called", self.room.room)
            joined.cancel()
            await asyncio.gather(everyone, *rest)
        finally:
            self.room.close()
        outcomes = self.dialer.outcomes
        return [ParticipantResult(c.id, c.phone, role_of(c), participant_result(outcomes.get(c.id)),
                                  self.attempts.get(c.id, 0)) for c in contacts]

    async def keep_dialing(self, contact) -> AttemptOutcome:
        """Dial `contact` until it joins or its outcome is final; retry after the policy's delay
        while the conference lasts (a moderator: until the deadline, or until another
        moderator's conference is over)."""
        moderator = role_of(contact) == MODERATOR
        while True:
            outcome = await self.dialer.attempt(contact)
            if outcome.result is not None:
                self.attempts[contact.id] = self.attempts.get(contact.id, 0) + 1
            if self.on_outcome is not None:
                await self.on_outcome(contact, outcome)
            next_at = outcome.next_attempt_at
            if outcome.skipped or next_at is None or next_at > self.deadline:
                return outcome
            if self.room.over.is_set() or (not moderator and not self.room.live):
                return outcome  # the conference is over: left pending for the next one
            delay = max(0.0, (next_at - utcnow()).total_seconds())
            try:
                await asyncio.wait_for(self.room.over.wait(), timeout=delay)
                return outcome  # it ended while we waited
            except asyncio.TimeoutError:
                pass

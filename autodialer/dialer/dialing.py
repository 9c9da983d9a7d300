"""One attempt on one contact, as the campaign policy says: check the window, claim the
attempt in the database (before anything is sent), originate, classify, decide the retry,
write the result. Prefect-free, so the flows stay thin and the bench can run it bare.

The database is the source of truth: `claim_attempt` is a compare-and-set that counts the
attempt before the Originate leaves, so a crash, a retry or a second worker can never make a
contact be dialed more often than the policy allows.
"""

from __future__ import annotations

import asyncio
import logging
import enum
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable

from autodialer.campaigns.campaign import Campaign
from autodialer.errors import ConfigError, UnsafeValueError
from autodialer.rules.frequency import FrequencyRule, global_limits
from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind, is_abandoned, reached_callee
from autodialer.pacing.limits import Pacer, RefusalBackoff
from autodialer.rules.policy import RetryDecision, retry_at
from autodialer.store import ContactState
from autodialer.telephony.contract import CallSpec, Engine

UTC = timezone.utc
log = logging.getLogger("autodialer.dialing")

STORE_RETRY_SECONDS = 5.0  # how long a result's write is retried before it goes to the local journal
CLAIM_WAIT_SECONDS = 600.0  # how long a claim waits for the database (holding its slot) before giving up
REPLAY_EVERY_SECONDS = 2.0  # how often the journal is tried against the database while it is away
LINK_WAIT_SECONDS = 30.0  # how long an attempt (in its slot, before its claim) waits for the AMI link to come back before it fails


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_disconnect(exc: BaseException) -> bool:
    """A database error that a retry can cure: the server restarted, the connection dropped."""
    import sqlalchemy.exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa_exc.OperationalError)


async def retry_store(fn, *args, deadline: float = STORE_RETRY_SECONDS, **kwargs):
    """Run the blocking store call `fn` in a thread; while the database is unreachable, retry it
    with backoff (0.1 s doubling to 2 s) for up to `deadline` seconds, so a restart of the
    database loses no result. Every store write of an attempt is idempotent or a compare-and-set,
    so a retry after a commit whose acknowledgement was lost cannot double-count."""
    give_up = time.monotonic() + deadline
    delay = 0.1
    while True:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception as exc:
            if not is_disconnect(exc) or time.monotonic() + delay > give_up:
                raise
            log.warning("store unreachable (%s); retrying %s in %.1fs", type(exc).__name__, fn.__name__, delay)
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)


ALREADY_RECORDED = "already recorded by its own run"  # a dead run's attempt its journal replay wrote first
NOT_SENT_RETRY_SECONDS = 30.0  # a contact whose Originate never left is due again this soon (or the backoff's pause)


class SkipKind(str, enum.Enum):
    """Why nothing was dialed for a contact (AttemptOutcome.skip): what code decides on. The
    outcome's `skipped` text says it for people (and may carry details: the limit, the switch)."""

    RUN_OVER = "run_over"  # the run's time is up
    LEASE_LOST = "lease_lost"  # another run took the campaign over
    WINDOW_CLOSED = "window_closed"  # the callee's window is closed or closes within min_ring
    PAUSED = "paused"  # the pause switch held the call until the run's end
    DATABASE_UNREACHABLE = "database_unreachable"  # no claim, so no call
    CONTACT_LIMIT = "contact_limit"  # over a contact-frequency limit: due again when allowed
    NOT_CLAIMED = "not_claimed"  # claimed by another run or attempt, or the attempt cap reached
    ALREADY_RECORDED = "already_recorded"  # the attempt's result was written by its own run's journal


def never_rang(result: CallResult) -> bool:
    """Nothing left for the callee: the Originate was never sent (link down, timed out waiting
    for it) or Asterisk refused it at once (`Response: Error`). Such an attempt is given back."""
    return result.status is CallStatus.FAILED and result.failure in (FailureKind.NOT_SENT, FailureKind.REFUSED)


def refused_by_pbx(result: CallResult) -> bool:
    """The PBX answered the Originate with `Response: Error` (nothing rang), or it was not sent
    because the AMI link was down: the refusal backoff slows the next ones."""
    return result.failure in (FailureKind.REFUSED, FailureKind.NOT_SENT) and result.status is not CallStatus.INVALID_NUMBER


@dataclass(frozen=True)
class AttemptOutcome:
    contact_id: int
    phone: str
    result: CallResult | None  # None when nothing was dialed (see `skipped`)
    skipped: str | None  # why nothing was dialed: window closed, claimed elsewhere, cap reached
    decision: RetryDecision | None
    next_attempt_at: datetime | None  # when the contact may be called again; None when done
    contact_result: str | None  # kind-specific result (confirmed / cancelled / operator / no_input ...)
    zones: tuple[str, ...] = ()  # the callee zones the window was evaluated in (Campaign.callee_zones)
    journaled: bool = False  # the database was away: the result waits in the local journal (decided on replay)
    skip: SkipKind | None = None  # why nothing was dialed, as a kind (with `skipped`, its text)

    @property
    def done(self) -> bool:
        return self.skipped is None and self.next_attempt_at is None


def contact_result_from(campaign: Campaign, result: CallResult) -> str | None:
    """The business result the dialplan reported (UserEvent DialerResult, header Result); for a
    survey, the answer string (`q1=3;q2=1`, see autodialer.kinds.survey)."""
    if campaign.script is not None and result.status is CallStatus.ANSWERED:
        return campaign.script.result_string(result.events)
    if result.status is CallStatus.MACHINE_MESSAGE:
        return "message_left"
    if result.status is CallStatus.MACHINE and result.amd_cause:
        return f"machine: {result.amd_cause}"  # AMD's cause, e.g. machine: LONGGREETING-2250-1500
    reported = [e.get("Result") for e in result.events if e.get("UserEvent") == "DialerResult" and e.get("Result")]
    if reported:
        return reported[-1]
    if result.status is CallStatus.ANSWERED:
        return "no_input" if campaign.destination.type == "robot" else "answered"
    return None


class ContactDialer:
    """Dials contacts of one campaign through one Engine (autodialer.telephony.contract: a
    DialEngine, an EnginePool, an OperatorFirstEngine, a CallFileEngine), within one run.

    `limiter` is what paces the calls, a Pacer (autodialer.pacing.limits: a CallLimiter, or a
    pacer from autodialer.pacing.pacers): a slot per call, and every result through `observe()`.

    `lease` (autodialer.dialer.leases.RunLease): once another run has taken this one over, no call is
    started either. `stop_at`: no call is started after it (the run's `run_minutes`); a contact still waiting
    for a slot then is left as it was, pending, for the next run.

    `hold` is asked right before every claim: an awaitable that returns None when a call may
    start now, after waiting while dialing is paused (flows/pause.py reads the operator's pause
    switch), or the reason not to call this contact in this run (it stays pending, unclaimed).
    Calls already claimed are not touched: they complete and are recorded.

    A setting the engine would refuse raises ConfigError here, before any contact is touched:
    a campaign's mistake must fail the run, never become every contact's outcome."""

    def __init__(self, campaign: Campaign, store, engine: Engine, limiter: Pacer, *, campaign_id: int,
                 run_id: str | None = None, clock: Callable[[], datetime] = utcnow,
                 backoff: RefusalBackoff | None = None, stop_at: datetime | None = None,
                 hold: Callable[[], Awaitable[str | None]] | None = None, lease=None, journal=None):
        try:
            campaign.check_call_fields()
        except UnsafeValueError as exc:
            raise ConfigError(f"campaign {campaign.name}: {exc}") from None
        self.campaign = campaign
        self.stop_at = stop_at
        self.hold = hold
        self.lease = lease  # a RunLease: once another run took this one over, no new calls
        self.journal = journal  # autodialer.dialer.journal.Journal: where results go while the database is away
        self._replaying: asyncio.Task | None = None
        self.store = store
        self.engine = engine
        self.limiter = limiter
        self.campaign_id = campaign_id
        self.run_id = run_id
        self.clock = clock
        self.backoff = backoff or RefusalBackoff()
        self._caller_ids = campaign.caller_id_cycle()
        # The campaign's contact-frequency limits and the global default, the stricter of each.
        self.contact_limits = campaign.limits.tighter(global_limits())
        self.outcomes: dict[int, AttemptOutcome] = {}  # the last outcome per contact

    def _skip(self, contact, kind: SkipKind, why: str, next_at: datetime | None = None) -> AttemptOutcome:
        return AttemptOutcome(contact.id, contact.phone, None, why, None, next_at, None, skip=kind)

    async def _claim(self, contact, attempt_id: str, caller_id: str | None, zones: list[str],
                     max_attempts: int) -> AttemptOutcome | None:
        """The claim (Store.claim_attempt: the compare-and-set with the frequency rule of `zones`),
        waiting for an absent database up to the claim's wait; None when claimed, else the skip:
        the database still away, over a contact-frequency limit (due again when allowed: the
        store moved it), claimed elsewhere or at the attempt cap. No claim, no call."""
        try:
            claimed = await retry_store(
                self.store.claim_attempt, contact.id, attempt_id=attempt_id, number=contact.phone, now=self.clock(),
                max_attempts=max_attempts, run_id=self.run_id, caller_id=caller_id, trunk=self.campaign.trunk,
                rule=self.frequency_rule(zones), deadline=self._claim_wait(),
            )
        except Exception as exc:
            if not is_disconnect(exc):
                raise
            return self._skip(contact, SkipKind.DATABASE_UNREACHABLE, "database unreachable: not claimed, not dialed")
        if claimed:
            return None
        if getattr(claimed, "limited_until", None) is not None:
            return self._skip(contact, SkipKind.CONTACT_LIMIT, claimed.reason, claimed.limited_until)
        return self._skip(contact, SkipKind.NOT_CLAIMED,
                          getattr(claimed, "reason", None) or "claimed by another run or attempt cap reached")

    def variables_for(self, contact, attempt_id: str) -> dict[str, str]:
        return self.campaign.call_variables(contact.variables, attempt_id)

    def _why_not_now(self, contact, zones: list[str]) -> AttemptOutcome | None:
        """Why a call must not start now (run over, window closed or closing within min_ring),
        as the skip outcome; None when it may. Asked again inside the call slot, right before the
        claim: the wait for a slot can outlast the window."""
        now = self.clock()
        if self.stop_at is not None and now >= self.stop_at:
            return self._skip(contact, SkipKind.RUN_OVER, "run time over")
        if self.lease is not None and not self.lease.held:
            return self._skip(contact, SkipKind.LEASE_LOST, "run lease lost")
        windows = self.campaign.windows
        min_ring = self.campaign.min_ring
        if not windows.can_start(now, zones, min_ring):
            return self._skip(contact, SkipKind.WINDOW_CLOSED, "window closed", windows.next_start_all(now, zones, min_ring))
        return None

    async def attempt(self, contact) -> AttemptOutcome:
        outcome = await self._attempt(contact)
        outcome = replace(outcome, zones=tuple(self.campaign.callee_zones(contact)))
        self.outcomes[contact.id] = outcome
        return outcome

    async def _attempt(self, contact) -> AttemptOutcome:
        campaign = self.campaign
        zones = campaign.callee_zones(contact)
        if (skip := self._why_not_now(contact, zones)) is not None:
            return skip

        attempt_id = uuid.uuid4().hex
        caller_id = next(self._caller_ids)
        async with self.limiter.call_slot() as slot:
            if self.hold is not None and (why := await self.hold()) is not None:
                return self._skip(contact, SkipKind.PAUSED, why)
            # The refusal backoff's pause and the wait for a reconnecting AMI link come before the
            # last check and the claim: either can outlast the window or the run.
            ticket = await self.backoff.wait()  # in the slot: no burst after a pause
            link_up = await self._link_up()
            if (skip := self._why_not_now(contact, zones)) is not None:  # after a pause or a backoff, too
                return skip
            if slot is not None:
                slot.attempt_id = attempt_id  # lets a queue pacer follow this very call
            # Claimed only once a call slot is free, right before the originate: a run killed while
            # contacts wait for a slot leaves none of them counted as an attempt that never happened.
            # No claim, no call: while the database is away the claim waits (holding its slot), it
            # never dials unclaimed; past the wait (or the run's end) the contact is left pending.
            if (skip := await self._claim(contact, attempt_id, caller_id, zones, campaign.retry.max_attempts)) is not None:
                return skip
            if link_up:  # the link dropped while the claim was made: wait for it once more
                await self._link_up()
            if (skip := self._why_not_now(contact, zones)) is not None:
                # The wait for the database (or the link) outlasted the window or the run: not sent, given back.
                result = CallResult(attempt_id=attempt_id, number=contact.phone, status=CallStatus.FAILED,
                                    error=f"not sent: {skip.skipped} while the claim waited",
                                    ended_at=self.clock(), failure=FailureKind.NOT_SENT)
            else:
                result = await self._originate(contact, attempt_id, caller_id, ticket)
        self.limiter.observe(result)  # a pacer learns answer rates, handle times, abandonment
        return await self.record(contact, result, zones)

    async def call_once(self, contact, place: Callable[[str | None], Awaitable[tuple[CallResult, str]]], *,
                        attempt_id: str, zones: list[str], max_attempts: int | None = None) -> AttemptOutcome:
        """One call of `contact` placed by `place(caller_id)` (which returns the CallResult and
        the business result), as attempt `attempt_id`, with no retry: click-to-call (one request,
        one call; autodialer.kinds.callback.click_to_call). The claim is the campaigns' (the frequency
        rule of `zones`, `max_attempts` or the campaign's cap), so is the write (the journal while
        the database is away); the contact is done with the result. Not claimed: a skip outcome
        whose `skipped` says why (a contact limit: `next_attempt_at` says when it is allowed).
        A `place` that raises is recorded FAILED (result `failed`) and the error re-raised. The
        calling window is the caller's to check (an operator rings first)."""
        caller_id = next(self._caller_ids)
        async with self.limiter.call_slot():
            cap = self.campaign.retry.max_attempts if max_attempts is None else max_attempts
            if (skip := await self._claim(contact, attempt_id, caller_id, zones, cap)) is not None:
                return skip
            try:
                result, contact_result = await place(caller_id)
            except BaseException as exc:
                failed = CallResult(attempt_id=attempt_id, number=contact.phone, status=CallStatus.FAILED,
                                    error=f"{type(exc).__name__}: {exc}", ended_at=self.clock())
                self.outcomes[contact.id] = await self.record(contact, failed, zones, final="failed")
                raise
        self.limiter.observe(result)
        outcome = replace(await self.record(contact, result, zones, final=contact_result), zones=tuple(zones))
        self.outcomes[contact.id] = outcome
        return outcome

    def frequency_rule(self, zones: list[str]) -> FrequencyRule:
        """What the claim checks and records for a callee in `zones` (Store.claim_attempt)."""
        return FrequencyRule(self.contact_limits, tuple(zones), self.campaign.windows, self.campaign.min_ring)

    def _claim_wait(self) -> float:
        if self.stop_at is None:
            return CLAIM_WAIT_SECONDS
        return max(0.0, min(CLAIM_WAIT_SECONDS, (self.stop_at - self.clock()).total_seconds()))

    async def record(self, contact, result: CallResult, zones: list[str] | None = None, *,
                     only_if_dialing: bool = False, final: str | None = None) -> AttemptOutcome:
        """Decide the retry of a finished attempt of `contact` and write it (the attempt is still
        DIALING in the store). Also used for the attempts a dead run left (autodialer.dialer.recovery),
        with `only_if_dialing`: what the dead run's journal says, replayed meanwhile, is kept.
        `final`: no retry is decided, the contact is done with this business result (call_once).

        While the database is away the result goes to the local journal (fsync'd) and is
        replayed in the background as soon as the database answers: no result is lost."""
        try:
            return await self._write(contact, result, zones, only_if_dialing=only_if_dialing, final=final)
        except Exception as exc:
            if self.journal is None or not is_disconnect(exc):
                raise
        await asyncio.to_thread(self.journal.append, contact.id, result, only_if_dialing=only_if_dialing, final=final)
        log.warning("database unreachable: result of %s (%s) kept in the journal %s", result.attempt_id,
                    result.status.value, self.journal.path)
        if self._replaying is None or self._replaying.done():
            self._replaying = asyncio.get_running_loop().create_task(self._replay_own())
        return AttemptOutcome(contact.id, contact.phone, result, None, None, None,
                              final if final is not None else contact_result_from(self.campaign, result), journaled=True)

    async def _write(self, contact, result: CallResult, zones: list[str] | None = None,
                     deadline: float = STORE_RETRY_SECONDS, only_if_dialing: bool = False,
                     final: str | None = None) -> AttemptOutcome:
        campaign = self.campaign
        if final is not None:
            return await self._write_final(contact, result, final, deadline, only_if_dialing)
        zones = zones if zones is not None else campaign.callee_zones(contact)
        if never_rang(result):
            return await self._give_back(contact, result, zones, deadline, only_if_dialing)
        # The contact's other attempts, and this one once, as this result: it may be DIALING still,
        # or (a journal replayed late) recorded UNKNOWN by the run that took it over meanwhile.
        counts = await retry_store(self.store.status_counts, contact.id, excluding=result.attempt_id, deadline=deadline)
        # One that pacing stopped while it rang does not count toward its outcome's limit (it says
        # nothing of the callee), only the total.
        counted = result.failure is not FailureKind.STOPPED_RINGING
        status_count = counts.get(result.status.value, 0) + counted
        total = sum(n for s, n in counts.items() if s not in ("DIALING", CallStatus.NOT_SENT.value)) + 1
        decision = campaign.retry.decide(result.status, status_count=status_count, total_attempts=total, counts=counted)
        next_at = None
        if decision.retry:
            next_at = await self._retry_at(contact, result, decision, zones, deadline, counted)
        contact_result = contact_result_from(campaign, result)
        written = await retry_store(
            self.store.finish_attempt, result, contact_state=ContactState.PENDING if next_at else ContactState.DONE,
            next_attempt_at=next_at, contact_result=contact_result, deadline=deadline, only_if_dialing=only_if_dialing,
        )
        if not written:
            return self._already_recorded(contact)
        log.info("%s: %s %s%s; %s", campaign.name, contact.phone, result.status.value,
                 f" ({contact_result})" if contact_result else "", decision.reason)
        return AttemptOutcome(contact.id, contact.phone, result, None, decision, next_at, contact_result)

    async def _retry_at(self, contact, result: CallResult, decision: RetryDecision, zones, deadline: float,
                        counted: bool) -> datetime | None:
        """The retry's time (autodialer.rules.policy.retry_at): the window, another hour for an
        `other_hour` outcome (MACHINE), and past the contact-frequency limits, counting this call."""
        campaign = self.campaign
        earliest = (result.ended_at or self.clock()) + timedelta(seconds=decision.delay)
        rule = campaign.retry.outcomes.get(result.status)
        avoid = []
        if rule is not None and rule.other_hour and counted:
            avoid = await retry_store(self.store.attempt_starts, contact.id, status=result.status.value,
                                      including=result.attempt_id, deadline=deadline)
        frequency, history = None, None
        if self.contact_limits.any:
            frequency = self.frequency_rule(zones)
            calls = await retry_store(self.store.counted_calls, contact.phone,
                                      since=earliest - self.contact_limits.lookback(), deadline=deadline)
            # This call as it ended (the row still says DIALING, or what another run wrote).
            history = [(s, ab) for i, s, ab in calls if i != result.attempt_id]
            mine = [s for i, s, _ in calls if i == result.attempt_id]
            if mine and reached_callee(result.status, result.failure):
                history.append((mine[0], is_abandoned(result)))
        return retry_at(earliest, campaign.windows, zones, avoid=avoid, frequency=frequency, history=history)

    async def _write_final(self, contact, result: CallResult, contact_result: str, deadline: float,
                           only_if_dialing: bool) -> AttemptOutcome:
        """One request, one call (click-to-call): the contact is done whatever the outcome."""
        if not await retry_store(self.store.finish_attempt, result, contact_state=ContactState.DONE, next_attempt_at=None,
                                 contact_result=contact_result, deadline=deadline, only_if_dialing=only_if_dialing):
            return self._already_recorded(contact)
        log.info("%s: %s %s (%s); one call, done", self.campaign.name, contact.phone, result.status.value, contact_result)
        return AttemptOutcome(contact.id, contact.phone, result, None, None, None, contact_result)

    def _already_recorded(self, contact) -> AttemptOutcome:
        log.info("%s: %s: attempt already recorded by its own run (journal), kept", self.campaign.name, contact.phone)
        return self._skip(contact, SkipKind.ALREADY_RECORDED, ALREADY_RECORDED)

    async def _give_back(self, contact, result: CallResult, zones, deadline: float = STORE_RETRY_SECONDS,
                         only_if_dialing: bool = False) -> AttemptOutcome:
        """Record the attempt as NOT_SENT and give it back: it does not count against the
        contact's limits (the store lowers its attempt counter again); the contact is due again
        after a short pause, while the refusal backoff keeps slowing every originate."""
        result = replace(result, status=CallStatus.NOT_SENT)
        delay = max(NOT_SENT_RETRY_SECONDS, self.backoff.pause())
        decision = RetryDecision(True, delay, f"not sent ({result.failure}): given back, not counted; due in {delay:g}s")
        ended = result.ended_at or self.clock()
        next_at = self.campaign.windows.next_open_all(ended + timedelta(seconds=delay), zones)
        if not await retry_store(self.store.finish_attempt, result, contact_state=ContactState.PENDING, next_attempt_at=next_at,
                                 contact_result=None, deadline=deadline, only_if_dialing=only_if_dialing):
            return self._already_recorded(contact)
        return AttemptOutcome(contact.id, contact.phone, result, None, decision, next_at, None)

    async def replay(self, entry) -> AttemptOutcome:
        """Write one journal entry (autodialer.dialer.journal.Entry) as a live result is written. Raises
        (a disconnect) if the database is still away."""
        contact = await retry_store(self.store.contact, entry.contact_id, deadline=STORE_RETRY_SECONDS)
        return await self._write(contact, entry.result, only_if_dialing=entry.only_if_dialing,
                                 final=entry.final)

    async def replay_dead_runs_journals(self) -> list[AttemptOutcome]:
        """Replay the journal files that dead runs of this campaign left on this machine (their
        lock is free); before anything else, so their attempts are not taken for unknown."""
        from autodialer.dialer.journal import orphaned_journals, read_entries, release_orphan

        directory = self.journal.dir.parent if self.journal is not None else None
        out = []
        for path, fd in await asyncio.to_thread(orphaned_journals, self.campaign.name, directory):
            done = []
            try:
                for entry in await asyncio.to_thread(read_entries, path):
                    try:
                        out.append(await self.replay(entry))
                    except Exception as exc:
                        if is_disconnect(exc):
                            raise
                        log.error("%s: result of %s not replayed, kept (%s)", path, entry.result.attempt_id, exc)
                        continue
                    done.append(entry)
            finally:
                await asyncio.to_thread(release_orphan, path, fd, done)
        if out:
            log.warning("replayed %d result(s) a dead run left in its journal", len(out))
        return out

    async def _replay_own(self) -> None:
        """Replay this run's journal until it is empty (the database is back)."""
        while True:
            pending = await asyncio.to_thread(self.journal.pending)
            if not pending:
                return
            try:
                for entry in pending:
                    self.outcomes[entry.contact_id] = await self.replay(entry)
                    await asyncio.to_thread(self.journal.drop, [entry])
                log.info("journal replayed: %d result(s) written to the database", len(pending))
            except Exception as exc:
                if not is_disconnect(exc):
                    raise
                await asyncio.sleep(REPLAY_EVERY_SECONDS)

    async def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the journal to reach the database; False if results
        are still waiting (they stay in the journal for the next run on this machine)."""
        if self._replaying is None:
            return True
        try:
            await asyncio.wait_for(asyncio.shield(self._replaying), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def _originate(self, contact, attempt_id: str, caller_id: str | None, ticket: int) -> CallResult:
        """Called holding a call slot, claimed, with the refusal backoff's `ticket`."""
        result = await self._send(contact, attempt_id, caller_id)
        if refused_by_pbx(result):
            self.backoff.refused(ticket)
        else:
            self.backoff.accepted(ticket)
        return result

    async def _link_up(self) -> bool:
        """While the AMI session is reconnecting, wait for it (up to LINK_WAIT_SECONDS) instead of
        failing an attempt that was never sent. False when it is still down."""
        if self.engine.connected:
            return True
        try:
            await self.engine.wait_connected(timeout=LINK_WAIT_SECONDS)
            return True
        except Exception:
            return False  # still down: the originate fails fast (nothing sent, given back) and the backoff slows the rest

    async def _send(self, contact, attempt_id: str, caller_id: str | None) -> CallResult:
        campaign = self.campaign
        context, exten, priority = campaign.dial_target()
        try:
            return await self.engine.place(CallSpec(
                contact.phone, context=context, exten=exten, priority=priority,
                variables=self.variables_for(contact, attempt_id), caller_id=caller_id,
                ring_timeout=campaign.ring_timeout, attempt_id=attempt_id,
                max_call_seconds=campaign.max_call_duration,
            ))
        except UnsafeValueError as exc:
            # Refused before anything was sent: not the callee's fault, and retrying cannot help.
            return CallResult(attempt_id=attempt_id, number=contact.phone, status=CallStatus.INVALID_NUMBER,
                              error=f"refused before sending: {exc}", ended_at=self.clock(), failure=FailureKind.NOT_SENT)
        except Exception as exc:  # a dead PBX, a dropped link: nothing left
            return CallResult(attempt_id=attempt_id, number=contact.phone, status=CallStatus.FAILED,
                              error=f"{type(exc).__name__}: {exc}", ended_at=self.clock(), failure=FailureKind.NOT_SENT)

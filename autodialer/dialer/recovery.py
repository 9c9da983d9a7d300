"""What a run does first with the attempts a dead run left (its lease lapsed): resolve each one
before anything is redialed.

- its channels are still up at the PBX (CoreShowChannels, Linkedid = the attempt id): follow the
  call to its end and record it as it ends (answered, or not) - the callee is not called again;
- gone, and the deployment has Asterisk's CDR database (the engines' `cdr` reader, uniqueid =
  the attempt id): recorded with the CDR's disposition;
- otherwise nothing says how it ended: UNKNOWN (failure kind run_died; retried after a day by
  default, as an answered call may have been), never FAILED retried in minutes.

The contact of an orphaned attempt stays `dialing` until its attempt is resolved, so no run can
claim it meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind
from autodialer.store import runs
from autodialer.store.store import STALE_ERROR

log = logging.getLogger("autodialer.recovery")

FOLLOWED_NOTE = "followed after its run died"


@dataclass
class Recovery:
    closed: list = field(default_factory=list)  # AttemptOutcomes recorded at once (nothing up at the PBX)
    followed: list[asyncio.Task] = field(default_factory=list)  # calls still up, followed to their end

    @property
    def count(self) -> int:
        return len(self.closed) + len(self.followed)

    async def wait(self) -> list:
        """The AttemptOutcomes of the followed calls, once each has ended."""
        return list(await asyncio.gather(*self.followed)) if self.followed else []


def legacy_after_seconds(campaign) -> float:
    """How old an attempt of a run with no lease row must be before it counts as orphaned: the
    longest an attempt can live (ring, call, the engine's grace), plus a minute."""
    return campaign.ring_timeout + campaign.max_call_duration + 120.0


async def recover_orphans(dialer, engine, orphans: list | None = None) -> Recovery:
    """Resolve the orphaned attempts (`runs.take_over_orphans`; taken over here when not given),
    as the module docstring says. Raises when the PBX cannot be asked which channels are up: a
    live call must not be guessed dead (the run fails; the attempts stay for the next run)."""
    from autodialer.dialer.dialing import retry_store

    store, campaign = dialer.store, dialer.campaign
    if orphans is None:
        orphans = await retry_store(runs.take_over_orphans, store, dialer.campaign_id,
                                    legacy_after_seconds=legacy_after_seconds(campaign))
    out = Recovery()
    if not orphans:
        return out
    live = await engine.live_calls()  # {attempt id: (the engine that sees it, its channels)}
    for orphan in orphans:
        contact = await retry_store(store.contact, orphan.contact_id)
        if orphan.attempt_id in live:
            owner, channels = live[orphan.attempt_id]
            out.followed.append(asyncio.get_running_loop().create_task(_follow(dialer, owner, orphan, contact, channels)))
        else:
            out.closed.append(await dialer.record(contact, await _ended_meanwhile(dialer, engine, orphan),
                                                  only_if_dialing=True))
    log.warning("took over %d attempt(s) of dead runs: %d still up (followed), %d closed",
                len(orphans), len(out.followed), len(out.closed))
    return out


async def _follow(dialer, engine, orphan, contact, channels):
    campaign = dialer.campaign
    result = await engine.follow(orphan.attempt_id, orphan.number, channels, ring_timeout=campaign.ring_timeout,
                                 max_call_seconds=campaign.max_call_duration)
    result.error = f"{FOLLOWED_NOTE}; {result.error}" if result.error else FOLLOWED_NOTE
    return await dialer.record(contact, result, only_if_dialing=True)


async def _ended_meanwhile(dialer, engine, orphan) -> CallResult:
    """The result of an orphaned attempt whose channels are gone: the CDR's word if there is a
    CDR database, else UNKNOWN."""
    cdr = engine.cdr
    found = await asyncio.to_thread(cdr.outcome, orphan.attempt_id) if cdr is not None else None
    if found is not None:
        return CallResult(attempt_id=orphan.attempt_id, number=orphan.number, status=found.status,
                          answered_at=found.answered_at, ended_at=found.ended_at or dialer.clock(),
                          talk_seconds=found.talk_seconds, channel_id=orphan.attempt_id,
                          error=f"{STALE_ERROR}; CDR says {found.disposition}", failure=FailureKind.RUN_DIED)
    return CallResult(attempt_id=orphan.attempt_id, number=orphan.number, status=CallStatus.UNKNOWN,
                      error=STALE_ERROR, ended_at=dialer.clock(), failure=FailureKind.RUN_DIED)

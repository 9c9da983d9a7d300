"""One place that builds a run: from a campaign, its store and its servers to the engines, the
pacer and the ContactDialer that every kind dials through, with the run's journal and lease and
the attempts dead runs left resolved before anyone is dialed. Prefect-free: the flows add only
what Prefect owns (the run's id and deployment, the trunk's global concurrency limit, the pause
switch, events, artifacts, task runs); the fault-test kit and the bench build the same run bare.

    async with hold_run(campaign, store, campaign_id, run_id=...) as held:   # journal, lease, orphans
        async with open_run(campaign, store, campaign_id, servers=[(AmiSettings, context)],
                            channels=N, held=held, hold=..., stop_at=...) as run:
            await run.dialer.attempt(contact) ...
            resolved = await run.settle()

`hold_run` first replays the journals that dead runs of the campaign left on this machine, then
holds the run's lease (autodialer.dialer.leases) and takes over the attempts of runs whose lease lapsed
(autodialer.store.runs). `open_run` connects one AMI session and DialEngine per server (an
EnginePool), builds the campaign's pacer within `channels` (fixed, progressive or predictive; the
predictive controller seeded from the store and its state saved at the end), the ContactDialer,
and resolves the taken-over attempts at the PBX (autodialer.dialer.recovery) before it yields.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from autodialer.campaigns.campaign import Campaign
from autodialer.dialer.dialing import CLAIM_WAIT_SECONDS, AttemptOutcome, ContactDialer, retry_store
from autodialer.dialer.journal import Journal
from autodialer.dialer.leases import RunLease
from autodialer.dialer.recovery import Recovery, legacy_after_seconds, recover_orphans
from autodialer.store import runs

log = logging.getLogger("autodialer.run")

FROM_ENV = object()  # open_run's `cdr` default: the CDR database AUTODIALER_CDR_DATABASE_URL names, if any


@dataclass
class HeldRun:
    """What a run holds while it dials (hold_run): its id, its lease (autodialer.dialer.leases), its
    journal (autodialer.dialer.journal) and the attempts dead runs left, to resolve before dialing."""

    run_id: str
    lease: RunLease | None
    journal: Journal | None
    orphans: list = field(default_factory=list)

    def dialer_options(self) -> dict:
        """The ContactDialer keywords that tie its calls to this run."""
        return {"run_id": self.run_id, "lease": self.lease, "journal": self.journal}


async def take_over_orphans(campaign: Campaign, store, campaign_id: int) -> list:
    """The attempts that dead runs (lease lapsed, by the database's clock) left in progress, now
    this run's to resolve (at the PBX, before anything is dialed: open_run)."""
    orphans = await retry_store(runs.take_over_orphans, store, campaign_id,
                                legacy_after_seconds=legacy_after_seconds(campaign))
    if orphans:
        log.warning("%d attempt(s) of dead runs to resolve at the PBX first", len(orphans))
    return orphans


@asynccontextmanager
async def hold_run(campaign: Campaign, store, campaign_id: int, *, run_id: str | None = None,
                   deployment: str | None = None, take_over=take_over_orphans):
    """Every run that dials runs inside this: the results a dead run of the campaign left in its
    journal on this machine go in first; then the run holds its lease (heartbeat, database
    clock) and takes over the attempts of runs whose lease lapsed (`take_over`: the flow passes
    its task, the UI then shows the step). `run_id`: the flow run's id, else a new one."""
    run_id = run_id or uuid.uuid4().hex
    journal = Journal(campaign.name, run_id)
    try:
        await ContactDialer(campaign, store, None, None, campaign_id=campaign_id, journal=journal).replay_dead_runs_journals()
        async with RunLease(store, run_id, campaign_id, settings=campaign.settings_snapshot(), deployment=deployment) as lease:
            orphans = await take_over(campaign, store, campaign_id)
            yield HeldRun(run_id, lease, journal, orphans)
    finally:
        journal.close()


@asynccontextmanager
async def paced(campaign: Campaign, channels: int, engines, store=None, campaign_id: int | None = None):
    """The campaign's pacer (fixed, progressive or predictive), within the trunk's channels.
    Queue-driven modes follow the queue on the first server's AMI session (the queue lives there).
    Predictive: the abandonment window starts from the campaign's calls in the store, and what
    the controller learned is kept for the campaign's next run on the same queue (a week)."""
    from autodialer.pacing.pacers import make_pacer

    settings = campaign.pacing.model_copy(update={"max_channels": min(campaign.pacing.max_channels, channels)})
    # AMD: the share of MACHINE hang-ups counted as abandoned people (autodialer/telephony/amd.py)
    rate = campaign.amd.false_machine_rate if campaign.amd is not None else 0.0
    pacer = make_pacer(settings, engines.sessions[0], calls=engines, false_machine_rate=rate)
    controller = getattr(pacer, "controller", None)
    keep = controller is not None and store is not None and campaign_id is not None
    if keep:
        now = datetime.now(timezone.utc)
        history = await asyncio.to_thread(store.live_answers, campaign_id, since=now - timedelta(seconds=settings.window))
        controller.seed((((now - when).total_seconds(), abandoned, machine) for when, abandoned, machine in history),
                        false_machine_rate=rate)
        learned = await asyncio.to_thread(store.load_pacing_state, campaign_id)
        # What the last run learned, if it paced the same queue within the last week.
        if learned and learned[0] == settings.queue and now - learned[2] < timedelta(days=7):
            if not controller.restore(learned[1]):
                log.warning("pacing state of the last run not usable: starting from the defaults")
    await pacer.start()
    try:
        yield pacer
    finally:
        await pacer.close()
        if keep:
            await asyncio.to_thread(store.save_pacing_state, campaign_id, settings.queue, controller.snapshot())


@dataclass
class Run:
    """One run, built (open_run). `engines`: the servers' DialEngines behind one Engine (an
    EnginePool; `.sessions` their AMI sessions, the first one's queue paces); `dialer.engine`
    is what the calls go through (the pool, or the operator-first engine around it); `pacer`
    gives the call slots; `recovery` holds the dead runs' attempts, resolved or followed."""

    campaign: Campaign
    engines: object
    pacer: object
    dialer: ContactDialer
    recovery: Recovery

    @property
    def session(self):
        """The first server's AMI session: where a queue, a conference room, missed calls live."""
        return self.engines.sessions[0]

    async def settle(self) -> list[AttemptOutcome]:
        """At a run's end: the dead runs' attempts it followed, once ended, with those it closed
        at once; and the journal written to the database (or left for the next run, said in the
        log)."""
        resolved = self.recovery.closed + await self.recovery.wait()
        if not await self.dialer.flush(timeout=CLAIM_WAIT_SECONDS):
            log.warning("the database is still away: results stay in %s for the next run", self.dialer.journal.path)
        if resolved:
            log.info("resolved %d attempt(s) of dead runs: %s", len(resolved), dict(Counter(resolved_as(o) for o in resolved)))
        return resolved


def resolved_as(outcome: AttemptOutcome) -> str:
    """A dead run's attempt as this run resolved it: its status, or why it was left as it was."""
    return outcome.result.status.value if outcome.result else outcome.skipped


@asynccontextmanager
async def open_run(campaign: Campaign, store, campaign_id: int, *, servers=None, engines=None, channels: int | None = None,
                   held: HeldRun | None = None, hold=None, stop_at: datetime | None = None, cdr=FROM_ENV,
                   pace: bool = True, pacer=None, session_options: dict | None = None, **dialer_options):
    """The run of `campaign` (see the module docstring). `servers`: [(AmiSettings, outbound
    context)], one AMI session and DialEngine each; or `engines`, an Engine already connected
    (the fault tests' engine on the session they break). `channels`: the trunk's share this run
    may use (default: max_concurrent_calls). `pace`: the campaign's pacer (`pacing:`); False
    for kinds that pace themselves (recall by free operators, a conference by its room): a
    CallLimiter of `channels` and max_originates_per_second; `pacer` to give one. `held`: the
    run's id, lease, journal and orphans (hold_run); `hold` and `stop_at` as ContactDialer
    takes them; `cdr`: the CdrReader that resolves calls ended while the AMI link was down
    (default: AUTODIALER_CDR_DATABASE_URL's). A campaign with `direction: operator_first`
    dials through the operator-first engine (the queue first, then the client)."""
    from autodialer.pacing.limits import CallLimiter

    channels = campaign.max_concurrent_calls if channels is None else channels
    async with AsyncExitStack() as stack:
        if engines is None:
            from autodialer.telephony.pool import ConnectedPool

            if cdr is FROM_ENV:
                from autodialer.telephony.cdr import cdr_reader_from_env

                cdr = cdr_reader_from_env()
            engines = await stack.enter_async_context(ConnectedPool(servers, cdr=cdr, **(session_options or {})))
        if pacer is None and pace:
            pacer = await stack.enter_async_context(paced(campaign, channels, engines, store, campaign_id))
        elif pacer is None:
            pacer = CallLimiter(channels, campaign.max_originates_per_second)
        engine = engines
        if campaign.direction == "operator_first":
            from autodialer.kinds.callback import OperatorFirstEngine

            engine = OperatorFirstEngine(engines, client_ring=campaign.ring_timeout)
        if held is not None:
            dialer_options = {**held.dialer_options(), **dialer_options}
        dialer = ContactDialer(campaign, store, engine, pacer, campaign_id=campaign_id, hold=hold, stop_at=stop_at,
                               **dialer_options)
        # A dead run's calls, resolved before anyone is called: one still up is followed (on the
        # engine that sees it), so its callee is not called again.
        recovery = await recover_orphans(dialer, engines, held.orphans if held is not None else [])
        yield Run(campaign, engines, pacer, dialer, recovery)

"""The campaign flow: every campaign kind runs through it, on its cron schedule.

load lists -> hold the run's lease -> take over the attempts dead runs left (resolved at the PBX
before anything is dialed) -> pick the due contacts -> dial them
concurrently on one AMI session (async tasks awaited directly in this async flow; a semaphore
and a token bucket within the run, a Prefect global concurrency limit per trunk across runs and
workers), each retried inside the run at the time the retry policy gives for its outcome (the
task returns Prefect's AwaitingRetry state with that time: `retry_at`) -> write
each attempt as it ends -> publish the dashboard and return a summary state.

Thin on purpose: the run (engines, pacer, dialer, journal, lease, dead runs' attempts) is built
by `autodialer.dialer.run`, what an attempt does is `autodialer.dialer.dialing`, the rules are
`autodialer.rules.policy` and `autodialer.rules.windows`, the numbers come from `autodialer.store`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment as prefect_deployment
from prefect.runtime import flow_run
from prefect.runtime import task_run as prefect_task_run
from prefect.states import AwaitingRetry, Completed, Failed, State

from autodialer.campaigns.campaign import Campaign, OneOffCampaign, load_campaign

from autodialer.dialer import run as core_run
from autodialer.dialer.dialing import AttemptOutcome, ContactDialer, utcnow
from autodialer.campaigns.privacy import Redactor
from autodialer.dialer.run import open_run, resolved_as
from flows import events
from flows.logs import forward_run_logs
from flows.naming import campaign_run_name, new_campaign_run_name, redactor
from flows.params import AmiBlocks, CampaignFile, DatabaseBlock, MaxContacts, RunMinutes, described
from flows.pause import PauseSwitch
from flows.dashboard import CampaignRun
from flows.resources import ami_servers_from, campaign_store, trunk_channels


@task(name="load-lists", cache_policy=NO_CACHE, persist_result=False)
async def load_lists(campaign: Campaign, store, campaign_id: int) -> list:
    """Ingest the campaign's lists and exclusions (idempotent: a file already loaded adds nothing).
    Returns the IngestReport of each file. A file that cannot be read (bad layout, over the
    limits, a zip bomb) adds nothing, is reported as NOT LOADED and the run dials the contacts
    already imported: one bad upload does not stop a campaign."""
    from autodialer.lists.errors import ListFileError
    from autodialer.store import IngestReport

    logger = get_run_logger()
    reports = []
    for path in campaign.list_paths():
        try:
            report = await asyncio.to_thread(store.import_list, campaign_id, path, campaign.list_settings())
        except ListFileError as exc:
            report = IngestReport.unreadable(path, exc)
            logger.error("%s", report)
        else:
            logger.info("%s", report)
        if report.error is not None or not report.already_imported:
            events.list_imported(campaign.name, report)
        reports.append(report)
    return reports


@task(name="take-over-orphans", cache_policy=NO_CACHE, persist_result=False)
async def take_over_orphans(campaign: Campaign, store, campaign_id: int) -> list:
    """The attempts that dead runs (lease lapsed, by the database's clock) left in progress; they
    are resolved at the PBX before anything is dialed (autodialer.dialer.run.open_run)."""
    return await core_run.take_over_orphans(campaign, store, campaign_id)


@asynccontextmanager
async def held_run(campaign: Campaign, store, campaign_id: int):
    """Every flow that dials (campaign, recall, conference, click-to-call) runs inside this:
    autodialer.dialer.run.hold_run (dead runs' journals replayed, the lease held, the attempts of dead
    runs taken over) under the flow run's id and deployment, the take-over as a task run."""
    deployment = prefect_deployment.name  # None when run outside a deployment
    async with core_run.hold_run(campaign, store, campaign_id, run_id=str(flow_run.get_id() or uuid.uuid4().hex),
                                 deployment=str(deployment) if deployment else None,
                                 take_over=take_over_orphans) as held:
        yield held


@task(name="pick-due-contacts", cache_policy=NO_CACHE, persist_result=False)
async def pick_due_contacts(campaign: Campaign, store, campaign_id: int, limit: int | None) -> list:
    """Contacts whose next attempt time has passed and whose calling window is open now."""
    now = utcnow()
    due = await asyncio.to_thread(store.due_contacts, campaign_id, now=now, limit=limit)
    open_now = [c for c in due if campaign.windows.can_start(now, campaign.callee_zones(c), campaign.min_ring)]
    get_run_logger().info("%d contact(s) due, %d inside their calling window", len(due), len(open_now))
    return open_now


@task(name="dial", cache_policy=NO_CACHE, persist_result=False)
async def dial_contact(dialer: ContactDialer, contact, deadline: datetime, shown: Redactor = Redactor()) -> State:
    """One attempt on `contact`. An outcome the policy retries inside this run comes back as
    Prefect's AwaitingRetry state at the policy's time for it (`retry_at`): Prefect runs this
    task again then, as Retrying, at most the campaign's max_attempts times in all."""
    # Parameters stay small: Prefect walks every task parameter (looking for futures), so a
    # growing collection passed here would make a run quadratic in its contacts.
    outcome = await dialer.attempt(contact)
    state = outcome_state(outcome, deadline, shown)
    if state.is_failed() and outcome.next_attempt_at is not None:
        if prefect_task_run.run_count < dialer.campaign.retry.max_attempts:
            return retry_at(outcome.next_attempt_at, state)
    return state  # past max_attempts runs it stays Failed, as when Prefect's own retries ran out


def retry_at(when: datetime, outcome: State) -> State:
    """What a task returns to be run again at `when`: Prefect's AwaitingRetry state with that
    scheduled time (the task engine waits until then and runs the task again as Retrying; the
    documented way to choose a retry's time from inside the task, PrefectHQ/examples
    flows/return_custom_state.py). The outcome's name and message are kept in its message.
    tests/test_prefect_retry.py fails if a Prefect upgrade stops honouring it."""
    return AwaitingRetry(scheduled_time=when, message=f"{outcome.name}: {outcome.message}")


@task(name="dial-batch", cache_policy=NO_CACHE, persist_result=False)
async def dial_batch(call, batch: list, shown: Redactor = Redactor()) -> State:
    """Batched mode: one task run dials a batch of contacts (each with its in-run retries); its
    table artifact lists the batch's contacts and their outcomes."""
    from prefect.artifacts import acreate_table_artifact

    outcomes = [o for o in await asyncio.gather(*(call(c) for c in batch)) if o is not None]
    await acreate_table_artifact([CampaignRun._row(o, shown) for o in outcomes],
                                 description=f"{len(outcomes)} contact(s) of this batch and their outcomes")
    counts = Counter(o.result.status.value if o.result else "SKIPPED" for o in outcomes)
    return Completed(name="Batch", message=f"{len(outcomes)} contact(s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


async def dial_in_batches(campaign: Campaign, dialer: ContactDialer, contacts: list, alive, deadline, run, shown) -> None:
    """One task run per `task_run_batch` contacts instead of one per contact, for campaigns
    faster than the Prefect server records task runs (bench/dashboard_lag.py): the same calls,
    limits and in-run retries (the policy's delay, while it falls inside the run), done here
    instead of by Prefect's task retries."""

    async def call(contact):
        async with alive:
            outcome = None
            for _ in range(campaign.retry.max_attempts):
                outcome = await dialer.attempt(contact)
                due = outcome.next_attempt_at
                if outcome.skipped or due is None or due > deadline:
                    break
                await asyncio.sleep(max(0.0, (due - utcnow()).total_seconds()))
            await run.record(outcome)
            return outcome

    size = campaign.task_run_batch
    batches = [contacts[i:i + size] for i in range(0, len(contacts), size)]
    await asyncio.gather(*(
        dial_batch.with_options(task_run_name=f"batch {n + 1}/{len(batches)} ({len(b)} contacts)")(call, b, shown, return_state=True)
        for n, b in enumerate(batches)))


def outcome_state(outcome: AttemptOutcome, deadline: datetime, shown: Redactor = Redactor()) -> State:
    """A state named after the outcome, with a message the UI shows (through `shown`: masked
    under mask_pii). Failed only when the contact is due again inside this run (the campaign
    flow's dial task turns that into `retry_at`); an outcome handed back to the database schedule
    is a Completed task: the attempt is recorded."""
    state = _outcome_state(outcome, deadline)
    state.message = shown.text(state.message or "")
    return state


def _outcome_state(outcome: AttemptOutcome, deadline: datetime) -> State:
    if outcome.skipped:
        return Completed(name="Skipped", message=outcome.skipped + zones_note(outcome.zones))
    r = outcome.result
    name = (outcome.contact_result or r.status.value).replace("_", " ").title()
    message = r.status.value
    if r.cause is not None:
        message += f" (cause {r.cause} {r.cause_txt or ''})".rstrip()
    if r.error:
        message += f": {r.error}"
    message += f"; {outcome.decision.reason}" if outcome.decision else ""
    message += zones_note(outcome.zones)
    if outcome.next_attempt_at:
        message += f"; next attempt {outcome.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
        if outcome.next_attempt_at <= deadline:
            return Failed(name=name, message=message)
    return Completed(name=name, message=message)


def zones_note(zones) -> str:
    """Where the window was evaluated, for the task run's message: `; callee time Asia/Omsk`."""
    if not zones:
        return ""
    return f"; callee time {' '.join(zones)}" + (" (window open in every one)" if len(zones) > 1 else "")


def contact_name(contact) -> str | None:
    return (contact.variables or {}).get("CUSTOMER") or (contact.variables or {}).get("NAME")


def task_run_label(contact, shown: Redactor = Redactor()) -> str:
    return shown.label(contact.phone, contact_name(contact))


@flow(name="campaign", flow_run_name=campaign_run_name, persist_result=False)
@described
async def campaign_flow(
    campaign_file: CampaignFile,
    ami_blocks: AmiBlocks = None,
    database_block: DatabaseBlock = None,
    run_minutes: RunMinutes = None,
    max_contacts: MaxContacts = None,
    mask_pii: bool | None = None,
    dry_run: bool = False,
) -> State:
    """Run one campaign now: load, pick due contacts, dial, record, report."""
    forward_run_logs()  # the dialer's own warnings in this run's logs (flows/logs.py)
    return await run_campaign(load_campaign(campaign_file), ami_blocks, database_block, run_minutes, max_contacts,
                              mask_pii, dry_run)


@flow(name="new-campaign", flow_run_name=new_campaign_run_name, persist_result=False)
@described
async def new_campaign_flow(
    campaign: OneOffCampaign,
    ami_blocks: AmiBlocks = None,
    database_block: DatabaseBlock = None,
    run_minutes: RunMinutes = None,
    max_contacts: MaxContacts = None,
    mask_pii: bool | None = None,
    dry_run: bool = False,
) -> State:
    """A one-off campaign started from the UI's form: the campaign as a file would say it, on a
    list already imported under its name (`autodialer import`) or on list files on the worker."""
    from pathlib import Path

    forward_run_logs()
    campaign = OneOffCampaign.model_validate(campaign.model_dump() if isinstance(campaign, Campaign) else campaign)
    object.__setattr__(campaign, "_source_dir", Path.cwd() / "campaigns")  # the pull step's directory
    return await run_campaign(campaign, ami_blocks, database_block, run_minutes, max_contacts, mask_pii, dry_run)


async def run_campaign(campaign: Campaign, ami_blocks, database_block, run_minutes, max_contacts, mask_pii, dry_run) -> State:
    logger = get_run_logger()
    run_minutes = campaign.run_minutes if run_minutes is None else run_minutes  # the schedule's, by default
    shown = redactor(campaign, mask_pii)
    forward_run_logs(mask=shown.text)
    store, campaign_id = await campaign_store(campaign, database_block)
    loaded = await load_lists(campaign, store, campaign_id)
    if dry_run:
        return await report_due(campaign, store, campaign_id, max_contacts, loaded, shown)
    async with held_run(campaign, store, campaign_id) as held:
        orphans = held.orphans
        contacts = await pick_due_contacts(campaign, store, campaign_id, max_contacts)

        run = CampaignRun(campaign, store, campaign_id, total=len(contacts), shown=shown)
        await run.start()
        deadline = utcnow() + timedelta(minutes=run_minutes)
        outcomes: dict[int, AttemptOutcome] = {}  # the last outcome per contact this run
        resolved: list[AttemptOutcome] = []  # the dead runs' attempts, as resolved
        pacing = paused = None
        if contacts or orphans:
            servers = await ami_servers_from(ami_blocks, campaign)
            async with trunk_channels(campaign) as channels:
                # Task runs alive at once (calls plus retry sleeps): bounded so a big list does not
                # create thousands of waiting task runs; sleeping retries do not hold call slots.
                alive = asyncio.Semaphore(max(4 * channels, 50))
                async with (PauseSwitch(campaign.name, until=deadline) as pause,
                            # the dead runs' attempts resolved inside, before anything is dialed
                            open_run(campaign, store, campaign_id, servers=servers, channels=channels, held=held,
                                     hold=pause.hold, stop_at=deadline) as built,
                            events.watch_run(campaign, built.engines, built.pacer)):
                    dialer = built.dialer
                    run.in_flight = lambda: built.engines.in_flight
                    outcomes = dialer.outcomes

                    async def one(contact):
                        async with alive:
                            dial = dial_contact.with_options(task_run_name=task_run_label(contact, shown))
                            state = await dial(dialer, contact, deadline, shown, return_state=True)
                            await run.record(outcomes.get(contact.id))
                            return state

                    if campaign.task_run_batch:
                        await dial_in_batches(campaign, dialer, contacts, alive, deadline, run, shown)
                    else:
                        await asyncio.gather(*(one(c) for c in contacts))
                    resolved = await built.settle()
                    pacing = built.pacer.stats.as_dict()
                paused = pause.summary()
        summary = await run.finish(outcomes, loaded, pacing, paused)
        held.lease.counts = run_counts(outcomes.values(), resolved)
    logger.info(summary.message)
    events.run_summary(campaign.name, campaign.kind, held.lease.counts, summary.message, summary.type.value)
    return summary


async def report_due(campaign: Campaign, store, campaign_id: int, limit: int | None, loaded, shown: Redactor) -> State:
    """dry_run: who would be dialed now, as a table artifact; nothing dialed or claimed."""
    from prefect.artifacts import acreate_table_artifact

    from autodialer.reports.dashboard import slug

    contacts = await pick_due_contacts(campaign, store, campaign_id, limit)
    rows = [{"contact": c.id, "phone": shown.phone(c.phone), "name": shown.name(contact_name(c)) if contact_name(c) else "",
             "attempts": c.attempts, "callee time": " ".join(campaign.callee_zones(c))} for c in contacts]
    await acreate_table_artifact(rows, key=f"{slug(campaign.name)}-dry-run",
                                 description=f"{campaign.name}: the {len(rows)} contact(s) a run would dial now (dry run)")
    rejected = sum(getattr(r, "rejected", 0) or 0 for r in loaded)
    message = (f"{campaign.name}: dry run: {len(rows)} contact(s) due inside their calling window; nothing dialed"
               + (f"; {rejected} row(s) rejected by the list import" if rejected else ""))
    get_run_logger().info(message)
    return Completed(name="Dry run", message=message)


def run_counts(outcomes, resolved) -> dict:
    """What the run did, for its `runs` row: outcomes by status, skips by reason, dead runs'
    attempts resolved by status."""
    return {
        "dialled": dict(Counter(o.result.status.value for o in outcomes if o.result)),
        "skipped": dict(Counter(o.skipped for o in outcomes if o.skipped)),
        "resolved": dict(Counter(resolved_as(o) for o in resolved)),
    }

if __name__ == "__main__":
    import sys

    asyncio.run(campaign_flow(sys.argv[1]))

"""Recall of missed calls: a long-running flow (one run per working day, `run_minutes` long).

It listens on the AMI for callers who left a queue unanswered, reads Asterisk's CDR table in
PostgreSQL as a second source (an asterisk-cdr-database block, or AUTODIALER_CDR_DATABASE_URL), turns them into
recall contacts (autodialer.recall.planner: one per number per period, not if the number got
through later or was already called back, dropped after `within`), and calls each back into the
queue that missed it, only while that queue has a free operator. One task run per callback.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State

from autodialer.campaigns.campaign import load_campaign
from autodialer.reports.dashboard import slug
from autodialer.dialer.dialing import ContactDialer, utcnow
from autodialer.errors import ConfigError
from autodialer.campaigns.privacy import Redactor
from autodialer.dialer.run import open_run
from flows import events
from flows.logs import forward_run_logs
from flows.naming import campaign_run_name, redactor
from flows.params import AmiBlocks, CampaignFile, CdrBlock, DatabaseBlock, PollSeconds, RunMinutes, described
from flows.pause import PauseSwitch
from flows.campaign import held_run, outcome_state, run_counts, task_run_label
from flows.resources import ami_servers_from, campaign_store, cdr_url_from, trunk_channels



@task(name="recall-call", cache_policy=NO_CACHE, persist_result=False)
async def recall_call(dialer: ContactDialer, contact, deadline, shown: Redactor = Redactor()) -> State:
    outcome = await dialer.attempt(contact)
    return outcome_state(outcome, deadline, shown)


@flow(name="recall", flow_run_name=campaign_run_name, persist_result=False)
@described
async def recall_flow(
    campaign_file: CampaignFile,
    ami_blocks: AmiBlocks = None,
    database_block: DatabaseBlock = None,
    run_minutes: RunMinutes = None,
    cdr_database: CdrBlock = None,
    poll_seconds: PollSeconds = 1.0,
    mask_pii: bool | None = None,
) -> State:
    """Listen for missed calls and call them back for `run_minutes`."""
    forward_run_logs()  # the dialer's own warnings in this run's logs (flows/logs.py)
    campaign = load_campaign(campaign_file)
    run_minutes = campaign.run_minutes if run_minutes is None else run_minutes  # the schedule's, by default
    shown = redactor(campaign, mask_pii)
    forward_run_logs(mask=shown.text)
    if campaign.kind != "recall":
        raise ConfigError(f"{campaign_file}: kind is {campaign.kind!r}, the recall flow runs kind 'recall'")
    store, campaign_id = await campaign_store(campaign, database_block)
    async with held_run(campaign, store, campaign_id) as held:  # a lease, like every run that dials
        return await _recall(campaign, store, campaign_id, held, shown, ami_blocks=ami_blocks, run_minutes=run_minutes,
                             cdr_database=cdr_database, poll_seconds=poll_seconds)


async def _recall(campaign, store, campaign_id: int, held, shown: Redactor, *, ami_blocks, run_minutes: float,
                  cdr_database, poll_seconds: float) -> State:
    import sqlalchemy as sa

    from autodialer.store.adhoc import load_campaign_exclusions
    from autodialer.config import check_database_url, redact_database_url
    from autodialer.recall.planner import RecallPlanner
    from autodialer.recall.runner import RecallRunner
    from autodialer.telephony.cdr import CDR_URL_VAR, CdrReader, cdr_reader_from_env

    logger = get_run_logger()
    await asyncio.to_thread(load_campaign_exclusions, store, campaign, campaign_id)  # recall checks them

    cdr_url = await cdr_url_from(cdr_database)
    cdr_engine = None
    if campaign.recall.cdr and cdr_url:
        cdr_engine = sa.create_engine(check_database_url(cdr_url, source=CDR_URL_VAR))
        logger.info("reading missed calls from the CDR table %s at %s", campaign.recall.cdr_table, redact_database_url(cdr_url))

    start = utcnow()
    deadline = start + timedelta(minutes=run_minutes)
    # The queues live on one PBX: the first server only.
    server = (await ami_servers_from(ami_blocks, campaign))[0]
    outbound_context = server[1]
    try:
        async with trunk_channels(campaign) as channels:
            cdr = CdrReader(cdr_engine, campaign.recall.cdr_table) if cdr_engine is not None else cdr_reader_from_env()
            # Paced by the queues' free operators (RecallRunner), within the channels; operator_first:
            # an operator of the queue takes the call first, then the client is rung. A dead run's
            # callbacks are resolved before anyone is called: followed if still up.
            async with (PauseSwitch(campaign.name, until=deadline) as pause,
                        open_run(campaign, store, campaign_id, servers=[server], channels=channels, held=held,
                                 hold=pause.hold, cdr=cdr, pace=False) as run):
                ami = run.session
                events.watch_pbx(campaign.name, ami, ami.settings)
                dialer = run.dialer
                planner = RecallPlanner(store, campaign, campaign_id)

                async def dial(contact):
                    return await recall_call.with_options(task_run_name=task_run_label(contact, shown))(
                        dialer, contact, deadline, shown, return_state=True)

                runner = RecallRunner(dialer, planner, ami, cdr_engine=cdr_engine, outbound_context=outbound_context,
                                      poll=poll_seconds, dial=dial)
                await runner.run(deadline)
                resolved = await run.settle()
                paused = pause.summary()
    finally:
        if cdr_engine is not None:
            cdr_engine.dispose()

    rows = [{"phone": shown.phone(o.phone), "status": o.result.status.value if o.result else "", "result": o.contact_result or "",
             "skipped": o.skipped or ""} for o in dialer.outcomes.values()]
    if rows:
        await acreate_table_artifact(rows, key=f"{slug(campaign.name)}-results", description=f"{campaign.name}: callbacks this run")
    seen = [{"number": shown.phone(n), "source": s, "decision": d} for n, s, d in runner.decisions]
    if seen:
        await acreate_table_artifact(seen, key=f"{slug(campaign.name)}-missed", description=f"{campaign.name}: missed calls seen this run")
    refused = sum(1 for *_, d in runner.decisions if d.startswith("refused: "))
    message = (f"{campaign.name}: {len(runner.decisions)} missed call(s) seen, "
               f"{sum(1 for *_, d in runner.decisions if d in ('new', 'reopened'))} new recall(s), {runner.calls} callback(s) made"
               + (f", {refused} refused (allowed_numbers or a do-not-call list)" if refused else ""))
    if resolved:
        message += f"; {len(resolved)} callback(s) of a dead run resolved"
    if paused:
        message += f"; {paused}"
    held.lease.counts = run_counts(dialer.outcomes.values(), resolved)
    logger.info(message)
    events.run_summary(campaign.name, campaign.kind, {"missed_seen": len(runner.decisions), "callbacks": runner.calls,
                                                       "refused": refused}, message, "COMPLETED")
    return Completed(message=message)


if __name__ == "__main__":
    import sys

    asyncio.run(recall_flow(sys.argv[1]))

"""Conference assembly as a Prefect flow: the list's moderator first, then every participant
into one ConfBridge room, retrying those who did not answer while the conference lasts.

One task run per contact (named after it) covers all its attempts of the meeting; the results
table artifact shows joined / busy / no_answer ... per participant. What a call does is
`autodialer.kinds.conference` and `autodialer.dialer.dialing`; this module only orchestrates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from autodialer.campaigns.campaign import load_campaign
from autodialer.reports.dashboard import slug
from autodialer.dialer.dialing import utcnow
from autodialer.campaigns.privacy import Redactor
from autodialer.dialer.run import open_run
from flows import events
from flows.logs import forward_run_logs
from flows.naming import campaign_run_name, redactor
from flows.params import AmiBlocks, CampaignFile, DatabaseBlock, RunMinutes, described
from flows.pause import PauseSwitch
from flows.campaign import held_run, load_lists, pick_due_contacts, report_due, run_counts, task_run_label
from flows.resources import ami_servers_from, campaign_store, trunk_channels


@task(name="participant", cache_policy=NO_CACHE, persist_result=False)
async def dial_participant(keep_dialing, contact, shown: Redactor = Redactor()) -> State:
    outcome = await keep_dialing(contact)
    from autodialer.kinds.conference import participant_result

    result = participant_result(outcome)
    name = result.replace("_", " ").title()
    return Completed(name=name[:30], message=f"{shown.phone(contact.phone)}: {result}")


@flow(name="conference", flow_run_name=campaign_run_name, persist_result=False)
@described
async def conference_flow(
    campaign_file: CampaignFile,
    ami_blocks: AmiBlocks = None,
    database_block: DatabaseBlock = None,
    run_minutes: RunMinutes = None,
    mask_pii: bool | None = None,
    dry_run: bool = False,
) -> State:
    """Assemble the conference of `campaign_file` now (kind conference, destination type
    conference with a room, the list marking the moderator with CONF_ROLE)."""
    forward_run_logs()  # the dialer's own warnings in this run's logs (flows/logs.py)
    campaign = load_campaign(campaign_file)
    run_minutes = campaign.run_minutes if run_minutes is None else run_minutes  # the schedule's, by default
    shown = redactor(campaign, mask_pii)
    forward_run_logs(mask=shown.text)
    store, campaign_id = await campaign_store(campaign, database_block)
    loaded = await load_lists(campaign, store, campaign_id)
    if dry_run:
        return await report_due(campaign, store, campaign_id, None, loaded, shown)
    async with held_run(campaign, store, campaign_id) as held:  # a lease, like every run that dials
        return await _assemble(campaign, store, campaign_id, held, shown, ami_blocks=ami_blocks, run_minutes=run_minutes)


async def _assemble(campaign, store, campaign_id: int, held, shown: Redactor, *, ami_blocks, run_minutes: float) -> State:
    from autodialer.kinds.conference import MODERATOR, ConferenceAssembly, role_of

    logger = get_run_logger()
    contacts = await pick_due_contacts(campaign, store, campaign_id, None)
    if not contacts and not held.orphans:
        return Completed(message=f"{campaign.name}: nobody to call")

    deadline = utcnow() + timedelta(minutes=run_minutes)
    # One room lives on one PBX: the first server only.
    server = (await ami_servers_from(ami_blocks, campaign))[0]
    async with trunk_channels(campaign) as channels:
        # Paced by the room (moderators first), within the channels. A dead run's calls are
        # resolved before anyone is called: one still up is followed (and stays in the room), so
        # its participant is not called again.
        async with (PauseSwitch(campaign.name, until=deadline) as pause,
                    open_run(campaign, store, campaign_id, servers=[server], channels=channels, held=held,
                             hold=pause.hold, pace=False) as run):
            ami = run.session
            events.watch_pbx(campaign.name, ami, ami.settings)
            dialer, recovery = run.dialer, run.recovery
            assembly = ConferenceAssembly(dialer, ami, deadline=deadline)

            async def dial(contact, keep_dialing):
                return await dial_participant.with_options(task_run_name=task_run_label(contact, shown))(
                    keep_dialing, contact, shown, return_state=True)

            if recovery.followed and not any(role_of(c) == MODERATOR for c in contacts):
                # The moderator's call is a dead run's, still up and followed: this run cannot
                # tell when the room is live, so the others stay pending for the next run.
                logger.warning("the moderator's call is a dead run's (followed): participants left for the next run")
                contacts = []
            results = await assembly.run(contacts, dial=dial) if contacts else []
            resolved = await run.settle()
        paused = pause.summary()
    held.lease.counts = run_counts(dialer.outcomes.values(), resolved)
    if not results:
        return Completed(message=f"{campaign.name}: {len(resolved)} call(s) of a dead run resolved; nobody else called")

    rows = [{"phone": shown.phone(r.phone), "role": r.role, "result": r.result, "attempts": r.attempts} for r in results]
    await acreate_table_artifact(rows, key=f"{slug(campaign.name)}-results",
                                 description=f"{campaign.name}: result per participant (room {campaign.destination.room})")
    joined = sum(1 for r in results if r.result == "joined")
    message = f"{campaign.name}: {joined}/{len(results)} joined room {campaign.destination.room}; " + ", ".join(
        f"{shown.phone(r.phone)} {r.result}" for r in results)
    if paused:
        message += f"; {paused}"
    logger.info(message)
    if not any(r.role == "moderator" and r.result == "joined" for r in results):
        if paused:  # the operators held it: not a failure of the run
            state = Completed(name="Paused", message=f"no moderator joined: {message}")
        else:
            state = Failed(message=f"no moderator joined: {message}")
    else:
        state = Completed(message=message)
    events.run_summary(campaign.name, campaign.kind, {"results": dict(Counter(r.result for r in results))},
                       state.message, state.type.value)
    return state


if __name__ == "__main__":
    import sys

    asyncio.run(conference_flow(sys.argv[1]))

"""Where a flow gets its connections: Prefect blocks when named, else the environment; and the
per-trunk channel share across runs and workers (a Prefect global concurrency limit). What is
built from them (engines, pacer, dialer) is autodialer.dialer.run's."""

from __future__ import annotations

from contextlib import asynccontextmanager

from prefect import get_run_logger

from autodialer import config
from autodialer.campaigns.campaign import Campaign


async def database_url_from(block) -> str:
    """The outcome database's URL: from an OutcomeDatabase block (a UI picker gives one), a block
    name (the CLI), else AUTODIALER_DATABASE_URL."""
    if block:
        from blocks.asterisk import OutcomeDatabase

        if isinstance(block, str):
            block = await OutcomeDatabase.aload(block)
        return block.sqlalchemy_url()
    return config.database_url()


async def cdr_url_from(block) -> str | None:
    """Asterisk's CDR database URL: a CdrDatabase block or its name, else
    AUTODIALER_CDR_DATABASE_URL, else None (no CDR source)."""
    if block:
        from blocks.asterisk import CdrDatabase

        if isinstance(block, str):
            block = await CdrDatabase.aload(block)
        return block.sqlalchemy_url()
    import os

    from autodialer.telephony.cdr import CDR_URL_VAR

    return os.environ.get(CDR_URL_VAR) or None


async def ami_servers_from(blocks, campaign: Campaign):
    """[(AmiSettings, outbound context)], one per Asterisk server: the asterisk-ami blocks given
    (instances, or names from the CLI; several = a campaign spread over several PBXes), else
    AUTODIALER_AMI_URL with the campaign's context."""
    if blocks:
        from blocks.asterisk import AsteriskAMI

        servers = []
        for block in blocks:
            if isinstance(block, str):
                block = await AsteriskAMI.aload(block)
            servers.append((block.settings(), block.outbound_context))
        return servers
    return [(config.ami_settings(), campaign.outbound_context)]


async def campaign_store(campaign: Campaign, database_block):
    """The outcome store, migrated, and the campaign's id in it (created or its settings updated)."""
    import asyncio

    from autodialer.store import Store

    store = Store(await database_url_from(database_block))
    await asyncio.to_thread(store.migrate)
    campaign_id = await asyncio.to_thread(
        store.ensure_campaign, campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot()
    )
    return store, campaign_id


def trunk_limit_name(campaign: Campaign) -> str:
    return f"trunk-{campaign.trunk}"


@asynccontextmanager
async def trunk_channels(campaign: Campaign):
    """Yield how many channels this run may use on the campaign's trunk.

    If a global concurrency limit `trunk-<trunk>` exists, the run holds min(max_concurrent_calls,
    limit) of its slots for its whole life: one acquisition a run, not a call (a Prefect
    acquisition costs ~15 ms uncontended and seconds under contention). Other runs and workers
    on the same trunk then get only what is left. Without the limit the campaign's own
    max_concurrent_calls applies. Asterisk's GROUP_COUNT() in the outbound context is the hard
    backstop either way.
    """
    from prefect.client.orchestration import get_client
    from prefect.concurrency.asyncio import concurrency
    from prefect.exceptions import ObjectNotFound

    logger = get_run_logger()
    name = trunk_limit_name(campaign)
    want = campaign.max_concurrent_calls
    try:
        async with get_client() as client:
            limit = await client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        limit = None
    if limit is None or not limit.active:
        yield want
        return
    occupy = max(1, min(want, limit.limit))
    logger.info("waiting for %d channel(s) of trunk limit %s (limit %d)", occupy, name, limit.limit)
    async with concurrency(name, occupy=occupy, strict=True, lease_duration=max(300, campaign.max_call_duration)):
        yield occupy

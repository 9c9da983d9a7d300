HELP = "resume dialing paused by `autodialer pause` (every campaign, or one)"


def add_arguments(parser):
    parser.add_argument("campaign", nargs="?", help="campaign name or file (default: the global switch)")


def run(args) -> int:
    import asyncio

    return asyncio.run(set_switch(args.campaign, paused=False))


def switch_name(campaign: str | None) -> str:
    from flows.pause import GLOBAL_VARIABLE, campaign_variable

    if not campaign:
        return GLOBAL_VARIABLE
    if campaign.endswith((".yaml", ".yml")):
        from autodialer.campaign import load_campaign

        campaign = load_campaign(campaign).name
    return campaign_variable(campaign)


async def set_switch(campaign: str | None, *, paused: bool, reason: str = "") -> int:
    """Set or clear one switch on the Prefect server the workers use, then say what is paused."""
    import getpass
    from datetime import datetime, timezone

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableCreate, VariableUpdate

    from autodialer.commands.preflight import require_shared_api
    from flows.pause import GLOBAL_VARIABLE, is_paused

    require_shared_api("a pause switch")
    name = switch_name(campaign)
    async with get_client() as client:
        if paused:
            value = {"paused_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "by": getpass.getuser(), "reason": reason}
            if await client.read_variable_by_name(name) is None:
                await client.create_variable(VariableCreate(name=name, value=value, tags=["autodialer-pause"]))
            else:
                await client.update_variable(VariableUpdate(name=name, value=value))
            print(f"paused: {name} set; running campaigns start no new call within seconds (calls in flight go on)")
        else:
            if await client.read_variable_by_name(name) is not None:
                await client.delete_variable_by_name(name)
            print(f"resumed: {name} cleared")
        still = [v.name for v in await client.read_variables() if v.name.startswith(GLOBAL_VARIABLE) and is_paused(v.value)]
    if still:
        print(f"still paused: {', '.join(sorted(still))}")
    return 0

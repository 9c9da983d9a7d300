"""The operators' pause switch, by name: Prefect Variables a running campaign reads before each
claim (flows/pause.py's PauseSwitch) and `autodialer pause` / `resume` (or the pause-campaign
deployment) set and clear.

    autodialer_pause                 every campaign, on every worker
    autodialer_pause_<campaign>      one campaign (name with `-` as `_`: autodialer_pause_order_confirmation)

Any value but false/"no"/"off"/"0"/empty means paused.
"""

from __future__ import annotations

import re

GLOBAL_VARIABLE = "autodialer_pause"
OFF_VALUES = (None, False, "", "false", "no", "off", "0", 0, {}, [])


def campaign_variable(campaign_name: str) -> str:
    """The campaign's switch: Prefect variable names take lowercase letters, digits, `_` and `-`."""
    return f"{GLOBAL_VARIABLE}_" + (re.sub(r"[^a-z0-9]+", "_", campaign_name.lower()).strip("_") or "campaign")


def is_paused(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in OFF_VALUES
    return value not in OFF_VALUES


def switch_name(campaign: str | None) -> str:
    if not campaign:
        return GLOBAL_VARIABLE
    if campaign.endswith((".yaml", ".yml")):
        from autodialer.campaigns.campaign import load_campaign

        campaign = load_campaign(campaign).name
    return campaign_variable(campaign)


async def set_switch(campaign: str | None, *, paused: bool, reason: str = "") -> int:
    """Set or clear one switch on the Prefect server the workers use, then say what is paused."""
    import getpass
    from datetime import datetime, timezone

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableCreate, VariableUpdate

    from autodialer.commands.preflight import require_shared_api

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

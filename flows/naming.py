"""What a run is called in the Prefect UI, and what it may show there.

A flow run is named `<campaign> <scheduled start in the campaign's schedule time zone>`
(`order-confirmation 2026-12-01 09:20 MSK`): the runs list reads like the campaign's timetable,
in the clock the business set the cron in. A run started by hand (no schedule) is named after
the time it started. Task runs are named after their contact (`flows/campaign.task_run_label`).

`mask_pii` (the campaign's setting, or the flow parameter: either one turns it on) masks
numbers and names in everything the run sends to Prefect, through one `Redactor`
(autodialer/campaigns/privacy.py).
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from autodialer.campaigns.privacy import Redactor


def _campaign_or_none(campaign_file):
    from autodialer.campaigns.campaign import load_campaign
    from autodialer.errors import AutodialerError

    try:
        return load_campaign(campaign_file)
    except (AutodialerError, OSError, TypeError):
        return None  # the flow body loads it again and fails with the real error


def local_start(time_zone: str) -> str:
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time.astimezone(ZoneInfo(time_zone))
    return f"{when:%Y-%m-%d %H:%M} {when.tzname()}"


def campaign_run_name() -> str:
    """flow_run_name of the campaign, recall and conference flows."""
    from prefect.runtime import flow_run

    campaign_file = flow_run.parameters.get("campaign_file") or ""
    campaign = _campaign_or_none(campaign_file)
    if campaign is None:
        return f"{Path(str(campaign_file)).stem} {local_start('UTC')}"
    return f"{campaign.name} {local_start(campaign.schedule.timezone)}"


def new_campaign_run_name() -> str:
    """flow_run_name of the one-off campaign started from the UI's form (the campaign model)."""
    from prefect.runtime import flow_run

    campaign = flow_run.parameters.get("campaign")
    data = campaign if isinstance(campaign, dict) else getattr(campaign, "__dict__", {})
    schedule = data.get("schedule") or {}
    zone = schedule.get("timezone") if isinstance(schedule, dict) else getattr(schedule, "timezone", None)
    try:
        return f"{data.get('name') or 'new-campaign'} {local_start(zone or 'UTC')}"
    except Exception:  # an unknown zone: the flow body fails with the real error
        return f"{data.get('name') or 'new-campaign'} {local_start('UTC')}"


def callback_run_name() -> str:
    """flow_run_name of click-to-call: the campaign, the time, operator -> client."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    campaign = _campaign_or_none(params.get("campaign_file") or "")
    shown = redactor(campaign, params.get("mask_pii"))
    name, zone = (campaign.name, campaign.schedule.timezone) if campaign else ("callback", "UTC")
    return f"{name} {local_start(zone)} {params.get('operator')} -> {shown.phone(str(params.get('number')))}"


def redactor(campaign, mask_pii: bool | None) -> Redactor:
    """The run's Redactor: masking when the campaign or the flow parameter asks for it (a
    parameter cannot unmask a campaign whose data must not reach Prefect)."""
    return Redactor(mask_pii=bool(mask_pii) or bool(getattr(campaign, "mask_pii", False)))

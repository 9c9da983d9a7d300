"""Deployments from one source, the campaign files: one Prefect deployment per `campaigns/*.yaml`.

`autodialer deploy` creates (or updates) them through Prefect's API; `autodialer deploy
--write-prefect-yaml` writes the same deployments as `prefect.yaml` for `prefect deploy --all`
(tests/test_deploy.py fails when the checked-in file is not what the campaign files give).

Each deployment: the campaign's kind's flow, `campaign_file` as its parameter (relative to the
project: the pull step puts the worker there), the cron and time zone of the campaign's
`schedule`, the work pool and job variables of its `deployment:` section, runs one at a time
(CANCEL_NEW: a run that overran never has a second one dial the same list beside it; the
campaign's run_minutes is checked against the cron so this does not happen routinely), and a pull
step: the working directory from `$AUTODIALER_HOME` on the worker's machine (read when the run
starts, so each machine may keep the project where it likes), or a git clone.

Entry points are strings: the core does not import flows/; only `apply` loads them (as Prefect's
own `deploy` does) to read their parameter schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autodialer.campaigns.campaign import Campaign, load_campaign

HOME_VARIABLE = "AUTODIALER_HOME"
ENTRYPOINTS = {
    "order_confirmation": "flows/campaign.py:campaign_flow",
    "bot": "flows/campaign.py:campaign_flow",
    "conference": "flows/conference.py:conference_flow",
    "recall": "flows/recall.py:recall_flow",
    "callback": "flows/callback.py:callback_flow",
}
ONE_AT_A_TIME = {"limit": 1, "collision_strategy": "CANCEL_NEW"}


def flow_for(kind: str):
    """The Prefect flow of a campaign kind, found by its entry point (ENTRYPOINTS): how
    `autodialer run` and the demo start a run here, without the core naming a flow module."""
    import importlib

    path, _, name = ENTRYPOINTS[kind].partition(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


def pull_steps(git_url: str | None = None, branch: str | None = None) -> list[dict]:
    """Where a worker finds the project when a run starts: a clone of `git_url`, else the
    directory `$AUTODIALER_HOME` names on the worker's machine."""
    if git_url:
        step = {"repository": git_url}
        if branch:
            step["branch"] = branch
        return [{"prefect.deployments.steps.git_clone": step}]
    return [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $" + HOME_VARIABLE + " }}"}}]


@dataclass
class DeploymentSpec:
    """One deployment as prefect.yaml writes it."""

    name: str
    entrypoint: str
    description: str
    tags: list[str]
    parameters: dict
    work_pool: str
    job_variables: dict = field(default_factory=dict)
    work_queue: str | None = None
    cron: str | None = None
    timezone: str | None = None
    run_minutes: float | None = None

    @property
    def schedules(self) -> list[dict]:
        return [{"cron": self.cron, "timezone": self.timezone}] if self.cron else []

    def as_prefect_yaml(self) -> dict:
        out = {"name": self.name, "entrypoint": self.entrypoint, "description": self.description,
               "tags": self.tags, "parameters": self.parameters}
        if self.cron:
            out["schedules"] = self.schedules
            out["concurrency_limit"] = dict(ONE_AT_A_TIME)
        work_pool = {"name": self.work_pool, "job_variables": self.job_variables}
        if self.work_queue:
            work_pool["work_queue_name"] = self.work_queue
        out["work_pool"] = work_pool
        return out


# A one-off campaign from the UI's form: its parameter is the campaign model itself.
NEW_CAMPAIGN = DeploymentSpec(
    name="new-campaign", entrypoint="flows/campaign.py:new_campaign_flow",
    description="Start a one-off campaign from this form, on a list already imported under its name "
                "(autodialer import) or on list files on the worker.",
    tags=["new-campaign"], parameters={}, work_pool="dialer")


# The pause switch as a deployment: what an automation runs to pause a campaign (automations/).
PAUSE = DeploymentSpec(
    name="pause-campaign", entrypoint="flows/pause.py:pause_campaign_flow",
    description="Set (or clear) a campaign's pause switch: its runs start no new call within seconds.",
    tags=["pause"], parameters={}, work_pool="dialer")
EXTRA = (NEW_CAMPAIGN, PAUSE)


def campaign_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("*.yaml"))


def spec_for(campaign: Campaign, relative_file: str) -> DeploymentSpec:
    """A campaign's deployment; `relative_file` is its path from the project directory."""
    scheduled = campaign.kind != "callback"  # click-to-call runs on request only
    return DeploymentSpec(
        name=campaign.name,
        entrypoint=ENTRYPOINTS[campaign.kind],
        description=campaign.description or f"{campaign.kind} campaign {campaign.name}",
        tags=[campaign.kind, f"trunk-{campaign.trunk}", *campaign.deployment.tags],
        parameters={"campaign_file": relative_file},
        work_pool=campaign.deployment.work_pool,
        job_variables=dict(campaign.deployment.job_variables),
        work_queue=campaign.deployment.work_queue,
        cron=campaign.schedule.cron if scheduled else None,
        timezone=campaign.schedule.timezone if scheduled else None,
        run_minutes=campaign.run_minutes if scheduled else None,
    )


def specs(project: Path, directory: Path | None = None) -> list[DeploymentSpec]:
    """Every campaign file of `directory` (default project/campaigns), each loaded and checked."""
    project = Path(project).resolve()
    directory = Path(directory).resolve() if directory else project / "campaigns"
    out = []
    for path in campaign_files(directory):
        try:
            relative = path.relative_to(project).as_posix()
        except ValueError:
            relative = str(path)  # outside the project: the workers need it at this path
        out.append(spec_for(load_campaign(path), relative))
    out.extend(EXTRA)
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        from autodialer.errors import ConfigError

        raise ConfigError(f"{directory}: two campaign files share the name {', '.join(dupes)}: a deployment each needs its own")
    return out


HEADER = """\
# GENERATED from campaigns/*.yaml by `autodialer deploy --write-prefect-yaml`: edit the campaign
# files (schedule, deployment:), not this file. tests/test_deploy.py fails when it is stale.
# `autodialer deploy` creates the same deployments without this file. With it:
#   prefect work-pool create dialer --type process
#   prefect --no-prompt deploy --all
#   AUTODIALER_HOME=/path/to/autodialer prefect worker start --pool dialer   # on each machine
# The pull step reads $AUTODIALER_HOME when a run starts on a worker. `prefect deploy` fills in
# {{ $VAR }} from its own environment when it is set there: deploy with AUTODIALER_HOME unset
# (or with `autodialer deploy`, which keeps the template as written).
"""


def prefect_yaml(all_specs: list[DeploymentSpec], pull: list[dict]) -> str:
    doc = {"name": "autodialer", "prefect-version": _prefect_version(), "build": None, "push": None, "pull": pull,
           "deployments": [s.as_prefect_yaml() for s in all_specs]}
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=110, allow_unicode=True)


def _prefect_version() -> str:
    from importlib.metadata import version

    return version("prefect")


async def apply(all_specs: list[DeploymentSpec], pull: list[dict], project: Path, *, create_pools: bool = True) -> dict:
    """Create or update every deployment through the Prefect API; {name: deployment id}. The
    flows are loaded from their entry points (relative to `project`) for their parameter
    schemas, so the UI's run form shows every parameter with its description and type."""
    import os

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy, ConcurrencyOptions
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.exceptions import ObjectNotFound
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema

    project = Path(project).resolve()
    out = {}
    flows = {}
    here = os.getcwd()
    os.chdir(project)  # entry points and the flows' own imports (flows.x, blocks.x) are project-relative
    try:
        for s in all_specs:
            if s.entrypoint not in flows:
                flows[s.entrypoint] = load_flow_from_entrypoint(s.entrypoint)
    finally:
        os.chdir(here)
    async with get_client() as client:
        for pool in sorted({s.work_pool for s in all_specs}):
            try:
                await client.read_work_pool(pool)
            except ObjectNotFound:
                if not create_pools:
                    raise
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        for s in all_specs:
            flow = flows[s.entrypoint]
            flow_id = await client.create_flow_from_name(flow.name)
            schedules = [DeploymentScheduleCreate(schedule=CronSchedule(cron=s.cron, timezone=s.timezone), active=True)] if s.cron else []
            deployment_id = await client.create_deployment(
                flow_id=flow_id, name=s.name, entrypoint=s.entrypoint, description=s.description, tags=s.tags,
                parameters=s.parameters, parameter_openapi_schema=parameter_schema(flow).model_dump_for_openapi(),
                enforce_parameter_schema=True, work_pool_name=s.work_pool, work_queue_name=s.work_queue,
                job_variables=s.job_variables, pull_steps=pull, schedules=schedules,
                concurrency_limit=ONE_AT_A_TIME["limit"] if s.cron else None,
                concurrency_options=ConcurrencyOptions(collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW) if s.cron else None,
            )
            # An update keeps the schedules it had: make them the campaign file's.
            existing = await client.read_deployment_schedules(deployment_id)
            wanted = {(x["cron"], x["timezone"]) for x in s.schedules}
            have = set()
            for sched in existing:
                key = (getattr(sched.schedule, "cron", None), getattr(sched.schedule, "timezone", None))
                if key not in wanted or key in have:
                    await client.delete_deployment_schedule(deployment_id, sched.id)
                have.add(key)
            missing = [x for x in schedules if (x.schedule.cron, x.schedule.timezone) not in have]
            if missing:
                await client.create_deployment_schedules(deployment_id, [(x.schedule, True) for x in missing])
            out[f"{flow.name}/{s.name}"] = deployment_id
    return out

"""Deployments come from the campaign files (autodialer/campaigns/deploy.py): prefect.yaml is what they
give; a run fits between two scheduled starts; `autodialer deploy` against a real Prefect server
creates one deployment per campaign (read back: cron, time zone, parameters, pull step, one at a
time) and a worker started elsewhere finds the project through the pull step."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autodialer.campaigns import deploy
from autodialer.campaigns.campaign import load_campaign
from autodialer.errors import ConfigError
from tests.prefectkit import PREFECT, running_prefect_server

ROOT = Path(__file__).resolve().parents[1]
AUTODIALER = str(Path(sys.executable).with_name("autodialer"))


def test_prefect_yaml_is_what_the_campaign_files_give():
    expected = deploy.prefect_yaml(deploy.specs(ROOT), deploy.pull_steps())
    assert (ROOT / "prefect.yaml").read_text(encoding="utf-8") == expected, \
        "prefect.yaml is stale: run `autodialer deploy --write-prefect-yaml`"
    res = subprocess.run([AUTODIALER, "deploy", "--check-prefect-yaml"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_every_campaign_has_one_deployment_on_its_schedule():
    specs = {s.parameters["campaign_file"]: s for s in deploy.specs(ROOT) if s not in deploy.EXTRA}
    files = sorted((ROOT / "campaigns").glob("*.yaml"))
    assert files and len(specs) == len(files)
    for path in files:
        campaign, s = load_campaign(path), specs[f"campaigns/{path.name}"]
        assert s.name == campaign.name and (ROOT / s.entrypoint.split(":")[0]).is_file()
        if campaign.kind == "callback":
            assert s.schedules == []
            continue
        assert s.schedules == [{"cron": campaign.schedule.cron, "timezone": campaign.schedule.timezone}]
        # The run, its last call and its wind-down end before the next run is due.
        assert campaign.run_minutes + campaign.max_call_duration / 60 + 1 <= campaign.schedule.period_minutes(), path.name


BASE = """
name: t
kind: order_confirmation
destination: {type: robot}
"""


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(BASE + text)
    return p


def test_a_run_longer_than_the_schedule_period_is_refused(tmp_path):
    # The shipped order confirmation before: every 20 min, runs of 55 (and 10-minute calls).
    with pytest.raises(ConfigError) as e:
        load_campaign(write(tmp_path, 'schedule: {cron: "*/20 9-20 * * 1-6", timezone: Europe/Moscow, run_minutes: 55}\n'
                                      "max_call_duration: 10m\n"))
    assert "schedule.run_minutes: 55 min" in str(e.value) and "due 20 min later" in str(e.value) and "at most 9" in str(e.value)
    # Without run_minutes the run is as long as the period leaves.
    c = load_campaign(write(tmp_path, 'schedule: {cron: "*/20 9-20 * * 1-6", timezone: Europe/Moscow}\nmax_call_duration: 10m\n'))
    assert c.run_minutes == 9
    assert load_campaign(write(tmp_path, 'schedule: {cron: "0 9 * * *"}\n')).run_minutes == 55
    with pytest.raises(ConfigError, match="cannot fit a call of max_call_duration 15 min"):
        load_campaign(write(tmp_path, 'schedule: {cron: "*/10 * * * *"}\nmax_call_duration: 15m\n'))


@pytest.mark.parametrize("cron", ["H 9 * * *", "0 25 * * *", "0 9 * *", "every day"])
def test_cron_is_checked_by_prefects_own_parser(tmp_path, cron):
    with pytest.raises(ConfigError, match=r"schedule.cron: .* is not a valid cron expression"):
        load_campaign(write(tmp_path, f'schedule: {{cron: "{cron}"}}\n'))


def test_git_clone_pull_step():
    assert deploy.pull_steps("https://example.org/x.git", "main") == [
        {"prefect.deployments.steps.git_clone": {"repository": "https://example.org/x.git", "branch": "main"}}]


@pytest.mark.slow
def test_autodialer_deploy_on_a_real_server_and_a_worker_elsewhere(tmp_path, lab_pbx, sqlite_url):
    """Deployments read back from the server; deploying again changes nothing; a worker whose
    own directory is not the project runs a deployment through the pull step ($AUTODIALER_HOME)."""
    with running_prefect_server(tmp_path / "prefect-home") as (api_url, env):
        for _ in range(2):  # the second time updates in place
            res = subprocess.run([AUTODIALER, "deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert res.returncode == 0, res.stderr
        assert "campaign/order-confirmation  cron '*/20 9-20 * * 1-6' Europe/Moscow, runs 14 min, one at a time" in res.stdout

        deployments = asyncio.run(read_deployments(api_url))
        campaigns = {load_campaign(p).name: load_campaign(p) for p in (ROOT / "campaigns").glob("*.yaml")}
        assert sorted(d["name"] for d in deployments) == sorted([*campaigns, "new-campaign", "pause-campaign"])
        for d in deployments:
            if d["name"] == "new-campaign":  # the form is the campaign model
                assert d["schedules"] == [] and d["parameters"] == {}
                assert d["parameter_openapi_schema"]["required"] == ["campaign"]
                continue
            if d["name"] == "pause-campaign":
                assert d["schedules"] == [] and "campaign_name" in d["parameter_openapi_schema"]["properties"]
                continue
            c = campaigns[d["name"]]
            assert d["pull_steps"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $AUTODIALER_HOME }}"}}]
            assert d["parameters"]["campaign_file"].startswith("campaigns/") and d["work_pool_name"] == "dialer"
            assert d["parameter_openapi_schema"]["properties"]["campaign_file"]["type"] == "string"
            if c.kind == "callback":
                assert d["schedules"] == []
            else:
                assert d["schedules"] == [(c.schedule.cron, c.schedule.timezone, True)]
                assert d["concurrency_limit"] == 1 and d["collision_strategy"] == "CANCEL_NEW"

        worker_dir = tmp_path / "elsewhere"
        worker_dir.mkdir()
        wenv = {**env, "AUTODIALER_HOME": str(ROOT), "AUTODIALER_AMI_URL": lab_pbx.url,
                "AUTODIALER_DATABASE_URL": sqlite_url, "PREFECT_WORKER_QUERY_SECONDS": "1"}
        wenv.pop("PYTHONPATH", None)
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "dialer", "--limit", "1"], cwd=worker_dir, env=wenv,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            state = asyncio.run(run_deployment(api_url, "campaign/customer-survey", {"max_contacts": 1}))
        finally:
            worker.terminate()
            try:
                out, _ = worker.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                out, _ = worker.communicate()
        assert state["type"] == "COMPLETED", (state, out[-3000:])
        assert "customer-survey" in state["message"]


async def read_deployments(api_url):
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        out = []
        for d in await client.read_deployments():
            out.append({
                "name": d.name, "parameters": d.parameters, "pull_steps": d.pull_steps, "work_pool_name": d.work_pool_name,
                "parameter_openapi_schema": d.parameter_openapi_schema,
                "schedules": [(s.schedule.cron, s.schedule.timezone, s.active) for s in d.schedules],
                "concurrency_limit": d.global_concurrency_limit.limit if d.global_concurrency_limit else None,
                "collision_strategy": d.concurrency_options.collision_strategy.value if d.concurrency_options else None,
            })
        return out


async def run_deployment(api_url, name, parameters, timeout=240):
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        d = await client.read_deployment_by_name(name)
        run = await client.create_flow_run_from_deployment(d.id, parameters=parameters)
        deadline = time.time() + timeout
        while time.time() < deadline:
            run = await client.read_flow_run(run.id)
            if run.state is not None and run.state.is_final():
                break
            await asyncio.sleep(1)
        return {"type": run.state.type.value, "message": run.state.message or ""}

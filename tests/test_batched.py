"""Batched mode (campaign `task_run_batch`, issue 16 item 8): the same calls, limits and in-run
retries as one task run per contact, recorded as one task run per batch with a table artifact
of its contacts' outcomes (read back from Prefect's API)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tests.faultkit import rows
from tests.test_campaign_flow import write_campaign

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]


def test_batched_run_dials_retries_and_records_one_task_run_per_batch(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    campaign = write_campaign(tmp_path)
    with open(campaign, "a") as f:
        f.write("task_run_batch: 3\n")

    state = asyncio.run(campaign_flow(campaign, run_minutes=1.0, return_state=True))
    assert state.is_completed(), state.message

    contacts = {r["phone"]: r for r in rows(pg_url, "select phone, state, attempts, last_status, result from contacts")}
    assert len(contacts) == 7
    assert contacts["+79061234517"]["result"] == "confirmed" and contacts["+79061234521"]["result"] == "cancelled"
    assert (contacts["+79061234562"]["attempts"], contacts["+79061234562"]["state"]) == (2, "done")  # BUSY, retried in the run
    assert (contacts["+79061234573"]["attempts"], contacts["+79061234573"]["state"]) == (1, "pending")  # NO_ANSWER: 1 h later
    attempts = rows(pg_url, "select number, status, started_at, ended_at from attempts order by started_at")
    assert len(attempts) == 8 == lab_pbx.originates
    busy = [a for a in attempts if a["number"] == "+79061234562"]
    assert busy[1]["started_at"] - busy[0]["ended_at"] >= timedelta(seconds=2)

    async def read():
        async with get_client() as client:
            task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
            artifacts = await client.read_artifacts()
            return task_runs, [a for a in artifacts if a.task_run_id in {t.id for t in task_runs if t.name.startswith("batch")}]

    task_runs, artifacts = asyncio.run(read())
    batches = sorted(t.name for t in task_runs if t.name.startswith("batch"))
    assert batches == ["batch 1/3 (3 contacts)", "batch 2/3 (3 contacts)", "batch 3/3 (1 contacts)"]
    assert not [t for t in task_runs if t.task_key.startswith("dial-") and not t.name.startswith("batch")]  # no per-call task runs
    phones = sorted(r["phone"] for a in artifacts for r in (a.data if isinstance(a.data, list) else __import__("json").loads(a.data)))
    assert phones == sorted(contacts)

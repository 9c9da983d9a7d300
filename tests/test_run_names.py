"""Run names and mask_pii, read back from Prefect's real ephemeral API (issue 16 item 2).

A flow run created in the API with a scheduled time (as the scheduler creates it) and then
executed the way a worker's subprocess executes it is named after the campaign and that time in
the campaign's schedule time zone. Under mask_pii no callee number or name reaches Prefect:
task run names, state messages, artifacts, the forwarded logs.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from tests.faultkit import rows
from tests.test_run_logs import write_campaign

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]

NAMES = ["Anna Petrova", "Boris Sidorov", "Clara Ivanova"]


@pytest.fixture(autouse=True)
def _restore_dialer_log_level():
    """AUTODIALER_LOG_LEVEL=INFO lowers the `autodialer` logger's level for the process: not for
    the tests after these."""
    import logging

    logger = logging.getLogger("autodialer")
    level = logger.level
    yield
    logger.setLevel(level)


def make_campaign(tmp_path, name: str, extra: str = "") -> tuple[str, list[str]]:
    numbers = [f"+7906600{i:03d}1" for i in range(len(NAMES))]
    path = write_campaign(tmp_path, name, numbers, extra)
    from pathlib import Path

    folder = Path(path).parent
    (folder / "list.csv").write_text("phone,name\n" + "".join(f"{n},{p}\n" for n, p in zip(numbers, NAMES)))
    return path, numbers


def run_scheduled(campaign_file: str, scheduled: datetime, **params):
    """Create the flow run in the API, scheduled at `scheduled`, and execute it (a worker's way)."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.settings import PREFECT_LOGGING_TO_API_ENABLED, temporary_settings
    from prefect.states import Scheduled

    from flows.campaign import campaign_flow

    parameters = dict(campaign_file=campaign_file, run_minutes=1.0, **params)

    async def create():
        async with get_client() as client:
            return await client.create_flow_run(campaign_flow, parameters=parameters,
                                                state=Scheduled(scheduled_time=scheduled))

    flow_run = asyncio.run(create())
    with temporary_settings({PREFECT_LOGGING_TO_API_ENABLED: True}):
        state = asyncio.run(run_flow(campaign_flow, flow_run=flow_run, parameters=parameters, return_type="state"))
    assert state.is_completed(), state.message
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=60)  # the run's last log batch is sent before anything is read back
    return flow_run.id


def read_back(flow_run_id) -> dict:
    """Everything Prefect holds about the run: its name, its task runs' names and state
    messages, its artifacts' data, its logs (waiting for the last log batch to land)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter,
                                                FlowRunFilterId, LogFilter, LogFilterFlowRunId)

    async def read():
        async with get_client() as client:
            run = await client.read_flow_run(flow_run_id)
            tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
            return run, tasks, artifacts, logs

    before = -1
    for _ in range(20):
        run, tasks, artifacts, logs = asyncio.run(read())
        if len(logs) == before:
            break
        before = len(logs)
        time.sleep(0.5)
    return {
        "run_name": run.name,
        "run_message": run.state.message or "",
        "task_names": [t.name for t in tasks],
        "task_messages": [t.state.message or "" for t in tasks if t.state],
        "artifacts": [str(a.data) for a in artifacts],
        "logs": [log.message for log in logs],
    }


def everything(seen: dict) -> str:
    return "\n".join([seen["run_name"], seen["run_message"], *seen["task_names"], *seen["task_messages"],
                      *seen["artifacts"], *seen["logs"]])


def test_scheduled_run_is_named_after_campaign_and_local_time(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    monkeypatch.setenv("AUTODIALER_LOG_LEVEL", "INFO")
    campaign, numbers = make_campaign(tmp_path, "names-plain")
    scheduled = datetime(2026, 12, 1, 6, 20, tzinfo=timezone.utc)  # 09:20 in Moscow
    seen = read_back(run_scheduled(campaign, scheduled))

    assert seen["run_name"] == "names-plain 2026-12-01 09:20 MSK"
    dial_tasks = sorted(n for n in seen["task_names"] if n.startswith("+7"))
    assert dial_tasks == sorted(f"{n} {p}" for n, p in zip(numbers, NAMES))  # the contact label, in full
    assert any(numbers[0] in line for line in seen["logs"])  # INFO per attempt, unmasked without mask_pii
    assert any(numbers[0] in a for a in seen["artifacts"])


@pytest.mark.parametrize("where", ["campaign", "parameter"])
def test_mask_pii_keeps_numbers_and_names_out_of_prefect(where, tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    monkeypatch.setenv("AUTODIALER_LOG_LEVEL", "INFO")
    name = f"names-masked-{where}"
    campaign, numbers = make_campaign(tmp_path, name, "mask_pii: true\n" if where == "campaign" else "")
    params = {"mask_pii": True} if where == "parameter" else {}
    seen = read_back(run_scheduled(campaign, datetime.now(timezone.utc), **params))

    # The outcome database has them all, in full: the calls were made and recorded.
    assert sorted(r["phone"] for r in rows(pg_url, "select phone from contacts")) == sorted(numbers)
    assert rows(pg_url, "select count(*) as n from attempts")[0]["n"] == 3
    text = everything(seen)
    for number, person in zip(numbers, NAMES):
        assert number not in text and number[1:] not in text and number[-9:] not in text
        for word in person.split():
            assert word not in text
    dial_tasks = sorted(n for n in seen["task_names"] if n.startswith("+7"))
    assert dial_tasks == sorted(f"+79*******{n[-2:]} {p[0]}. {p.split()[1][0]}." for n, p in zip(numbers, NAMES))
    masked = [line for line in seen["logs"] if "+79*******" in line]
    assert len(masked) >= 3  # the per-attempt lines were forwarded, masked
    assert any("+79*******" in a for a in seen["artifacts"])
    local = datetime.now(ZoneInfo("Europe/Moscow"))
    assert seen["run_name"].startswith(f"{name} {local:%Y-%m-%d}") and seen["run_name"].endswith("MSK")


def test_mask_text_leaves_times_alone():
    from autodialer.campaigns.privacy import mask_phone, mask_text

    assert mask_phone("+79061234517") == "+79*******17"
    text = "+79061234517 BUSY (cause 17 User busy); next attempt 2026-12-01 20:14:57 UTC, attempt 3a1b"
    assert mask_text(text) == "+79*******17 BUSY (cause 17 User busy); next attempt 2026-12-01 20:14:57 UTC, attempt 3a1b"
    assert mask_text("call 89061234521 and 79061234537 now", names=("Anna",)) == "call 89*******21 and 79*******37 now"
    assert mask_text("Anna Petrova answered", names=("Anna Petrova",)) == "A. P. answered"

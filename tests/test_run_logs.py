"""The dialer's own log records in the flow run's logs (issue 16 item 1).

The flow runs in a subprocess, as a worker runs it (its console is the subprocess's stderr),
against Prefect's real ephemeral API of this test session; the records are read back from that
API. The warning is a real one: the AMI connection is cut under the dialer by the tap in front
of the lab PBX.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests.amitap import AmiTap
from tests.faultkit import rows

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]

RUNNER = """\
import asyncio, sys
from flows.campaign import campaign_flow
state = asyncio.run(campaign_flow(sys.argv[1], run_minutes=1.0, return_state=True, **eval(sys.argv[2])))
print("FLOW_RUN_ID", state.state_details.flow_run_id, flush=True)
"""


def write_campaign(tmp_path, name: str, numbers: list[str], extra: str = "") -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "list.csv").write_text("phone,name\n" + "".join(f"{n},Person {i}\n" for i, n in enumerate(numbers)))
    (folder / "campaign.yaml").write_text(textwrap.dedent(
        f"""\
        name: {name}
        kind: bot
        lists: [list.csv]
        list:
          phone_columns: [phone]
          variables: {{CUSTOMER: name}}
        schedule: {{cron: "0 * * * *", timezone: Europe/Moscow}}
        windows: {{windows: [{{days: daily, start: "00:00", end: "23:59:59"}}]}}
        destination: {{type: context, context: from-dialer}}
        max_concurrent_calls: 1
        max_originates_per_second: 50
        """) + extra)
    return str(folder / "campaign.yaml")


def api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def start_flow(campaign: str, ami_url: str, db_url: str, *, params: dict | None = None, **env) -> subprocess.Popen:
    environ = dict(os.environ, PREFECT_API_URL=api_url(), PREFECT_LOGGING_TO_API_ENABLED="true",
                   PREFECT_LOGGING_LEVEL="WARNING", AUTODIALER_AMI_URL=ami_url, AUTODIALER_DATABASE_URL=db_url,
                   PYTHONPATH=str(ROOT))
    environ.pop("AUTODIALER_LOG_LEVEL", None)
    environ.update(env)
    return subprocess.Popen([sys.executable, "-c", RUNNER, campaign, repr(params or {})], cwd=ROOT, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    flow_run_id = next(line.split()[1] for line in out.splitlines() if line.startswith("FLOW_RUN_ID"))
    return flow_run_id, err


def read_logs(flow_run_id: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async def read():
        async with get_client() as client:
            return await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)

    return asyncio.run(read())


def dialer_records(flow_run_id: str) -> list:
    return [log for log in read_logs(flow_run_id) if log.name.startswith("autodialer")]


# A flow run in a subprocess (its own Prefect start-up) on a machine loaded by other suites.
@pytest.mark.timeout(900)
def test_dialer_warnings_reach_the_run_logs_once(tmp_path, lab_pbx, pg_url, prefect_api):
    """Default level: the AMI warning is in the run's logs, the per-attempt INFO lines are not;
    the worker's console shows the warning once."""
    numbers = [f"+7906400{i:03d}1" for i in range(6)]
    campaign = write_campaign(tmp_path, "logs-warning", numbers)
    with AmiTap(lab_pbx.host, lab_pbx.port) as tap:
        proc = start_flow(campaign, tap.url_for(lab_pbx.url), pg_url)
        deadline = time.monotonic() + 120
        while not tap.originates() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tap.originates(), "the dialer never dialed"
        # Cut the dialer's AMI connection under it (the PBX stays up): it reconnects and goes on.
        tap.loop.call_soon_threadsafe(lambda: [w.transport.abort() for w in list(tap._writers)])
        flow_run_id, console = finish(proc)
    assert tap.connections >= 2  # it did reconnect

    records = dialer_records(flow_run_id)
    lost = [r for r in records if r.name.startswith("autodialer.ami") and "AMI connection to" in r.message and "lost" in r.message]
    assert len(lost) == 1 and lost[0].level == 30, [(r.name, r.level, r.message) for r in records]
    assert all(r.level >= 30 for r in records), [(r.name, r.level, r.message) for r in records]
    assert rows(pg_url, "select count(*) as n from attempts")[0]["n"] >= 2  # there were INFO lines to leave out
    assert console.count(lost[0].message) == 1, console[-3000:]


# A flow run in a subprocess (its own Prefect start-up) on a machine loaded by other suites.
@pytest.mark.timeout(900)
def test_info_flag_sends_a_line_per_attempt(tmp_path, lab_pbx, pg_url, prefect_api):
    """AUTODIALER_LOG_LEVEL=INFO: one record per attempt, as many as the attempts table has,
    each printed once on the console."""
    numbers = [f"+7906500{i:03d}1" for i in range(4)]
    campaign = write_campaign(tmp_path, "logs-info", numbers)
    flow_run_id, console = finish(start_flow(campaign, lab_pbx.url, pg_url, AUTODIALER_LOG_LEVEL="INFO"))

    attempts = rows(pg_url, "select number, status from attempts")
    lines = [r for r in dialer_records(flow_run_id) if r.name == "autodialer.dialing" and r.level == 20]
    assert len(lines) == len(attempts) == 4
    for a in attempts:
        line = next(r.message for r in lines if a["number"] in r.message)
        assert a["status"] in line
        assert console.count(line) == 1, console[-3000:]

"""`autodialer config --check`, one-line errors, and `autodialer run`'s console (issue 16 item 7).

Against the real parts: the lab PBX over TCP, a real PostgreSQL, Prefect's real API (the
session's ephemeral server, which a command reaches by its URL like any server). The failures
are real too: a port nobody listens on, a database at an older migration, a work pool and a
trunk limit that do not exist.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def campaigns_dir(tmp_path, trunk: str) -> Path:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "a.yaml").write_text(textwrap.dedent(
        f"""\
        name: check-a
        kind: bot
        schedule: {{cron: "0 * * * *", timezone: UTC}}
        destination: {{type: context, context: from-dialer}}
        trunk: {trunk}
        max_concurrent_calls: 4
        """))
    return folder


def check(*args) -> tuple[int, dict[str, str]]:
    """Run `autodialer config --check` in this process; {what: line} from its output."""
    import contextlib
    import io

    from autodialer.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["config", "--check", *args])
    lines = {}
    for line in out.getvalue().splitlines():
        m = re.match(r"^(ok|FAIL|note)\s+([^:]+): (.*)$", line)
        if m:
            lines[m.group(2)] = f"{m.group(1)} {m.group(3)}"
    return rc, lines


def make_pool_and_limit(pool: str | None, limit: str | None):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate

    async def make():
        async with get_client() as client:
            if pool:
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"), overwrite=True)
            if limit:
                await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=limit, limit=7))

    asyncio.run(make())


def test_everything_up_is_ok(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    from autodialer.store import Store

    Store(pg_url).migrate()
    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    make_pool_and_limit("check-pool", "trunk-check-up")
    rc, lines = check("--campaigns", str(campaigns_dir(tmp_path, "check-up")), "--work-pool", "check-pool")

    from prefect.settings import PREFECT_API_URL

    assert lines["AMI"].startswith("ok ") and "Ping answered" in lines["AMI"]
    assert lines["outcome database"].startswith("ok ") and "current migration" in lines["outcome database"]
    assert lines["Prefect API"] == f"ok server at {PREFECT_API_URL.value()} (PREFECT_API_URL)"
    # No worker serves the pool: a note saying how to start one, not a failure.
    assert lines["work pool"].startswith("note check-pool (process), 0 worker(s) online")
    assert "prefect worker start --pool check-pool" in lines["work pool"]
    assert lines["trunk check-up"].startswith("ok limit trunk-check-up: 7 channel(s)")
    assert rc == 0


def test_each_part_down_says_what_to_do(tmp_path, pg_url, prefect_api, monkeypatch):
    from autodialer.store import Store

    Store(pg_url).migrate_to("0002")  # an older migration than the code's
    monkeypatch.setenv("AUTODIALER_AMI_URL", f"ami://dialer:s3cret@127.0.0.1:{free_port()}")
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    rc, lines = check("--campaigns", str(campaigns_dir(tmp_path, "check-down")), "--work-pool", "no-such-pool")
    assert rc == 1
    assert lines["AMI"].startswith("FAIL ") and "fix AUTODIALER_AMI_URL" in lines["AMI"] and "s3cret" not in lines["AMI"]
    assert lines["outcome database"].startswith("note ") and "migration 0002" in lines["outcome database"]
    assert lines["work pool"] == "FAIL no-such-pool does not exist: prefect work-pool create no-such-pool --type process"
    assert lines["trunk check-down"].startswith("note no limit trunk-check-down")
    assert "prefect gcl create trunk-check-down --limit N" in lines["trunk check-down"]

    monkeypatch.setenv("AUTODIALER_DATABASE_URL", f"postgresql+psycopg2://autodialer:pw123@127.0.0.1:{free_port()}/x")
    rc, lines = check("--campaigns", str(tmp_path / "campaigns"))
    assert lines["outcome database"].startswith("FAIL unreachable (AUTODIALER_DATABASE_URL=postgresql+psycopg2://autodialer:***@")
    assert "pw123" not in lines["outcome database"]


def cli_subprocess(*args, env: dict, cwd) -> subprocess.CompletedProcess:
    # A loaded CI machine can take more than Prefect's default 20 s to start an ephemeral API.
    environ = dict(os.environ, PYTHONPATH=str(ROOT), PREFECT_LOGGING_LEVEL="WARNING",
                   PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
    environ.pop("PREFECT_API_URL", None)
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "autodialer", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("command", [["status"], ["export", "check-a", "out.csv"], ["import", "campaign.yaml", "list.csv"],
                                     ["run", "campaign.yaml"]])
def test_a_down_database_is_one_line_naming_the_setting(command, tmp_path):
    (tmp_path / "list.csv").write_text("phone\n+79061234561\n")
    (tmp_path / "campaign.yaml").write_text((campaigns_dir(tmp_path, "x") / "a.yaml").read_text())
    url = f"postgresql+psycopg2://autodialer:pw123@127.0.0.1:{free_port()}/x"
    done = cli_subprocess(*command, env={"AUTODIALER_DATABASE_URL": url}, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, done.stderr
    assert "AUTODIALER_DATABASE_URL=postgresql+psycopg2://autodialer:***@127.0.0.1" in lines[0]
    assert "pw123" not in done.stderr and "Traceback" not in done.stderr


def test_a_down_prefect_server_is_one_line(tmp_path):
    done = cli_subprocess("pause", env={"PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "Prefect API unreachable (PREFECT_API_URL=http://127.0.0.1:" in done.stderr


# A flow run in a subprocess (its own Prefect start-up) on a machine loaded by other suites.
@pytest.mark.timeout(900)
def test_run_prints_progress_and_warns_about_an_ephemeral_api(tmp_path, pg_url):
    from autodialer.lab import running_lab

    n = 8
    (tmp_path / "list.csv").write_text("phone,press\n" + "".join(f"+7906800{i:03d}1,5\n" for i in range(n)))
    (tmp_path / "campaign.yaml").write_text(textwrap.dedent(
        """\
        name: progress-test
        kind: bot
        lists: [list.csv]
        list: {phone_columns: [phone], variables: {SIM_PRESS: press}}
        schedule: {cron: "0 * * * *", timezone: UTC}
        windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
        destination: {type: context, context: from-dialer, exten: queue}
        max_concurrent_calls: 2
        """))
    # Each call lasts ~4 s (the callee stays 21 s, the queue agent longer, x0.2): the run takes ~18 s.
    with running_lab(time_scale=0.2, agent_talk=60.0) as lab:
        done = cli_subprocess("run", "campaign.yaml", env={"AUTODIALER_DATABASE_URL": pg_url, "AUTODIALER_AMI_URL": lab.url},
                              cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warning: PREFECT_API_URL is not set" in done.stderr and "cannot see it" in done.stderr
    progress = [line for line in done.stdout.splitlines() if "progress-test: dialed" in line]
    pattern = re.compile(r"dialed (\d+)/8, answered (\d+), busy (\d+), in flight (\d+), [\d.]+/s, ETA (\S+)$")
    parsed = [pattern.search(line) for line in progress]
    assert len(parsed) >= 3 and all(parsed), done.stdout  # every 5 s, and a last one
    assert any(0 < int(m.group(1)) < n for m in parsed[:-1])  # lines while it dialed
    assert any(int(m.group(4)) > 0 for m in parsed[:-1])  # calls up at the time
    last = parsed[-1]
    assert (last.group(1), last.group(2), last.group(4)) == ("8", "8", "0") and last.group(5) == "0s"

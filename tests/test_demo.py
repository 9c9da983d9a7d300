"""`make demo`'s command end to end: the lab PBX, SQLite, Prefect's ephemeral API, the sample list;
then `autodialer status` and `autodialer export` on what it recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.prefect


def autodialer(*args, cwd, env):
    return subprocess.run([sys.executable, "-m", "autodialer", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_demo_runs_the_sample_campaign_and_status_shows_it(tmp_path):
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PYTHONPATH": str(ROOT)}
    env.pop("AUTODIALER_DATABASE_URL", None)
    env.pop("AUTODIALER_AMI_URL", None)
    demo = autodialer("demo", "--campaign", str(ROOT / "campaigns" / "order_confirmation.yaml"), cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = demo.stdout
    # The sample list: 11 rows, 1 duplicate, 1 bad number, 1 on the do-not-call list -> 8 contacts.
    assert "order-confirmation" in out and "successful" in out
    assert "loaded order_confirmation_sample.csv: read 11, accepted 8, duplicate 1, excluded 1, rejected 1" in out
    assert "results: cancelled 1, confirmed 1, no_input 1, operator 1" in out
    assert "BUSY 1" in out and "NO_ANSWER 1" in out and "CONGESTION 1" in out and "INVALID_NUMBER 1" in out
    assert "dialer-secret" not in out + demo.stderr

    db = tmp_path / "demo-out" / "autodialer.db"
    env["AUTODIALER_DATABASE_URL"] = f"sqlite:///{db}"
    status = autodialer("status", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    line = next(l for l in status.stdout.splitlines() if l.startswith("order-confirmation"))
    assert line.split()[:3] == ["order-confirmation", "order_confirmation", "support"]
    assert "4/8" in line and "5/8" in line  # successful 4/8 (answered), done 5/8 (3 wait for a retry)

    export = autodialer("export", "order-confirmation", str(tmp_path / "out.csv"), cwd=tmp_path, env=env)
    assert export.returncode == 0, export.stderr
    assert "confirmed" in (tmp_path / "out.csv").read_text(encoding="utf-8-sig")

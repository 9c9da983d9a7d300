"""The Prefect UI as an operator sees it, in a real browser: starts `prefect server` (UI on),
deploys the campaigns (`autodialer deploy`), runs the demo against it, and takes headless
Chromium screenshots of the flow run (its logs), the campaigns table artifact, the deployments
page and a deployment's run form. Look at them; they are not committed.

    .venv/bin/python -m bench.ui_screenshots [--out /tmp/autodialer-ui]

Needs Debian's `chromium` (apt-get install chromium). Prints the path of each screenshot.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    raise SystemExit("no chromium: apt-get install chromium")


def shoot(url: str, path: Path, size="1400,1000", budget_ms=25000) -> Path:
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={size}", f"--virtual-time-budget={budget_ms}", f"--screenshot={path}", url],
                   check=True, capture_output=True, timeout=180)
    return path


async def ids(api_url: str) -> dict:
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        runs = await client.read_flow_runs()
        run = next(r for r in runs if r.name.startswith("order-confirmation"))
        deployment = await client.read_deployment_by_name("campaign/order-confirmation")
        new_campaign = await client.read_deployment_by_name("new-campaign/new-campaign")
        artifacts = [a for a in await client.read_artifacts() if a.key == "campaigns"]
        return {"run": run.id, "deployment": deployment.id, "new_campaign": new_campaign.id, "artifact": artifacts[-1].id if artifacts else None}


def main() -> int:
    from tests.prefectkit import running_prefect_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/autodialer-ui")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="autodialer-ui-"))
    with running_prefect_server(home / "prefect", ui=True) as (api_url, env):
        ui = api_url.removesuffix("/api")
        print(f"prefect server with UI at {ui}")
        env = {**env, "PREFECT_UI_URL": ui}
        subprocess.run([str(BIN / "autodialer"), "deploy"], cwd=ROOT, env=env, check=True, timeout=300)
        # A worker serving the pool (deployments show Ready); the demo logs at INFO, as a worker does.
        worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "dialer"], cwd=home,
                                  env={**env, "AUTODIALER_HOME": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = {**env, "PREFECT_LOGGING_LEVEL": "INFO"}
        t = time.monotonic()
        demo = subprocess.run([str(BIN / "autodialer"), "demo", "--campaign", str(ROOT / "campaigns" / "order_confirmation.yaml")], cwd=home, env={**env, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=600)
        print(f"demo: rc {demo.returncode} in {time.monotonic() - t:.0f} s")
        if demo.returncode:
            print(demo.stdout[-2000:], demo.stderr[-3000:])
        time.sleep(5)  # the server records the run's last logs and task runs
        found = asyncio.run(ids(api_url))
        pages = {
            "flow-run-logs": f"{ui}/runs/flow-run/{found['run']}",
            "deployments": f"{ui}/deployments",
            "run-form": f"{ui}/deployments/deployment/{found['deployment']}/run",
            "flow-runs": f"{ui}/runs",
            "new-campaign-form": f"{ui}/deployments/deployment/{found['new_campaign']}/run",
        }
        if found["artifact"]:
            pages["campaigns-table"] = f"{ui}/artifacts/artifact/{found['artifact']}"
        tall = {"run-form": "1400,2600", "new-campaign-form": "1400,3000"}
        try:
            for name, url in pages.items():
                path = shoot(url, out / f"{name}.png", size=tall.get(name, "1400,1000"))
                print(f"{name}: {path}  ({url})")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    sys.exit(main())

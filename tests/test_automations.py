"""Events and automations (issue 16 item 5) against a real `prefect server`: the shipped
automations (automations/*.yaml) created by `autodialer automations`; a real click-to-call run
emits autodialer.click-to-call.finished and the CRM webhook receives its result; a PBX that
drops raises autodialer.pbx.unreachable and the notification block is called; an abandonment
cap reached starts the pause-campaign deployment for that campaign."""

from __future__ import annotations

import asyncio
import http.server
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from flows import events

ROOT = Path(__file__).resolve().parents[1]
AUTODIALER = str(Path(sys.executable).with_name("autodialer"))


def test_abandonment_watch_raises_nearing_then_cap_once_each(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "emit", lambda event, campaign, payload=None, **kw: sent.append((event, payload["rate"])))
    rate, answered = [0.0], [5]
    watch = events.AbandonmentWatch("c", 0.03, lambda: rate[0], lambda: answered[0])
    rate[0] = 0.05
    watch.check()
    assert sent == []  # 5 live answers say nothing yet
    answered[0] = 40
    rate[0] = 0.025
    watch.check(), watch.check()
    assert sent == [("autodialer.abandonment.nearing", 0.025)]
    rate[0] = 0.031
    watch.check(), watch.check()
    assert sent == [("autodialer.abandonment.nearing", 0.025), ("autodialer.abandonment.cap-reached", 0.031)]


class Hooks(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Hooks.received.append((self.path, body.decode("utf-8", "replace")))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


CALLBACK = """\
name: click-to-call
kind: callback
schedule: {cron: "0 9 * * *", timezone: Europe/Moscow}
windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
direction: operator_first
destination: {type: context, context: from-dialer}
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_events_arrive_and_the_shipped_automations_fire(tmp_path, lab_pbx, sqlite_url):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.blocks.webhook import Webhook
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.prefectkit import running_prefect_server

    hooks = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{hooks.server_address[1]}"
    Hooks.received = []
    try:
        with running_prefect_server(tmp_path / "prefect-home") as (api_url, env):
            res = subprocess.run([AUTODIALER, "deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert res.returncode == 0, res.stderr
            with temporary_settings({PREFECT_API_URL: api_url}):
                Webhook(url=f"{base}/crm", method="POST", headers={"Content-Type": "application/json"}).save("crm-webhook")
                CustomWebhookNotificationBlock(name="alerts", url=f"{base}/notify",
                                               json_data={"subject": "{{subject}}", "body": "{{body}}"}).save("dialer-alerts")
            res = subprocess.run([AUTODIALER, "automations"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert res.returncode == 0, res.stdout + res.stderr
            assert res.stdout.count("ok    ") == 3, res.stdout
            time.sleep(3)  # the triggers service loads new automations

            # A real click-to-call run, against the lab PBX, reporting to this server.
            (tmp_path / "callback.yaml").write_text(CALLBACK)
            run = textwrap.dedent(f"""
                import asyncio
                from flows.callback import callback_flow
                print(asyncio.run(callback_flow("79061234561", "101", campaign_file={str(tmp_path / 'callback.yaml')!r})))
                """)
            cenv = {**env, "AUTODIALER_AMI_URL": lab_pbx.url, "AUTODIALER_DATABASE_URL": sqlite_url, "PYTHONPATH": str(ROOT)}
            res = subprocess.run([sys.executable, "-c", run], cwd=ROOT, env=cenv, capture_output=True, text=True, timeout=300)
            assert res.returncode == 0, res.stderr[-3000:]
            crm = wait_for(lambda: [b for p, b in Hooks.received if p == "/crm"], 90, "the CRM webhook")
            payload = json.loads(crm[0])
            assert payload["result"] == "connected" and payload["operator"] == "101" and payload["number"] == "+79061234561"

            # A PBX that drops, and an abandonment cap reached (as the runs raise them).
            emitter = textwrap.dedent("""
                from types import SimpleNamespace
                from prefect.events.worker import EventsWorker
                from flows import events
                settings = SimpleNamespace(host="10.9.8.7", port=5038)
                events.emit("autodialer.pbx.unreachable", "order-confirmation", {"why": "connection lost"},
                            resource=events.pbx_resource(settings))
                watch = events.AbandonmentWatch("order-confirmation", 0.03, lambda: 0.04, lambda: 50)
                watch.check()
                EventsWorker.drain_all()
                """)
            res = subprocess.run([sys.executable, "-c", emitter], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                                 capture_output=True, text=True, timeout=120)
            assert res.returncode == 0, res.stderr[-3000:]
            notify = wait_for(lambda: [b for p, b in Hooks.received if p == "/notify"], 90, "the notification")
            note = json.loads(notify[0])
            assert note["subject"] == "PBX 10.9.8.7:5038 unreachable" and "order-confirmation" in note["body"], note

            async def pause_runs():
                async with get_client() as client:
                    d = await client.read_deployment_by_name("pause/pause-campaign")
                    return [r.parameters for r in await client.read_flow_runs() if r.deployment_id == d.id]

            with temporary_settings({PREFECT_API_URL: api_url}):
                runs = wait_for(lambda: asyncio.run(pause_runs()), 90, "the pause-campaign run")
                assert runs[0]["campaign_name"] == "order-confirmation"
                assert "abandonment cap reached: 0.04" in runs[0]["reason"], runs

                async def read_events():
                    async with get_client() as client:
                        r = await client._client.post("/events/filter", json={"filter": {"event": {"prefix": ["autodialer."]}}})
                        return sorted({e["event"] for e in r.json()["events"]})

                # The triggers act on the event stream; the server stores events in batches a few
                # seconds later (its event persister), so the stored ones are waited for.
                wanted = {"autodialer.click-to-call.finished", "autodialer.pbx.unreachable", "autodialer.abandonment.cap-reached"}
                wait_for(lambda: wanted <= set(asyncio.run(read_events())), 60, f"the stored events {sorted(wanted)}")
    finally:
        hooks.shutdown()

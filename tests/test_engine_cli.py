"""`autodialer call` as a user runs it: a subprocess against an AMI peer over TCP."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.test_engine_transcripts import FIXTURES, ReplayServer, load_transcript

ROOT = Path(__file__).resolve().parents[1]


class ThreadedReplay:
    """A ReplayServer on its own event loop in a thread, for subprocess clients."""

    def __init__(self, transcript_name: str):
        self.transcript = load_transcript(FIXTURES / transcript_name)
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = ReplayServer(transcript=self.transcript)
        self.loop.run_until_complete(self.server.__aenter__())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.__aexit__(None, None, None))

    def __enter__(self):
        self.thread.start()
        self.ready.wait(5)
        return self.server

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTODIALER_AMI_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autodialer", "call", *args], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)


@pytest.mark.parametrize(
    "transcript, number, status, cause",
    [("ami_full_79061234562.txt", "79061234562", "BUSY", 17), ("ami_full_79061234561.txt", "79061234561", "ANSWERED", 16)],
)
def test_call_json_prints_the_classified_result(transcript, number, status, cause):
    with ThreadedReplay(transcript) as server:
        proc = run_cli(number, "--json", "--timeout", "5", url=f"ami://dialer:dialer-secret@127.0.0.1:{server.port}")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert len(server.originates) == 1
        assert server.originates[0]["Channel"] == f"Local/{number}@dialer-outbound"
    for key in ("status", "reason", "cause", "cause_txt", "dial_status", "attempt_id", "channel_id", "answered_at", "ended_at", "talk_seconds", "events"):
        assert key in out
    assert out["status"] == status and out["cause"] == cause
    assert out["attempt_id"] == out["channel_id"]


def test_call_text_output():
    with ThreadedReplay("ami_full_79061234562.txt") as server:
        proc = run_cli("79061234562", "--attempt-id", "cli-1", url=f"ami://dialer:dialer-secret@127.0.0.1:{server.port}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("BUSY")
    assert "cause=17 (User busy)" in proc.stdout and "attempt_id=cli-1" in proc.stdout


def test_call_unreachable_pbx_exits_1_naming_host_port_without_secret():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("79061234561", url=f"ami://dialer:top-secret-42@127.0.0.1:{port}")
    assert proc.returncode == 1
    assert f"127.0.0.1:{port}" in proc.stderr and "AUTODIALER_AMI_URL" in proc.stderr
    assert "top-secret-42" not in proc.stderr + proc.stdout


def test_call_bad_number_exits_2_and_sends_nothing():
    with ThreadedReplay("ami_full_79061234562.txt") as server:
        proc = run_cli("7906\x0d1234", url=f"ami://dialer:dialer-secret@127.0.0.1:{server.port}")
        assert proc.returncode == 2
        assert "number" in proc.stderr
        assert server.originates == []


def test_call_wrong_secret_exits_1_without_the_secret():
    with ThreadedReplay("ami_full_79061234562.txt") as server:
        proc = run_cli("79061234562", url=f"ami://dialer:not-the-secret@127.0.0.1:{server.port}")
    assert proc.returncode == 1
    assert "Authentication failed" in proc.stderr
    assert "not-the-secret" not in proc.stderr + proc.stdout

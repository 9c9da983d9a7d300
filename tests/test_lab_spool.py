"""Call files through the lab's spool, as Asterisk's pbx_spool handles them (cf-*.call, cf_events.txt)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from autodialer.lab import running_lab
from test_lab_rawami import RawAmi


def drop_call_file(spool: Path, name: str, text: str, mtime: float | None = None) -> None:
    """Write elsewhere, then rename into outgoing/ (as a dialer must, so a half file is never read)."""
    tmp = spool / f".{name}.tmp"
    tmp.write_text(text)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, spool / "outgoing" / name)


def wait_for(path: Path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        time.sleep(0.01)
    raise AssertionError(f"{path} never appeared")


def test_answered_call_file_is_completed(tmp_path, shared_dir):
    with running_lab(time_scale=0.01, spool_dir=tmp_path) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        drop_call_file(tmp_path, "a.call", (shared_dir / "cf-answer.call").read_text().split("\nStartRetry")[0] + "\n")
        text = wait_for(tmp_path / "outgoing_done" / "a.call")
        msgs = c.until(lambda m: m.get("Event") == "Hangup" and m["Channel"].endswith(";2"))
        c.close()
    assert re.search(rf"\nStartRetry: {os.getpid()} 1 \(\d+\)\n", text)
    assert text.endswith("Status: Completed\n") and "Context: from-dialer" in text
    assert not list((tmp_path / "outgoing").iterdir())
    names = [m.get("Event") for m in msgs]
    assert "Newchannel" in names and "OriginateResponse" not in names  # call files get no OriginateResponse


def test_busy_call_file_retries_then_expires(tmp_path, shared_dir):
    busy = (shared_dir / "cf-busy.call").read_text().split("\nStartRetry")[0] + "\n"
    assert "MaxRetries: 1" in busy and "RetryTime: 5" in busy
    with running_lab(time_scale=0.02, spool_dir=tmp_path) as lab:
        c = RawAmi(lab.host, lab.port)
        c.login()
        t0 = time.monotonic()
        drop_call_file(tmp_path, "b.call", busy)
        text = wait_for(tmp_path / "outgoing_done" / "b.call")
        elapsed = time.monotonic() - t0
        seen = []
        try:
            while True:
                seen.append(c.read(0.2))
        except TimeoutError:
            pass
        c.close()
    lines = [ln for ln in text.splitlines() if ln.startswith(("StartRetry", "EndRetry", "Status"))]
    assert [ln.split(":")[0] + " " + ln.split()[2] if not ln.startswith("Status") else ln for ln in lines] == [
        "StartRetry 1", "EndRetry 1", "StartRetry 2", "Status: Expired"]
    assert elapsed >= 5 * 0.02  # RetryTime, scaled
    assert len([m for m in seen if m.get("Event") == "Newchannel" and m["Channel"].endswith(";1")]) == 2
    assert "Set: CAMPAIGN_ID=42" in text


def test_malformed_call_file_fails_and_future_mtime_waits(tmp_path, shared_dir):
    with running_lab(time_scale=0.01, spool_dir=tmp_path) as lab:
        drop_call_file(tmp_path, "bad.call", (shared_dir / "cf-bad.call").read_text().replace("Status: Failed\n", ""))
        text = wait_for(tmp_path / "outgoing_done" / "bad.call")
        assert text.endswith("Status: Failed\n") and "StartRetry" not in text
        later = time.time() + 0.6
        drop_call_file(tmp_path, "later.call", "Channel: Local/79061234561@sim-pstn\nContext: from-dialer\n"
                       "Extension: s\nArchive: yes\n", mtime=later)
        time.sleep(0.3)
        assert (tmp_path / "outgoing" / "later.call").exists()
        assert not (tmp_path / "outgoing_done" / "later.call").exists()
        text = wait_for(tmp_path / "outgoing_done" / "later.call")
        assert time.time() >= later - 0.05 and text.endswith("Status: Completed\n")
        # Without Archive the file is just removed.
        drop_call_file(tmp_path, "gone.call", "Channel: Local/79061234562@sim-pstn\nContext: from-dialer\nExtension: s\n")
        deadline = time.monotonic() + 3
        while (tmp_path / "outgoing" / "gone.call").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not (tmp_path / "outgoing" / "gone.call").exists()
        assert not (tmp_path / "outgoing_done" / "gone.call").exists()

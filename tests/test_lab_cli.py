"""`autodialer lab` in the foreground: prints the URL with the secret redacted, serves, stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

from test_lab_rawami import RawAmi


def test_autodialer_lab_runs_until_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "autodialer", "lab", "--port", "0", "--time-scale", "0.01"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"ami://dialer:\*\*\*@127\.0\.0\.1:(\d+)", line)
        assert m, line
        assert "dialer-secret" not in line
        c = RawAmi("127.0.0.1", int(m.group(1)))
        assert c.login()["Message"] == "Authentication accepted"
        c.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)  # a loaded machine took over 10 s to stop
        assert proc.returncode == 0, err
        assert "dialer-secret" not in out + err
    finally:
        if proc.poll() is None:
            proc.kill()

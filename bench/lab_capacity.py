"""Capacity of the lab PBX: originates per second it sustains and calls it holds at once.

    .venv/bin/python bench/lab_capacity.py [--rate 500] [--seconds 10] [--hold 5]

Runs `autodialer lab` in its own process (random mode, real time), then a raw asyncio AMI client
here sends Originates paced at --rate per second for --seconds. Calls ring 1-3 s and talk ~--hold
seconds (or ring until the 5 s Timeout, or fail at once), so about rate x hold calls are up at the
same time. Prints: originates sent and answered (Response) per second, p50/p99 latency of the
Originate Response, OriginateResponse events per second, the peak of concurrent calls seen by
CoreShowChannels (polled every second), events received per second, and the lab's CPU share.
Then a burst: --burst originates at once, as fast as the socket takes them.
Goal (issue 3): 2,000 calls at once and 500 originates/s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port: int, hold: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "autodialer", "lab", "--port", str(port), "--mode", "random", "--seed", "1",
           "--answer-rate", "0.6", "--busy-rate", "0.15", "--no-answer-rate", "0.15", "--congestion-rate", "0.05",
           "--talk-mean", str(hold)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.readline()  # "lab PBX listening: ..."
    return proc


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client(asyncio.Protocol):
    def __init__(self):
        self.buf = b""
        self.sent: dict[str, float] = {}
        self.latency: list[float] = []
        self.orig_events = 0
        self.events = 0
        self.coreshow: asyncio.Future | None = None
        self.login = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.t = transport

    def data_received(self, data: bytes):
        self.buf += data
        *msgs, self.buf = self.buf.split(b"\r\n\r\n")
        now = time.perf_counter()
        for raw in msgs:
            if raw.startswith(b"Asterisk Call Manager"):
                raw = raw.split(b"\r\n", 1)[1] if b"\r\n" in raw else b""
            if raw.startswith(b"Response:"):
                aid = raw.split(b"ActionID: ", 1)[1].split(b"\r\n", 1)[0].decode() if b"ActionID: " in raw else ""
                if aid == "login":
                    self.login.set_result(True)
                elif aid in self.sent:
                    self.latency.append(now - self.sent.pop(aid))
            elif raw.startswith(b"Event: "):
                self.events += 1
                if raw.startswith(b"Event: OriginateResponse"):
                    self.orig_events += 1
                elif raw.startswith(b"Event: CoreShowChannelsComplete") and self.coreshow and not self.coreshow.done():
                    n = int(raw.split(b"ListItems: ", 1)[1].split(b"\r\n", 1)[0])
                    self.coreshow.set_result(n)

    def originate(self, i: int):
        aid = f"o{i}"
        self.sent[aid] = time.perf_counter()
        self.t.write((f"Action: Originate\r\nActionID: {aid}\r\nChannel: Local/79{i:09d}@dialer-outbound\r\n"
                      f"Application: Echo\r\nAsync: true\r\nTimeout: 5000\r\nCallerID: \"Bench\" <1000>\r\n\r\n").encode())


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


async def run(args, port: int, lab_pid: int) -> None:
    loop = asyncio.get_running_loop()
    _, c = await loop.create_connection(Client, "127.0.0.1", port)
    c.t.write(b"Action: Login\r\nActionID: login\r\nUsername: dialer\r\nSecret: dialer-secret\r\n\r\n")
    await c.login

    async def poll_channels(stop: asyncio.Event, peaks: list[int]):
        while not stop.is_set():
            c.coreshow = loop.create_future()
            c.t.write(b"Action: CoreShowChannels\r\nActionID: cs\r\n\r\n")
            peaks.append(await c.coreshow // 2)  # two Local legs a call
            await asyncio.sleep(1.0)

    total = int(args.rate * args.seconds)
    stop, peaks = asyncio.Event(), []
    poller = loop.create_task(poll_channels(stop, peaks))
    cpu0, ev0, t0 = cpu_seconds(lab_pid), c.events, time.perf_counter()
    for i in range(total):
        due = t0 + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        c.originate(i)
    while c.sent and time.perf_counter() - t0 < args.seconds + 30:
        await asyncio.sleep(0.01)
    t_sent = time.perf_counter() - t0
    await asyncio.sleep(1.5)  # let CoreShowChannels see the plateau once more
    stop.set()
    await poller
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(lab_pid) - cpu0
    print(f"paced: {total} originates at {args.rate}/s target, hold ~{args.hold:g} s (random mode)")
    print(f"  Originate Responses: {len(c.latency)}/{total} in {t_sent:.2f} s = {len(c.latency) / t_sent:.0f} originates/s")
    print(f"  response latency: p50 {pct(c.latency, 0.5) * 1000:.1f} ms, p99 {pct(c.latency, 0.99) * 1000:.1f} ms")
    print(f"  OriginateResponse events: {c.orig_events} ({c.orig_events / wall:.0f}/s), all events: "
          f"{(c.events - ev0) / wall:.0f}/s")
    print(f"  peak concurrent calls (CoreShowChannels): {max(peaks) if peaks else 0}")
    print(f"  lab CPU: {cpu:.1f} s over {wall:.1f} s = {100 * cpu / wall:.0f}% of one core")

    # burst: as fast as possible
    c.latency.clear()
    cpu0, t0 = cpu_seconds(lab_pid), time.perf_counter()
    for i in range(total, total + args.burst):
        c.originate(i)
        if i % 200 == 0:
            await asyncio.sleep(0)
    while c.sent and time.perf_counter() - t0 < 60:
        await asyncio.sleep(0.005)
    el = time.perf_counter() - t0
    print(f"burst: {args.burst} originates back to back: all answered in {el:.2f} s = {args.burst / el:.0f} originates/s, "
          f"lab CPU {cpu_seconds(lab_pid) - cpu0:.1f} s")
    c.t.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--hold", type=float, default=5.0, help="mean talk time of answered calls, seconds")
    ap.add_argument("--burst", type=int, default=2000)
    args = ap.parse_args()
    port = free_port()
    lab = start_lab(port, args.hold)
    try:
        asyncio.run(run(args, port, lab.pid))
    finally:
        lab.send_signal(signal.SIGINT)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()


if __name__ == "__main__":
    main()

"""Originate throughput of the dial engine against the lab PBX, beside a raw-socket client.

    .venv/bin/python bench/originate_throughput.py [--calls 2000] [--concurrency 200] [--time-scale 0.001]

Starts the lab PBX in a subprocess (through `autodialer.lab.LabPBX`), then in this one process runs:
1. a raw asyncio client: one socket, hand-written AMI framing, each call done when its
   OriginateResponse and the Hangups of both Local legs arrived (the least any client must do);
2. the dial engine (AmiSession + DialEngine.originate), the same calls.
Prints for each: originates/s (wall) and client CPU per call; the engine's overhead per call is
the difference in CPU per call. Numbers end in 1 (answered) in plan mode; the lab's time scale
makes each call a few ms long, so the rate measures the client, the lab and the socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

USER, SECRET = "dialer", "dialer-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LAB_CODE = """
import asyncio, json, sys
from autodialer.lab import LabPBX, LabOptions
async def main():
    lab = LabPBX(LabOptions(port=int(sys.argv[1]), **json.loads(sys.argv[2])))
    await lab.start()
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_lab(port: int, time_scale: float, mode: str, **options) -> subprocess.Popen:
    """The lab PBX in its own process (its CPU is not the client's), via its Python API."""
    options = {"time_scale": time_scale, "mode": mode, "seed": 1, **options}  # any LabOptions field
    cmd = [sys.executable, "-c", LAB_CODE, str(port), json.dumps(options)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"lab exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("lab did not start listening within 30 s")


def numbers(n: int) -> list[str]:
    return [f"7906{i:06d}1" for i in range(n)]


# -- 1. the raw-socket baseline ------------------------------------------------------------------
async def raw_client(port: int, calls: int, concurrency: int) -> tuple[float, float, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()  # banner
    writer.write(f"Action: Login\r\nUsername: {USER}\r\nSecret: {SECRET}\r\nActionID: login\r\n\r\n".encode())
    waiting: dict[str, list] = {}  # channel id -> [future, originate response seen, hangups left]
    by_action: dict[str, str] = {}
    logged_in = asyncio.get_running_loop().create_future()

    async def read_loop():
        buffer = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\r\n\r\n")
            for raw in messages:
                msg = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
                event = msg.get("Event")
                if event is None:
                    if msg.get("ActionID") == "login" and not logged_in.done():
                        logged_in.set_result(msg.get("Response"))
                    continue
                if event == "OriginateResponse":
                    state = waiting.get(by_action.get(msg.get("ActionID")))
                    if state is not None:
                        state[1] = True
                elif event == "Hangup":
                    state = waiting.get(msg.get("Linkedid"))
                    if state is not None:
                        state[2] -= 1
                else:
                    continue
                if state is not None and state[1] and state[2] <= 0 and not state[0].done():
                    state[0].set_result(True)

    reader_task = asyncio.get_running_loop().create_task(read_loop())
    assert await logged_in == "Success"
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int, number: str) -> None:
        async with sem:
            cid, aid = f"raw{i}", f"rawa{i}"
            fut = asyncio.get_running_loop().create_future()
            waiting[cid] = [fut, False, 2]
            by_action[aid] = cid
            writer.write(
                (f"Action: Originate\r\nActionID: {aid}\r\nChannel: Local/{number}@dialer-outbound\r\nContext: from-dialer\r\n"
                 f"Exten: s\r\nPriority: 1\r\nAsync: true\r\nTimeout: 30000\r\nChannelId: {cid}\r\nOtherChannelId: {cid}-b\r\n\r\n").encode()
            )
            await fut
            del waiting[cid], by_action[aid]

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i, n) for i, n in enumerate(numbers(calls))))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    reader_task.cancel()
    writer.close()
    return wall, cpu, calls


# -- 2. the dial engine --------------------------------------------------------------------------
async def engine_client(port: int, calls: int, concurrency: int) -> tuple[float, float, int, dict]:
    from autodialer.config import AmiSettings
    from autodialer.telephony.ami import AmiSession
    from autodialer.telephony.engine import DialEngine

    async with AmiSession(AmiSettings("127.0.0.1", port, USER, SECRET), ping_interval=0, action_timeout=30) as ami:
        engine = DialEngine(ami, result_grace=10.0)
        sem = asyncio.Semaphore(concurrency)
        statuses: dict[str, int] = {}

        async def one(i: int, number: str) -> None:
            async with sem:
                result = await engine.originate(number, context="from-dialer", ring_timeout=30, attempt_id=f"eng{i}")
                statuses[str(result.status)] = statuses.get(str(result.status), 0) + 1

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(i, n) for i, n in enumerate(numbers(calls))))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return wall, cpu, calls, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--time-scale", type=float, default=0.001)
    parser.add_argument("--mode", default="plan")
    parser.add_argument("--port", type=int, default=0, help="use a lab already listening here instead of starting one")
    args = parser.parse_args()

    port = args.port or free_port()
    lab = None if args.port else start_lab(port, args.time_scale, args.mode)
    try:
        asyncio.run(raw_client(port, 50, 10))  # warm-up (imports, lab's first calls)
        raw_wall, raw_cpu, n = asyncio.run(raw_client(port, args.calls, args.concurrency))
        eng_wall, eng_cpu, n2, statuses = asyncio.run(engine_client(port, args.calls, args.concurrency))
    finally:
        if lab is not None:
            lab.terminate()
            lab.wait(10)
    print(f"lab PBX subprocess, mode {args.mode}, time scale {args.time_scale}, {args.calls} calls, {args.concurrency} at once, numbers ending 1")
    print(f"raw socket client : {n / raw_wall:8.1f} originates/s   client CPU {1000 * raw_cpu / n:6.3f} ms/call   wall {raw_wall:6.2f} s")
    print(f"dial engine       : {n2 / eng_wall:8.1f} originates/s   client CPU {1000 * eng_cpu / n2:6.3f} ms/call   wall {eng_wall:6.2f} s")
    print(f"engine overhead   : {1000 * (eng_cpu / n2 - raw_cpu / n):6.3f} ms/call over the raw client (CPU); engine/raw wall ratio {eng_wall / raw_wall:.2f}")
    print(f"engine statuses   : {statuses}")


if __name__ == "__main__":
    main()

"""CPU the lab PBX spends per call executing the dialplan, per destination context.

    .venv/bin/python bench/lab_dialplan.py [--calls 2000] [--number 79061234561] [--contexts from-dialer ...]
                                           [--mode random]   # callees drawn, acted out by sim-pstn

Places --calls calls in-process (no AMI, time scale 0.0001, 1,000 agents so nobody queues) from
Local/<number>@dialer-outbound into each context and prints the process CPU per call, the
applications and functions the dialplan ran per call (both legs), and the lab's errors.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from autodialer.lab import LabOptions, LabPBX
from autodialer.lab.calls import OriginateRequest

VARIABLES = {"ORDER_ID": "1234567", "CONF_ROOM": "r1", "CONF_ROLE": "participant", "QUEUE": "support"}


async def measure(calls: int, context: str, number: str, mode: str = "plan") -> tuple[float, float, int]:
    pbx = LabPBX(LabOptions(port=0, time_scale=0.0001, agents=1000, mode=mode, seed=1))
    await pbx.start()
    try:
        cpu = time.process_time()
        for i in range(calls):
            req = OriginateRequest(exten=number, context="dialer-outbound", dest_context=context, dest_exten="s",
                                   variables=dict(VARIABLES, ATTEMPT_ID=f"a{i}"), timeout=30.0, source="inbound",
                                   requested_channel=f"Local/{number}@dialer-outbound")
            pbx.start_call(req)
            if i % 200 == 199:
                await asyncio.sleep(0)
        while pbx.calls:
            await asyncio.sleep(0.01)
        return (time.process_time() - cpu) / calls, len(pbx.trace) / calls, len(pbx.errors)
    finally:
        await pbx.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--number", default="79061234561")
    ap.add_argument("--contexts", nargs="+", default=["from-dialer", "dialer-robot-order", "dialer-queue",
                                                      "dialer-conference-join", "dialer-predictive"])
    ap.add_argument("--mode", choices=("plan", "random"), default="plan")
    args = ap.parse_args()
    for ctx in args.contexts:
        per_call, steps, errors = asyncio.run(measure(args.calls, ctx, args.number, args.mode))
        print(f"{ctx:24s} {per_call * 1e3:6.2f} ms CPU/call  {steps:5.1f} apps+functions/call  errors {errors}")


if __name__ == "__main__":
    main()

"""DTMF between the two legs of a lab Local channel: what SendDTMF sends, Read receives."""

from __future__ import annotations

from autodialer.lab.channels import Channel

DTMF_SECONDS = 0.1  # DTMFBegin -> DTMFEnd (ami_6.txt)


async def read_digit(call, ch: Channel, timeout: float | None, main: bool, hungup: bool = False) -> str | None:
    """The next DTMF digit received on `ch`, or None after `timeout` seconds (scaled)."""
    if ch.inbox:
        return ch.inbox.pop(0)
    if hungup:
        return None
    fut = call.pbx.loop.create_future()
    ch.digit_waiter = fut
    try:
        return await call.wait(timeout, main, fut)
    finally:
        ch.digit_waiter = None


async def send_dtmf(call, to: Channel, digits: str, main: bool) -> None:
    """SendDTMF(digits): the far leg reports DTMFBegin/DTMFEnd (Direction: Received) and may Read them."""
    for d in digits:
        if not to.alive:
            return
        call.emit("DTMFBegin", to.snapshot() + f"Digit: {d}\r\nDirection: Received\r\n", "dtmf")
        await call.wait(DTMF_SECONDS, main)
        call.emit("DTMFEnd", to.snapshot() + f"Digit: {d}\r\nDurationMs: {int(DTMF_SECONDS * 1000)}\r\nDirection: Received\r\n", "dtmf")
        w = to.digit_waiter
        if w is not None and not w.done():
            w.set_result(d)
        else:
            to.inbox.append(d)

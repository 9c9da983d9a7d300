"""The lab PBX on its own event-loop thread, for synchronous code and tests.

    with running_lab(time_scale=0.01) as lab:
        lab.url        # "ami://dialer:dialer-secret@127.0.0.1:<port>"
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from autodialer.lab.options import LabOptions
from autodialer.lab.server import LabPBX


class ThreadedLab:
    """A LabPBX running in a background thread. Attribute access reaches the LabPBX (`faults`,
    `options`, counters); calls that touch the simulation go through `call_soon()`."""

    def __init__(self, options: LabOptions):
        self.pbx = LabPBX(options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="lab-pbx", daemon=True)

    def start(self) -> "ThreadedLab":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.pbx.start(), self.loop).result(timeout=10)
        return self

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.pbx.stop(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()

    def call_soon(self, fn, *args):
        """Run fn(*args) on the lab's loop and return its result."""
        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)

    # the common parts of the API, thread-safe
    @property
    def host(self) -> str:
        return self.pbx.host

    @property
    def port(self) -> int:
        return self.pbx.port

    @property
    def url(self) -> str:
        return self.pbx.url

    @property
    def faults(self) -> "_LoopFaults":
        """The fault switches; methods run on the lab's loop (dropping a connection must)."""
        return _LoopFaults(self)

    def active_calls(self) -> int:
        return self.call_soon(self.pbx.active_calls)

    def inbound_call(self, caller: str, queue: str = "support", abandon_after: float | None = None):
        return self.call_soon(self.pbx.inbound_call, caller, queue, abandon_after)

    @property
    def trace(self) -> list:
        """A copy of what the dialplan ran (LabPBX.trace), taken on the lab's loop."""
        return self.call_soon(lambda: list(self.pbx.trace))

    def executed(self, channel_prefix: str = "", kind: str = "app") -> list:
        return self.call_soon(self.pbx.executed, channel_prefix, kind)

    def __getattr__(self, name):
        return getattr(self.pbx, name)

    def __repr__(self) -> str:
        return f"<ThreadedLab {self.pbx.redacted_url}>"


class _LoopFaults:
    def __init__(self, lab: ThreadedLab):
        object.__setattr__(self, "_lab", lab)

    def __getattr__(self, name):
        value = getattr(self._lab.pbx.faults, name)
        if callable(value):
            return lambda *a, **kw: self._lab.call_soon(lambda: value(*a, **kw))
        return value

    def __setattr__(self, name, value):
        setattr(self._lab.pbx.faults, name, value)


@contextlib.contextmanager
def running_lab(**opts):
    """Start a lab PBX (port 0 = ephemeral by default) in a thread; stop it on exit."""
    opts.setdefault("port", 0)
    lab = ThreadedLab(LabOptions(**opts)).start()
    try:
        yield lab
    finally:
        lab.stop()

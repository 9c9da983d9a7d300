"""Several Asterisk servers behind one `originate()`: a campaign spread over PBXes.

Each call goes to the connected engine with the fewest calls in flight (ties: the order given),
so a busy or reconnecting server gets fewer new calls. The pool is an Engine
(autodialer.telephony.contract) as each DialEngine is, so the dialing core does not care whether
it has one server or many.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from autodialer.config import AmiSettings
from autodialer.telephony.outcomes import CallResult
from autodialer.telephony.contract import CallSpec, KeywordOriginate


class EnginePool(KeywordOriginate):
    def __init__(self, engines: list):
        if not engines:
            raise ValueError("an engine pool needs at least one engine")
        self.engines = list(engines)
        self.calls_per_engine = [0] * len(self.engines)

    def _pick(self) -> int:
        connected = [i for i, e in enumerate(self.engines) if e.connected]
        candidates = connected or list(range(len(self.engines)))
        return min(candidates, key=lambda i: self.engines[i].in_flight)

    async def place(self, spec: CallSpec) -> CallResult:
        i = self._pick()
        self.calls_per_engine[i] += 1
        return await self.engines[i].place(spec)

    @property
    def connected(self) -> bool:
        return any(e.connected for e in self.engines)

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until one server's AMI link is up (AmiConnectionError after `timeout`)."""
        import asyncio

        from autodialer.telephony.ami import AmiConnectionError

        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self.connected:
            if deadline is not None and loop.time() >= deadline:
                raise AmiConnectionError("not connected to any AMI server")
            await asyncio.sleep(0.05)

    @property
    def in_flight(self) -> int:
        return sum(e.in_flight for e in self.engines)

    def ringing_for(self, attempt_id: str) -> float | None:
        """How long the call `attempt_id` has been ringing, on whichever engine placed it."""
        for engine in self.engines:
            seconds = engine.ringing_for(attempt_id)
            if seconds is not None:
                return seconds
        return None

    def stop_ringing(self, attempt_id: str, why: str) -> bool:
        return any(engine.stop_ringing(attempt_id, why) for engine in self.engines)

    async def live_calls(self) -> dict[str, tuple[object, list[dict[str, str]]]]:
        """Every server's channels by Linkedid, with the engine that sees them. A server that
        cannot be asked raises: a call there may be up, so nothing may be concluded."""
        out = {}
        for engine in self.engines:
            out.update(await engine.live_calls())
        return out

    @property
    def cdr(self):
        """The CdrReader the servers' engines resolve outage calls with (one for the pool), or None."""
        return next((e.cdr for e in self.engines if e.cdr is not None), None)

    @property
    def sessions(self) -> list:
        """Each server's AmiSession, in the order given (the first one's queue paces the calls)."""
        return [e.session for e in self.engines]


class ConnectedPool:
    """`async with ConnectedPool([(settings, outbound_context), ...]) as pool:` one AMI session
    and one DialEngine per server, all closed on exit."""

    def __init__(self, servers: list[tuple[AmiSettings, str]], *, cdr=None, **session_options):
        """`cdr`: a CdrReader every engine resolves calls that ended during an AMI outage with."""
        self.servers = servers
        self.cdr = cdr
        self.session_options = session_options
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> EnginePool:
        from autodialer.telephony.ami import AmiSession
        from autodialer.telephony.engine import DialEngine

        engines = []
        try:
            for settings, outbound_context in self.servers:
                session = await self._stack.enter_async_context(AmiSession(settings, **self.session_options))
                engines.append(DialEngine(session, outbound_context=outbound_context, cdr=self.cdr))
        except BaseException:
            await self._stack.aclose()
            raise
        return EnginePool(engines)

    async def __aexit__(self, *exc) -> None:
        await self._stack.aclose()

"""The operators' pause switch: Prefect Variables that stop new calls without cancelling runs.

    autodialer_pause                 every campaign, on every worker
    autodialer_pause_<campaign>      one campaign (name with `-` as `_`: autodialer_pause_order_confirmation)

Set by `autodialer pause [CAMPAIGN]` / cleared by `autodialer resume [CAMPAIGN]`, or by hand in
the UI (Variables; any value but false/"no"/"off"/"0"/empty means paused). A running campaign
reads both every POLL_SECONDS; before each claim the dialing core awaits `PauseSwitch.hold`,
which waits while either is set: no new call starts, the calls in flight go on and are
recorded, the run is not cancelled. On resume the run goes on where it stopped; when its time
is up while paused, the contacts not dialed stay pending for the next run. The run's summary
says when it was paused and by which switch.

Why polling and not a Prefect event: a run must not depend on a subscription that can drop;
one read a second per run is cheap, and pausing then takes effect within ~1 s.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from prefect import flow, get_run_logger

from autodialer.dialer.pause import GLOBAL_VARIABLE, campaign_variable, is_paused, set_switch, switch_name
from flows.params import described

POLL_SECONDS = 1.0

log = logging.getLogger("autodialer.pause")


async def read_switches(names: list[str]) -> dict[str, object]:
    """The set switches among `names`, with their values."""
    from prefect.client.orchestration import get_client

    out = {}
    async with get_client() as client:
        for name in names:
            variable = await client.read_variable_by_name(name)
            if variable is not None and is_paused(variable.value):
                out[name] = variable.value
    return out


@dataclass
class Pause:
    switch: str
    since: datetime
    until: datetime | None = None


@dataclass
class PauseSwitch:
    """One run's view of the pause switches of its campaign (the global one and its own).

    `until`: the run's end; a call waiting for a resume past it is not made (`hold` returns why)."""

    campaign_name: str
    until: datetime
    poll: float = POLL_SECONDS
    pauses: list[Pause] = field(default_factory=list)

    def __post_init__(self):
        self.names = [GLOBAL_VARIABLE, campaign_variable(self.campaign_name)]
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._task: asyncio.Task | None = None
        self._read_failed = False

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    async def start(self) -> "PauseSwitch":
        await self.check()
        self._task = asyncio.create_task(self._poll())
        return self

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._close_pause(datetime.now(timezone.utc))

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.close()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            await self.check()

    async def check(self) -> None:
        """Read the switches once. An unreadable API keeps the last known state (a run does
        not stop dialing, nor start again, because the Prefect server restarted)."""
        try:
            switches = await read_switches(self.names)
        except Exception as exc:
            if not self._read_failed:
                log.warning("cannot read the pause switches (%s: %s); keeping the last state", type(exc).__name__, exc)
            self._read_failed = True
            return
        self._read_failed = False
        now = datetime.now(timezone.utc)
        if switches and not self.paused:
            switch = ", ".join(switches)
            self.pauses.append(Pause(switch, now))
            self._resumed.clear()
            log.warning("%s: dialing paused by %s: no new calls; calls in flight go on", self.campaign_name, switch)
        elif not switches and self.paused:
            self._close_pause(now)
            self._resumed.set()
            log.warning("%s: dialing resumed", self.campaign_name)

    def _close_pause(self, now: datetime) -> None:
        if self.pauses and self.pauses[-1].until is None:
            self.pauses[-1].until = now

    async def hold(self) -> str | None:
        """The dialing core's hook, awaited right before every claim (autodialer/dialer/dialing.py)."""
        if not self.paused:
            return None
        left = (self.until - datetime.now(timezone.utc)).total_seconds()
        try:
            await asyncio.wait_for(self._resumed.wait(), timeout=max(0.0, left))
        except asyncio.TimeoutError:
            return f"paused ({self.pauses[-1].switch}) until the run's end: not dialed, left for the next run"
        return None

    def summary(self) -> str | None:
        """`paused 20:31:02-20:31:40 UTC (autodialer_pause_x)`, for the run's state message."""
        if not self.pauses:
            return None
        parts = [f"{p.since:%H:%M:%S}-{p.until:%H:%M:%S} UTC ({p.switch})" if p.until else
                 f"since {p.since:%H:%M:%S} UTC ({p.switch})" for p in self.pauses]
        return "paused " + ", ".join(parts)



@flow(name="pause", flow_run_name="pause {campaign_name}", persist_result=False)
@described
async def pause_campaign_flow(campaign_name: str | None = None, reason: str = "", resume: bool = False) -> str:
    """Set (or with resume, clear) a campaign's pause switch, or the global one. The switch as a
    deployment (`pause/pause-campaign`), for automations: an automation cannot set a Variable,
    but it can run a deployment (automations/pause-on-abandonment-cap.yaml)."""
    await set_switch(campaign_name, paused=not resume, reason=reason)
    what = f"{'cleared' if resume else 'set'} {switch_name(campaign_name)}" + (f": {reason}" if reason else "")
    get_run_logger().warning("pause switch %s", what)
    return what

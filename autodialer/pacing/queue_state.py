"""The operators of one Asterisk queue, as the AMI reports them: who is free, who is busy, who
is waiting, and which of the dialer's own calls are already answered.

Read with QueueSummary and QueueStatus when started and after every reconnect (field notes:
resync before dialing on), kept current from queue events: QueueMemberStatus (device state,
InCall, Paused), QueueMemberAdded/Removed/Pause, AgentConnect/AgentComplete, QueueCallerJoin/
Leave/Abandon, Hangup, and the dialplan's `UserEvent(DialerAbandoned)`. While disconnected (and
until resynced) it reports no free operator, so nothing is dialed on stale facts.

A member is free when logged in (not UNAVAILABLE/INVALID), not paused, not in a call, its device
NOT_INUSE (or UNKNOWN), and not in wrap-up (`Wrapuptime` seconds after its last call), which is
how Asterisk's QueueSummary counts `Available`.

The dialer's calls are told from inbound callers by their channel, `Local/<n>@<outbound
context>-...;1` (the leg that runs the Originate's destination), and followed by Linkedid (the
attempt id: the engine sets it as the ChannelId).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from autodialer.errors import ConfigError
from autodialer.telephony.ami import AmiError, AmiSession

log = logging.getLogger("autodialer.pacing")

# Asterisk device states (QueueMemberStatus `Status`)
UNKNOWN, NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD = range(9)
_FREE_STATES = (UNKNOWN, NOT_INUSE)
_LOGGED_OUT_STATES = (INVALID, UNAVAILABLE)

# What one of our answered calls is doing in the queue.
WAITING, CONNECTED, ABANDONED = "waiting", "connected", "abandoned"

_EVENTS = (
    "QueueMemberStatus", "QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause", "AgentConnect",
    "AgentComplete", "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "Hangup", "UserEvent",
)


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass
class Member:
    interface: str
    status: int = NOT_INUSE
    paused: bool = False
    in_call: bool = False
    wrapup: float = 0.0  # seconds of wrap-up after each call
    wrapup_until: float = 0.0
    busy_since: float | None = None

    def free(self, now: float) -> bool:
        return (self.status in _FREE_STATES and not self.paused and not self.in_call
                and now >= self.wrapup_until)

    def logged_in(self) -> bool:
        return self.status not in _LOGGED_OUT_STATES


class QueueMonitor:
    """Live state of queue `queue`. `on_change()` is called after every change; `on_handle(s)`
    when an operator frees up after `s` seconds busy; `on_join(attempt_id)` when one of our calls,
    answered, joins the queue; `on_connect(attempt_id)` and `on_abandon(attempt_id)` when it
    reached an operator or was abandoned."""

    def __init__(self, session: AmiSession, queue: str, *, outbound_context: str = "dialer-outbound",
                 clock: Callable[[], float] = time.monotonic):
        self.session = session
        self.queue = queue
        self._ours_marker = f"@{outbound_context}-"
        self._clock = clock
        self.members: dict[str, Member] = {}
        self.waiting: set[str] = set()  # Uniqueids of callers waiting in the queue
        self.ours: dict[str, str] = {}  # Linkedid (attempt id) of our answered calls -> WAITING/CONNECTED/ABANDONED
        self.synced = False
        self.summary: dict[str, int] = {}  # the last QueueSummary: LoggedIn, Available, Callers
        self.on_change: Callable[[], None] = lambda: None
        self.on_handle: Callable[[float], None] = lambda s: None
        self.on_join: Callable[[str], None] = lambda a: None
        self.on_connect: Callable[[str], None] = lambda a: None
        self.on_abandon: Callable[[str], None] = lambda a: None
        self._unsubscribe: list[Callable[[], None]] = []
        self._sync_task: asyncio.Task | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> "QueueMonitor":
        if not self._unsubscribe:
            for name in _EVENTS:
                self._unsubscribe.append(self.session.subscribe(name, self._on_event))
            self.session.on_disconnect(self._on_disconnect)
            self.session.on_reconnect(self._on_reconnect)
        await self.sync()
        return self

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._sync_task is not None:
            self._sync_task.cancel()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.synced = False

    async def sync(self) -> None:
        """Read the queue afresh: QueueSummary (counts) and QueueStatus (members, callers)."""
        summary = await self.session.send_action({"Action": "QueueSummary", "Queue": self.queue}, as_list=True)
        status = await self.session.send_action({"Action": "QueueStatus", "Queue": self.queue}, as_list=True)
        now = self._clock()
        for item in summary if isinstance(summary, list) else []:
            if item.get("Event") == "QueueSummary" and item.get("Queue") == self.queue:
                self.summary = {k: _int(item.get(k)) for k in ("LoggedIn", "Available", "Callers")}
        members: dict[str, Member] = {}
        waiting: set[str] = set()
        for item in status if isinstance(status, list) else []:
            if item.get("Queue") != self.queue:
                continue
            if item.get("Event") == "QueueMember":
                interface = item.get("StateInterface") or item.get("Location") or item.get("Name")
                old = self.members.get(interface)
                m = Member(interface, _int(item.get("Status"), NOT_INUSE), item.get("Paused") == "1",
                           item.get("InCall") == "1", float(_int(item.get("Wrapuptime"))))
                m.busy_since = old.busy_since if old is not None and not m.free(now) else (None if m.free(now) else now)
                members[interface] = m
            elif item.get("Event") == "QueueEntry" and item.get("Uniqueid"):
                waiting.add(item["Uniqueid"])
        if not self.summary and not members:
            raise ConfigError(f"pacing.queue: the PBX at {self.session.settings.host}:{self.session.settings.port} "
                              f"reports no queue {self.queue!r} (check queues.conf)")
        self.members, self.waiting = members, waiting
        self.synced = True
        self.on_change()

    def _on_disconnect(self, why: str) -> None:
        self.synced = False
        self.on_change()

    def _on_reconnect(self) -> None:
        async def resync():
            try:
                await self.sync()
            except (AmiError, ConfigError) as exc:
                log.warning("queue %s: resync after reconnect failed: %s", self.queue, exc)
        self._sync_task = asyncio.get_running_loop().create_task(resync())

    # -- what the pacer asks ------------------------------------------------------------------
    @property
    def free(self) -> int:
        if not self.synced:
            return 0
        now = self._clock()
        return sum(1 for m in self.members.values() if m.logged_in() and m.free(now))

    @property
    def logged_in(self) -> int:
        return sum(1 for m in self.members.values() if m.logged_in() and not m.paused)

    @property
    def busy(self) -> int:
        return max(0, self.logged_in - self.free) if self.synced else self.logged_in

    def busy_for(self) -> list[float]:
        """Seconds each busy operator has been busy (talk and wrap-up so far)."""
        now = self._clock()
        return [now - m.busy_since for m in self.members.values()
                if m.busy_since is not None and m.logged_in() and not m.paused and not m.free(now)]

    @property
    def callers_waiting(self) -> int:
        return len(self.waiting)

    # -- events ---------------------------------------------------------------------------------
    def _member(self, event) -> Member | None:
        interface = event.get("StateInterface") or event.get("Interface") or event.get("Location")
        if not interface:
            return None
        m = self.members.get(interface)
        if m is None:
            m = self.members[interface] = Member(interface)
        return m

    def _on_event(self, event) -> None:
        name = event.get("Event")
        if name == "Hangup":
            uid = event.get("Uniqueid")
            changed = self.ours.pop(uid, None) is not None
            if uid in self.waiting:
                self.waiting.discard(uid)
                changed = True
            if changed:
                self.on_change()
            return
        if name == "UserEvent":
            if event.get("UserEvent") == "DialerAbandoned":
                attempt = event.get("AttemptId") or event.get("Linkedid")
                if attempt:
                    self.ours[attempt] = ABANDONED
                    self.on_abandon(attempt)
                    self.on_change()
            return
        if event.get("Queue") != self.queue:
            return
        now = self._clock()
        if name in ("QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause"):
            m = self._member(event)
            if m is None:
                return
            was_free = m.free(now)
            if event.get("Status") is not None:
                m.status = _int(event.get("Status"), m.status)
            if event.get("Paused") is not None:
                m.paused = event.get("Paused") == "1"
            if event.get("InCall") is not None:
                m.in_call = event.get("InCall") == "1"
            if event.get("Wrapuptime") is not None:
                m.wrapup = float(_int(event.get("Wrapuptime")))
            self._transition(m, was_free, now)
        elif name == "QueueMemberRemoved":
            m = self.members.pop(event.get("StateInterface") or event.get("Interface") or "", None)
            if m is None:
                return
        elif name == "AgentConnect":
            m = self._member(event)
            if m is not None:
                was_free = m.free(now)
                m.in_call = True
                self._transition(m, was_free, now)
            if self._ours(event):
                attempt = event.get("Linkedid")
                self.ours[attempt] = CONNECTED
                self.on_connect(attempt)
        elif name == "AgentComplete":
            m = self._member(event)
            if m is not None:
                was_free = m.free(now)
                m.in_call = False
                if m.wrapup > 0:
                    m.wrapup_until = now + m.wrapup
                    self._wake_after(m.wrapup)
                self._transition(m, was_free, now)
        elif name == "QueueCallerJoin":
            if event.get("Uniqueid"):
                self.waiting.add(event["Uniqueid"])
            if self._ours(event) and event.get("Linkedid") not in self.ours:
                self.ours[event["Linkedid"]] = WAITING
                self.on_join(event["Linkedid"])
        elif name in ("QueueCallerLeave", "QueueCallerAbandon"):
            self.waiting.discard(event.get("Uniqueid"))
        else:
            return
        self.on_change()

    def _ours(self, event) -> bool:
        channel = event.get("Channel") or ""
        return self._ours_marker in channel and bool(event.get("Linkedid"))

    def _transition(self, m: Member, was_free: bool, now: float) -> None:
        is_free = m.free(now)
        if was_free and not is_free:
            m.busy_since = now
        elif is_free and not was_free and m.busy_since is not None:
            self.on_handle(now - m.busy_since)
            m.busy_since = None

    def _wake_after(self, seconds: float) -> None:
        """A member's wrap-up ends without an event: re-check then."""
        loop = asyncio.get_running_loop()

        def wake():
            self._timers.discard(handle)
            now = self._clock()
            for m in self.members.values():
                if m.busy_since is not None and m.free(now):
                    self.on_handle(now - m.busy_since)
                    m.busy_since = None
            self.on_change()

        handle = loop.call_later(seconds + 0.01, wake)
        self._timers.add(handle)

"""Queue `support` with simulated Local agents (asterisk-lab/queues.conf): rrmemory, agents busy while
talking, hold/talk statistics for QueueSummary/QueueStatus, and the events of ami_queue_call.txt."""

from __future__ import annotations

import asyncio
import time
import uuid

from autodialer.lab.calls import HungUp
from autodialer.lab.channels import UP, Channel

NOT_INUSE, INUSE = 1, 2
AGENT_NAMES = ["One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]


class Agent:
    def __init__(self, index: int, login_time: int):
        self.exten = f"agent{index}"
        self.name = f"Agent {AGENT_NAMES[index - 1]}" if index <= len(AGENT_NAMES) else f"Agent {index}"
        self.interface = f"Local/{self.exten}@sim-agents/n"
        self.busy = False
        self.paused = False
        self.calls_taken = 0
        self.last_call = 0
        self.login_time = login_time

    @property
    def status(self) -> int:
        return INUSE if self.busy else NOT_INUSE


class _Entry:
    __slots__ = ("channel", "future", "joined", "position")

    def __init__(self, channel: Channel, future: asyncio.Future, position: int):
        self.channel = channel
        self.future = future
        self.joined = time.monotonic()
        self.position = position


class LabQueue:
    strategy = "rrmemory"

    def __init__(self, pbx, name: str, agents: int):
        self.pbx = pbx
        self.name = name
        now = int(time.time())
        self.agents = [Agent(i + 1, now) for i in range(agents)]
        self.waiting: list[_Entry] = []
        self.completed = 0
        self.abandoned = 0
        self._hold_total = 0.0
        self._talk_total = 0.0
        self._next = 0  # rrmemory: where the next search starts

    # --- statistics -------------------------------------------------------------------------
    def available(self) -> int:
        return sum(1 for a in self.agents if not a.busy and not a.paused)

    def holdtime(self) -> int:
        return int(round(self._hold_total / self.completed)) if self.completed else 0

    def talktime(self) -> int:
        return int(round(self._talk_total / self.completed)) if self.completed else 0

    def longest_hold(self) -> int:
        now = time.monotonic()
        return int(max((now - e.joined for e in self.waiting), default=0) / self.pbx.options.time_scale)

    def member_headers(self, a: Agent) -> str:
        return (
            f"Queue: {self.name}\r\nName: {a.name}\r\nLocation: {a.interface}\r\nStateInterface: {a.interface}\r\n"
            f"Membership: static\r\nPenalty: 0\r\nCallsTaken: {a.calls_taken}\r\nLastCall: {a.last_call}\r\n"
            f"LastPause: 0\r\nLoginTime: {a.login_time}\r\nInCall: {1 if a.busy else 0}\r\nStatus: {a.status}\r\n"
            f"Paused: {1 if a.paused else 0}\r\nPausedReason: \r\nWrapuptime: 0\r\n"
        )

    def _member_status(self, a: Agent) -> None:
        body = (
            f"Queue: {self.name}\r\nMemberName: {a.name}\r\nInterface: {a.interface}\r\nStateInterface: {a.interface}\r\n"
            f"Membership: static\r\nPenalty: 0\r\nCallsTaken: {a.calls_taken}\r\nLastCall: {a.last_call}\r\n"
            f"LastPause: 0\r\nLoginTime: {a.login_time}\r\nInCall: {1 if a.busy else 0}\r\nStatus: {a.status}\r\n"
            f"Paused: {1 if a.paused else 0}\r\nPausedReason: \r\nRinginuse: 1\r\nWrapuptime: 0\r\n"
        )
        self.pbx.emit("QueueMemberStatus", body, "agent")

    # --- dispatch ---------------------------------------------------------------------------
    def _dispatch(self) -> None:
        while self.waiting:
            agent = self._free_agent()
            if agent is None:
                return
            entry = self.waiting.pop(0)
            if entry.future.done():
                continue
            entry.position = 1  # answered from the head of the queue
            agent.busy = True
            entry.future.set_result(agent)

    def _free_agent(self) -> Agent | None:
        n = len(self.agents)
        for k in range(n):
            a = self.agents[(self._next + k) % n]
            if not a.busy and not a.paused:
                self._next = (self._next + k + 1) % n
                return a
        return None

    def _release(self, agent: Agent) -> None:
        agent.busy = False
        self._member_status(agent)
        self._dispatch()

    # --- a caller in the queue --------------------------------------------------------------
    async def enter(self, call, caller: Channel, timeout: float | None, main: bool, on_connect=None) -> str:
        """Queue(): returns "ANSWERED" (an agent talked, then hung up) or QUEUESTATUS (TIMEOUT).
        The caller hanging up raises (HungUp / CancelledError) after QueueCallerAbandon."""
        pbx, q = self.pbx, self.name
        entry = _Entry(caller, pbx.loop.create_future(), len(self.waiting) + 1)
        self.waiting.append(entry)
        call.emit("QueueCallerJoin", caller.snapshot() + f"Queue: {q}\r\nPosition: {entry.position}\r\nCount: {len(self.waiting)}\r\n", "agent")
        call.emit("MusicOnHoldStart", caller.snapshot() + "Class: default\r\n")
        self._dispatch()
        try:
            agent = await call.wait(timeout, main, entry.future)
        except (HungUp, asyncio.CancelledError):
            if entry in self.waiting:
                original = entry.position
                self._leave(call, entry)
                self.abandoned += 1
                hold = int((time.monotonic() - entry.joined) / pbx.options.time_scale)
                call.emit("QueueCallerAbandon", caller.snapshot() + f"Queue: {q}\r\nPosition: {entry.position}\r\n"
                          f"OriginalPosition: {original}\r\nHoldTime: {hold}\r\n", "agent")
                call.emit("MusicOnHoldStop", caller.snapshot())
                call.emit("QueueCallerLeave", caller.snapshot() + f"Queue: {q}\r\nPosition: {entry.position}\r\nCount: {len(self.waiting)}\r\n", "agent")
            elif entry.future.done() and not entry.future.cancelled() and entry.future.exception() is None \
                    and entry.future.result() is not None:
                self._release(entry.future.result())
            raise
        if agent is None:  # Queue timeout
            if entry in self.waiting:
                self._leave(call, entry)
            call.emit("MusicOnHoldStop", caller.snapshot())
            call.emit("QueueCallerLeave", caller.snapshot() + f"Queue: {q}\r\nPosition: {entry.position}\r\nCount: {len(self.waiting)}\r\n", "agent")
            return "TIMEOUT"
        return await self._connect(call, caller, entry, agent, main, on_connect)

    def _leave(self, call, entry: _Entry) -> None:
        entry.position = self.waiting.index(entry) + 1  # where it is now, callers ahead may have left
        self.waiting.remove(entry)

    async def _connect(self, call, caller: Channel, entry: _Entry, agent: Agent, main: bool, on_connect=None) -> str:
        pbx, q = self.pbx, self.name
        opts = pbx.options
        hold_s = (time.monotonic() - entry.joined) / opts.time_scale
        a1, a2 = pbx.new_local_pair(agent.exten, "sim-agents", None, None, None, caller.linkedid, ("a1", "a2"))
        for ch in (a1, a2):
            ch.cid_num, ch.cid_name, ch.conn_num, ch.conn_name = caller.cid_num, caller.cid_name, caller.cid_num, caller.cid_name
        a1.at(exten=q, app="AppQueue", appdata="(Outgoing Line)")
        call.emit("Newchannel", a1.snapshot())
        call.emit("Newchannel", a2.snapshot())
        member = f"Queue: {q}\r\nInterface: {agent.interface}\r\nMemberName: {agent.name}\r\n"
        call.emit("AgentCalled", caller.snapshot() + a1.snapshot("Dest") + member, "agent")
        call.emit("DialBegin", caller.snapshot() + a1.snapshot("Dest") + f"DialString: {agent.exten}@sim-agents/n\r\n")
        a2.state = a1.state = UP
        a2.at(priority=2, app="Answer", appdata="")
        call.emit("Newstate", a2.snapshot())
        call.emit("Newstate", a1.snapshot())
        call.emit("DialEnd", caller.snapshot() + a1.snapshot("Dest") + "DialStatus: ANSWER\r\n")
        call.emit("MusicOnHoldStop", caller.snapshot())
        call.emit("QueueCallerLeave", caller.snapshot() + f"Queue: {q}\r\nPosition: {entry.position}\r\nCount: {len(self.waiting)}\r\n", "agent")
        call.emit("AgentConnect", caller.snapshot() + a1.snapshot("Dest") + member + f"HoldTime: {int(hold_s)}\r\nRingTime: 0\r\n", "agent")
        bridge = str(uuid.uuid4())
        caller.bridge_id = a1.bridge_id = bridge
        bhead = (f"BridgeUniqueid: {bridge}\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\n"
                 f"BridgeName: <unknown>\r\nBridgeNumChannels: 2\r\nBridgeVideoSourceMode: none\r\n")
        call.emit("BridgeEnter", bhead + caller.snapshot())
        if on_connect is not None:  # dialer-queue-first: the operator took the call, the far leg goes on
            on_connect()
        agent.calls_taken += 1
        agent.last_call = int(time.time())
        self._member_status(agent)
        talk = pbx.rng.expovariate(1.0 / opts.agent_talk_mean) if opts.agent_talk_mean > 0 else opts.agent_talk
        a2.at(priority=3, app="Wait", appdata=f"{talk:g}")
        started = time.monotonic()
        reason = "agent"
        try:
            await call.wait(talk, main)
        except (HungUp, asyncio.CancelledError):
            reason = "caller"
            raise
        finally:
            talk_s = (time.monotonic() - started) / opts.time_scale
            a2.at(priority=4, app="Hangup", appdata="")
            for name, ch in (("SoftHangupRequest", a2), ("HangupRequest", a1)):
                call.emit(name, ch.snapshot() + "Cause: 16\r\n")
            call.emit("AgentComplete", caller.snapshot() + a1.snapshot("Dest") + member +
                      f"HoldTime: {int(hold_s)}\r\nTalkTime: {int(talk_s)}\r\nReason: {reason}\r\n", "agent")
            call.emit("BridgeLeave", bhead.replace("BridgeNumChannels: 2", "BridgeNumChannels: 1") + caller.snapshot())
            caller.bridge_id = ""
            for ch in (a2, a1):
                call.hangup_channel(ch, 16)
            self.completed += 1
            self._hold_total += hold_s
            self._talk_total += talk_s
            if opts.agent_wrapup > 0:
                pbx.loop.call_later(opts.agent_wrapup * opts.time_scale, self._release, agent)
            else:
                self._release(agent)
        return "ANSWERED"

"""The lab PBX: an asyncio AMI server simulating Asterisk 22 with the asterisk-lab dialplan.

    lab = LabPBX(LabOptions(port=0, time_scale=0.01)); await lab.start(); ...; await lab.stop()
"""

from __future__ import annotations

import asyncio
import collections
import random
import re
import time

from autodialer.lab import wire
from autodialer.lab.calls import CALLEE_CONTEXTS, Call, OriginateRequest
from autodialer.lab.channels import DOWN, RING, Channel
from autodialer.lab.conference import Conference
from autodialer.lab.dialplan import Executed, load_runtime
from autodialer.lab.faults import Faults
from autodialer.lab.options import LabOptions
from autodialer.lab.queues import LabQueue
from autodialer.lab.session import LabAmiConnection

_LOCAL = re.compile(r"Local/([^@/]+)@([^/]+)(?:/n)?", re.IGNORECASE)
LAB_CONTEXTS = CALLEE_CONTEXTS  # what an Originate's Local/<exten>@<context> may name


class LabPBX:
    def __init__(self, options: LabOptions | None = None):
        self.options = (options or LabOptions()).check()
        self.rng = random.Random(self.options.seed)
        self.faults = Faults(self.rng)
        self.faults._sessions = lambda: list(self.sessions)
        self.sessions: set[LabAmiConnection] = set()
        self.channels: dict[str, Channel] = {}
        self.calls: set[Call] = set()
        self.queues: dict[str, LabQueue] = {}
        self.conferences: dict[str, Conference] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._chan_seq = 0
        self._uid_seq = 0
        self._spool = None
        self.cdr = None  # a CdrWriter when options.cdr_url is set
        self.stopping = False
        # counters for benchmarks and tests
        self.originates = 0
        self.peak_calls = 0
        self.events_sent = 0
        # what the PBX really did, for fault tests: ChannelIds of the calls it started, and for each
        # call that ended (or was cut short by stop()) whether it was answered
        self.started_ids: list[str] = []
        self.ended_answered: dict[str, bool] = {}
        self.errors: list[str] = []  # exceptions inside simulated calls (lab bugs); tests assert it stays empty
        # The dialplan the channels execute; an application or function the lab lacks fails here.
        self.dialplan = load_runtime(self.options.dialplan, self.options.confbridge, self.options.trace_limit)
        self.warnings: list[str] = []  # what Asterisk would log as WARNING/NOTICE (over-long lines, call-file errors)

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> "LabPBX":
        self.loop = asyncio.get_running_loop()
        if self.options.cdr_url:
            from autodialer.lab.cdr import CdrWriter

            self.cdr = await self.loop.run_in_executor(None, CdrWriter, self.options.cdr_url, self.options.cdr_table)
        self.queues["support"] = LabQueue(self, "support", self.options.agents)
        self._server = await self.loop.create_server(lambda: LabAmiConnection(self), self.options.host, self.options.port,
                                                     reuse_address=True)
        if self.options.spool_dir is not None:
            from autodialer.lab.spool import Spool

            self._spool = Spool(self, self.options.spool_dir)
            self._spool.start()
        return self

    @property
    def host(self) -> str:
        return self.options.host

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1] if self._server else self.options.port

    @property
    def url(self) -> str:
        """ami://user:secret@host:port, as AUTODIALER_AMI_URL wants it (contains the secret)."""
        return f"ami://{self.options.username}:{self.options.secret}@{self.host}:{self.port}"

    @property
    def redacted_url(self) -> str:
        return f"ami://{self.options.username}:***@{self.host}:{self.port}"

    async def stop(self) -> None:
        self.stopping = True  # calls cut short by the stop leave no CDR (as an Asterisk that dies)
        if self._spool is not None:
            await self._spool.stop()
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.drop()
        tasks = [c.task for c in list(self.calls) if c.task is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self.cdr is not None:
            await self.cdr.close()

    def __repr__(self) -> str:
        return f"<LabPBX {self.redacted_url} calls={len(self.calls)}>"

    # --- channels and events --------------------------------------------------------------------
    def _uid(self) -> str:
        self._uid_seq += 1
        return f"{int(time.time())}.{self._uid_seq}"

    def new_local_pair(self, exten, context, call, uid1=None, uid2=None, linkedid=None, names=("1", "2")):
        self._chan_seq += 1
        base = f"Local/{exten}@{context}-{self._chan_seq:08x}"
        uid1 = uid1 or self._uid()
        if uid2 is None:
            uid2 = f"{uid1};2" if (call is not None and call.req.channel_id == uid1 and names[0] == "1") else self._uid()
        linked = linkedid or uid1
        now = time.monotonic()
        l1 = Channel(base + ";1", uid1, linked, context, exten, DOWN, now, call, names[0])
        l2 = Channel(base + ";2", uid2, linked, context, exten, RING, now, call, names[1])
        l2.app, l2.appdata = "", ""
        self.channels[l1.name] = l1
        self.channels[l2.name] = l2
        return l1, l2

    def forget_channel(self, ch: Channel) -> None:
        self.channels.pop(ch.name, None)

    def emit(self, name: str, body: str, priv: str = "call") -> None:
        sessions = self.sessions
        if not sessions:
            return
        data = f"Event: {name}\r\nPrivilege: {priv},all\r\n{body}\r\n".encode()
        for s in sessions:
            if s.wants(priv, data):
                s.write(data)
                self.events_sent += 1

    @property
    def trace(self) -> "collections.deque[Executed]":
        """Every application and function the dialplan ran, in order (channel, context, exten,
        priority, kind, name, args): what tests assert the dialplan did."""
        return self.dialplan.trace

    def executed(self, channel_prefix: str = "", kind: str = "app") -> list[Executed]:
        return [e for e in self.dialplan.trace if e.kind == kind and e.channel.startswith(channel_prefix)]

    def active_calls(self) -> int:
        return len(self.calls)

    def call_ended(self, call: Call) -> None:
        self.calls.discard(call)
        if call.req.channel_id:
            self.ended_answered[call.req.channel_id] = any(ch.up_at is not None for ch in call.legs.values())

    def queue(self, name: str) -> LabQueue:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = LabQueue(self, name, 0)
        return q

    def conference(self, name: str) -> Conference:
        c = self.conferences.get(name)
        if c is None:
            c = self.conferences[name] = Conference(self, name)
        return c

    # --- placing calls --------------------------------------------------------------------------
    def start_call(self, req: OriginateRequest) -> Call:
        call = Call(self, req)
        if req.channel_id:
            self.started_ids.append(req.channel_id)
        self.calls.add(call)
        if len(self.calls) > self.peak_calls:
            self.peak_calls = len(self.calls)
        call.task = self.loop.create_task(call.run())
        return call

    def inbound_call(self, caller: str, queue: str = "support", abandon_after: float | None = None) -> Call:
        """A simulated customer calls in and waits in `queue`; hangs up after `abandon_after` s (scaled)
        if no agent took the call. Returns the Call (`await call.done` for the end)."""
        req = OriginateRequest(exten=queue, context="sim-queue", application="Wait",
                               data=f"{abandon_after if abandon_after is not None else 3600:g}",
                               callerid=f'"{caller}" <{caller}>', source="inbound")
        return self.start_call(req)

    def random_callee(self) -> dict[str, str]:
        """Random mode: what one simulated PSTN callee does, drawn from the options' rates and
        times, as the lab-only variables sim-pstn acts out (branch `or`: ring SIM_RING_MS, answer,
        talk SIM_TALK_MS; or o2 busy, o3 no answer, o4 congestion, o5 unallocated). The
        Originate's (or Dial()'s) timeout still ends a ring that lasts longer."""
        o, r = self.options, self.rng.random()
        ring = self.rng.uniform(o.ring_min, o.ring_max)
        if r < o.answer_rate:
            talk = min(max(self.rng.expovariate(1.0 / o.talk_mean) if o.talk_mean > 0 else 0.0, o.talk_min), o.talk_max)
            return {"SIM_RANDOM": "r", "SIM_RING_MS": str(round(ring * 1000)), "SIM_TALK_MS": str(round(talk * 1000))}
        r -= o.answer_rate
        for outcome, rate in (("2", o.busy_rate), ("3", o.no_answer_rate), ("4", o.congestion_rate)):
            if r < rate:
                return {"SIM_RANDOM": outcome}
            r -= rate
        return {"SIM_RANDOM": "5"}

    # --- actions --------------------------------------------------------------------------------
    def originate_action(self, session: LabAmiConnection, m: wire.Message, aid) -> None:
        channel = (m.get("Channel") or "").strip()
        if not channel:
            session.write(wire.response(aid, "Error", "Channel not specified"))
            return
        timeout_s = m.get("Timeout")
        try:
            timeout = int(timeout_s) / 1000.0 if timeout_s not in (None, "") else 30.0
            if timeout <= 0:
                raise ValueError
        except ValueError:
            session.write(wire.response(aid, "Error", "Invalid timeout"))
            return
        prio_s = m.get("Priority")
        try:
            priority = int(prio_s) if prio_s not in (None, "") else 1
        except ValueError:
            session.write(wire.response(aid, "Error", "Invalid priority"))
            return
        if "/" not in channel:
            session.write(wire.response(aid, "Error", "Invalid channel"))
            return
        app = m.get("Application")
        if not app and not m.get("Exten"):
            session.write(wire.response(aid, "Error", "Originate requires Context/Exten/Priority or Application"))
            return
        fault = self.faults.take_originate_failure()
        if fault == "error":
            session.write(wire.response(aid, "Error", "Originate failed"))
            return
        variables: dict[str, str] = {}
        for header in m.get_all("Variable"):
            for item in re.split(r"(?<!\\),", header):
                k, sep, v = item.partition("=")
                if sep and k.strip():
                    variables[k.strip()] = v.replace("\\,", ",")
        local = _LOCAL.fullmatch(channel)
        req = OriginateRequest(
            exten=local.group(1) if local else "", context=local.group(2) if local else "",
            dest_context=m.get("Context") or "default", dest_exten=m.get("Exten") or "s", dest_priority=priority,
            application=app or None, data=m.get("Data") or "", channel_id=m.get("ChannelId") or None,
            other_channel_id=m.get("OtherChannelId") or None, variables=variables, callerid=m.get("CallerID"),
            timeout=timeout, account=m.get("Account") or "", action_id=aid, source="ami", requested_channel=channel)
        is_async = (m.get("Async") or "").strip().lower() in ("true", "yes", "1", "on")
        self.originates += 1
        if is_async:
            session.write(wire.response(aid, "Success", "Originate successfully queued"))
        if fault == "silent":
            return
        # Another technology, or a context the lab has no dialplan for, fails inside the call
        # (OriginateResponse Failure, Reason 0), as Asterisk's originate thread does.
        call = self.start_call(req)
        if not is_async:
            def answer(reason: int) -> None:
                if reason == 4:
                    session.write(wire.response(aid, "Success", "Originate successfully queued"))
                else:
                    session.write(wire.response(aid, "Error", "Originate failed"))
            call.on_response = answer

    def hangup_action(self, session: LabAmiConnection, m: wire.Message, aid) -> None:
        target = (m.get("Channel") or "").strip()
        if not target:
            session.write(wire.response(aid, "Error", "No channel specified"))
            return
        try:
            cause = int(m.get("Cause") or 16)
        except ValueError:
            cause = 16
        if len(target) > 2 and target.startswith("/") and target.endswith("/"):
            try:
                rx = re.compile(target[1:-1])
            except re.error:
                session.write(wire.response(aid, "Error", "Invalid regex"))
                return
            matched = [ch for ch in list(self.channels.values()) if rx.search(ch.name)]
            session.write(wire.list_ack(aid, "Channels hung up will follow"))
            for ch in matched:
                self._hangup_channel(ch, cause)
                session.write(wire.encode([("Event", "ChannelHungup"), ("Channel", ch.name), ("ActionID", aid or "")]))
            session.write(wire.encode([("Event", "ChannelsHungupListComplete"), ("EventList", "Complete"),
                                       ("ListItems", str(len(matched))), ("ActionID", aid or "")]))
            return
        ch = self.channels.get(target)
        if ch is None:
            session.write(wire.response(aid, "Error", "No such channel"))
            return
        self._hangup_channel(ch, cause)
        session.write(wire.response(aid, "Success", "Channel Hungup"))

    def _hangup_channel(self, ch: Channel, cause: int) -> None:
        call = ch.call
        if call is not None:
            call.request_hangup("ami", ch.leg if ch.leg in ("1", "2") else "1", cause)

    def coreshowchannels_action(self, session: LabAmiConnection, aid) -> None:
        idl = f"ActionID: {aid}\r\n" if aid is not None else ""
        out = [wire.list_ack(aid, "Channels will follow")]
        now = time.monotonic()
        chans = [c for c in self.channels.values() if c.alive]
        for ch in chans:
            secs = int((now - ch.created) / self.options.time_scale)
            dur = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
            out.append((f"Event: CoreShowChannel\r\n{idl}{ch.snapshot()}Application: {ch.app}\r\n"
                        f"ApplicationData: {ch.appdata}\r\nDuration: {dur}\r\nBridgeId: {ch.bridge_id}\r\n\r\n").encode())
        out.append(f"Event: CoreShowChannelsComplete\r\n{idl}EventList: Complete\r\nListItems: {len(chans)}\r\n\r\n".encode())
        session.write(b"".join(out))

    def status_action(self, session: LabAmiConnection, m: wire.Message, aid) -> None:
        """Action Status (every channel, or `Channel`), as Asterisk 22 words it
        (../shared/asterisk-22/ami_resync_during_call.txt): a reconnecting dialer reads who is Up."""
        idl = f"ActionID: {aid}\r\n" if aid is not None else ""
        wanted = (m.get("Channel") or "").strip()
        chans = [c for c in self.channels.values() if c.alive and (not wanted or c.name == wanted)]
        if wanted and not chans:
            session.write(wire.response(aid, "Error", "No such channel"))
            return
        out = [wire.list_ack(aid, "Channel status will follow")]
        now = time.monotonic()
        for ch in chans:
            secs = int((now - ch.created) / self.options.time_scale)
            out.append((f"Event: Status\r\nPrivilege: Call\r\n{ch.snapshot()}Type: Local\r\nDNID: \r\n"
                        f"EffectiveConnectedLineNum: {ch.conn_num}\r\nEffectiveConnectedLineName: {ch.conn_name}\r\n"
                        f"TimeToHangup: 0\r\nBridgeID: {ch.bridge_id}\r\nApplication: {ch.app}\r\nData: {ch.appdata}\r\n"
                        f"Nativeformats: (slin)\r\nReadformat: slin\r\nReadtrans: \r\nWriteformat: slin\r\nWritetrans: \r\n"
                        f"Callgroup: 0\r\nPickupgroup: 0\r\nSeconds: {secs}\r\n{idl}\r\n").encode())
        out.append(f"Event: StatusComplete\r\n{idl}EventList: Complete\r\nListItems: {len(chans)}\r\n"
                   f"Items: {len(chans)}\r\n\r\n".encode())
        session.write(b"".join(out))

    def getvar_action(self, session: LabAmiConnection, m: wire.Message, aid) -> None:
        """Action Getvar on a channel: the Originate's variables (and ATTEMPT_ID) as set."""
        name = (m.get("Variable") or "").strip()
        if not name:
            session.write(wire.response(aid, "Error", "No variable specified"))
            return
        target = (m.get("Channel") or "").strip()
        ch = self.channels.get(target) if target else None
        if target and (ch is None or not ch.alive):
            session.write(wire.response(aid, "Error", "No such channel"))
            return
        value = ""
        if ch is not None and ch.call is not None:
            value = ch.call.req.variables.get(name, "")
        session.write(wire.response(aid, "Success", None, [("Variable", name), ("Value", value)]))

    def _selected_queues(self, m: wire.Message) -> list[LabQueue]:
        name = m.get("Queue")
        if name:
            return [self.queues[name]] if name in self.queues else []
        return list(self.queues.values())

    def queuesummary_action(self, session: LabAmiConnection, m: wire.Message, aid) -> None:
        idl = f"ActionID: {aid}\r\n" if aid is not None else ""
        out = [wire.list_ack(aid, "Queue summary will follow")]
        queues = self._selected_queues(m)
        for q in queues:
            out.append((f"Event: QueueSummary\r\nQueue: {q.name}\r\nLoggedIn: {len(q.agents)}\r\nAvailable: {q.available()}\r\n"
                        f"Callers: {len(q.waiting)}\r\nHoldTime: {q.holdtime()}\r\nTalkTime: {q.talktime()}\r\n"
                        f"LongestHoldTime: {q.longest_hold()}\r\n{idl}\r\n").encode())
        out.append(f"Event: QueueSummaryComplete\r\n{idl}EventList: Complete\r\nListItems: {len(queues)}\r\n\r\n".encode())
        session.write(b"".join(out))

    def queuestatus_action(self, session: LabAmiConnection, m: wire.Message, aid) -> None:
        idl = f"ActionID: {aid}\r\n" if aid is not None else ""
        out = [wire.list_ack(aid, "Queue status will follow")]
        items = 0
        now = time.monotonic()
        for q in self._selected_queues(m):
            out.append((f"Event: QueueParams\r\nQueue: {q.name}\r\nMax: 0\r\nStrategy: {q.strategy}\r\nCalls: {len(q.waiting)}\r\n"
                        f"Holdtime: {q.holdtime()}\r\nTalkTime: {q.talktime()}\r\nCompleted: {q.completed}\r\n"
                        f"Abandoned: {q.abandoned}\r\nServiceLevel: 0\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\n"
                        f"Weight: 0\r\n{idl}\r\n").encode())
            items += 1
            member = m.get("Member")
            for a in q.agents:
                if member and member not in (a.name, a.interface):
                    continue
                out.append(f"Event: QueueMember\r\n{q.member_headers(a)}{idl}\r\n".encode())
                items += 1
            for pos, e in enumerate(q.waiting, 1):
                ch = e.channel
                wait = int((now - e.joined) / self.options.time_scale)
                out.append((f"Event: QueueEntry\r\nQueue: {q.name}\r\nPosition: {pos}\r\nChannel: {ch.name}\r\n"
                            f"Uniqueid: {ch.uniqueid}\r\nCallerIDNum: {ch.cid_num}\r\nCallerIDName: {ch.cid_name}\r\n"
                            f"ConnectedLineNum: {ch.conn_num}\r\nConnectedLineName: {ch.conn_name}\r\nWait: {wait}\r\n"
                            f"Priority: 0\r\n{idl}\r\n").encode())
                items += 1
        out.append(f"Event: QueueStatusComplete\r\n{idl}EventList: Complete\r\nListItems: {items}\r\n\r\n".encode())
        session.write(b"".join(out))


__all__ = ["LabPBX", "LAB_CONTEXTS"]

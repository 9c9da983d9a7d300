"""The dial engine: originate one call over the AMI and await its end, classified.

Correlation. Every attempt gets a ChannelId (= attempt id, a safe token) and OtherChannelId
(`<id>-b`). Asterisk uses them as the Uniqueids of the Local ;1 and ;2 legs, and every channel the
call creates (;2's Dial, queue agents, ...) carries Linkedid = ;1's Uniqueid = our id. So:
OriginateResponse is matched by ActionID; every other event by Linkedid (DestLinkedid on Dial*
events), falling back to Uniqueid for legs we know. Each lookup is one dict access.

End of a call. A call ends when its OriginateResponse has arrived and every leg seen has hung
up. Any order works: the OriginateResponse may come before the first Newchannel, between the
Hangups, or after all of them (the transcripts have each). A failed OriginateResponse with no leg
seen yet waits `settle` seconds for late Newchannels.

Never hangs, never dials twice. Deadlines: before the answer, ring timeout + `result_grace`
(Asterisk must have reported by then); after the answer, `max_call_seconds` (then we ask Asterisk
to hang the call up and give it `result_grace` to report). A call Asterisk never reports on ends
FAILED with `error` and `failure` saying why. An Originate is sent exactly once: the session never
re-sends (see ami.py) and neither does the engine.

AMI outages. A dropped link says nothing about the calls: Asterisk keeps them up. Calls in flight
stay open while the session reconnects (up to `outage_patience`, 15 min); after the reconnect
they are resynced with CoreShowChannels (../shared/asterisk-22/ami_resync_during_call.txt): a call
whose channels still exist is followed to its end, answered if its leg ;1 is Up (ChannelState 6,
answered no earlier than the drop and no earlier than its channel's Duration says); one whose
channels are gone ended during the outage and is resolved from the CDR when the engine has one
(`cdr`, uniqueid = attempt id), else it is UNKNOWN (failure `unknown`; ANSWERED with failure
`link_lost` when its answer was seen before the drop). Never FAILED: only a call proven not
answered is retried at its outcome's interval.

Safety. The first leg is always `Local/<digits>@<outbound_context>`, built here from a number that
passed `check_dial_number`; every other header value passes the checks of `autodialer.telephony.safety`
before anything is sent. Channel variables (plus ATTEMPT_ID, always set) are escaped for
Asterisk's argument parser so a value arrives exactly as given (see escape_variable_value).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone

from panoramisk.message import Message

from autodialer.telephony import amd
from autodialer.errors import UnsafeValueError
from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind
from autodialer.telephony.safety import ami_variable_escape, check_ami_header_count, check_ami_line, check_token
from autodialer.telephony.fields import check_ring_timeout, checked_call_fields
from autodialer.telephony.contract import CallSpec, KeywordOriginate
from autodialer.telephony.ami import AmiActionError, AmiConnectionError, AmiError, AmiSession, AmiTimeout
from autodialer.telephony.classify import cause_text, classify, meaningful_cause

# Outcomes of a call that was answered: they keep answered_at and the talk time.
ANSWERED_STATUSES = frozenset({CallStatus.ANSWERED, CallStatus.ABANDONED, CallStatus.MACHINE, CallStatus.MACHINE_MESSAGE})

DEFAULT_MAX_CALL_SECONDS = 3600.0
OUTAGE_PATIENCE_SECONDS = 900.0  # how long calls in flight wait for a lost AMI link to come back
CDR_SETTLE_SECONDS = 5.0  # a CDR row may be written a moment after the hangup: look twice

log = logging.getLogger("autodialer.engine")

# Headers every channel event carries: not part of what a UserEvent "reported".
_CHANNEL_HEADERS = frozenset(
    h.lower()
    for h in (
        "Event", "Privilege", "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
        "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority",
        "Uniqueid", "Linkedid", "SystemName", "Timestamp",
    )
)


# The escaping of `Variable:` values for Asterisk's argument parser lives with the other wire rules.
escape_variable_value = ami_variable_escape

# The field an Originate header carries, for refusals that name it.
_HEADER_FIELD = {"Channel": "number", "Data": "data", "CallerID": "caller_id", "Account": "account"}


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc)


def _duration(value) -> float | None:
    """CoreShowChannel's Duration, HH:MM:SS, in seconds."""
    try:
        h, m, sec = (int(x) for x in str(value).split(":"))
    except (TypeError, ValueError):
        return None
    return float(h * 3600 + m * 60 + sec)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def user_event_fields(event: Message) -> dict[str, str]:
    """What the dialplan put in a UserEvent: its name and body, without the channel headers.
    (A body key that repeats a channel header, e.g. `Exten`, arrives as a second value.)"""
    out: dict[str, str] = {}
    for key, value in event.items():
        if key == "content" and not value:
            continue  # panoramisk stores a (here empty) message body under this key
        if isinstance(value, list):
            if key.lower() in _CHANNEL_HEADERS:
                if len(value) < 2:
                    continue
                value = value[-1]
            else:
                value = ",".join(value)
        elif key.lower() in _CHANNEL_HEADERS:
            continue
        out[key] = value
    return out


class _Call:
    """The state of one attempt while it is in flight (internal)."""

    __slots__ = (
        "attempt_id", "number", "channel_id", "other_channel_id", "action_id", "future", "legs", "alive",
        "causes", "cause_txts", "reason", "response_seen", "dial_status", "result_dial_status", "result_cause",
        "channel", "queued_at", "answered_at", "ended_at", "events", "error", "timer", "lost", "hangup_sent",
        "ring_timeout", "max_call_seconds", "ringing_at", "stopped", "accepted", "disconnected_at",
        "amd_at",
    )

    def __init__(self, attempt_id: str, number: str, ring_timeout: float, max_call_seconds: float):
        self.attempt_id = attempt_id
        self.number = number
        self.channel_id = attempt_id
        self.other_channel_id = f"{attempt_id}-b"
        self.action_id: str | None = None
        self.future: asyncio.Future | None = None
        self.legs: dict[str, bool] = {}  # Uniqueid -> still up
        self.alive = 0
        self.causes: list[int] = []
        self.cause_txts: dict[int, str] = {}
        self.reason: int | None = None
        self.response_seen = False
        self.dial_status: str | None = None
        self.result_dial_status: str | None = None
        self.result_cause: int | None = None
        self.channel: str | None = None
        self.queued_at: float | None = None
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.events: list[dict[str, str]] = []
        self.error: str | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.lost = False
        self.hangup_sent = False
        self.ring_timeout = ring_timeout
        self.max_call_seconds = max_call_seconds
        self.ringing_at: float | None = None  # when leg ;1 reported Ringing (monotonic)
        self.stopped: str | None = None  # why we ended it while it was ringing (stop_ringing)
        self.accepted = False  # Asterisk answered the Originate "successfully queued"
        self.disconnected_at: float | None = None  # when the AMI link dropped under it (epoch seconds)
        self.amd_at: float | None = None  # when AMD's verdict (UserEvent DialerAMD) arrived (epoch seconds)


class DialEngine(KeywordOriginate):
    """Places calls through one AmiSession; many calls may be in flight at once (an Engine,
    autodialer.telephony.contract)."""

    def __init__(
        self,
        session: AmiSession,
        *,
        outbound_context: str = "dialer-outbound",
        default_ring_timeout: float = 30.0,
        result_grace: float = 5.0,
        settle: float = 0.25,
        max_call_seconds: float = DEFAULT_MAX_CALL_SECONDS,
        outage_patience: float = OUTAGE_PATIENCE_SECONDS,
        cdr=None,
    ):
        """`cdr`: a CdrReader (autodialer.telephony.cdr) on Asterisk's CDR table, to resolve calls
        that ended while the AMI link was down; None: they end UNKNOWN."""
        self.session = session
        self.outage_patience = outage_patience
        self.cdr = cdr
        self._resolving: set[asyncio.Task] = set()
        self.outbound_context = check_token(outbound_context, field="outbound_context")
        self.default_ring_timeout = default_ring_timeout
        self.result_grace = result_grace
        self.settle = settle
        self.max_call_seconds = max_call_seconds
        self._by_action: dict[str, _Call] = {}
        self._by_id: dict[str, _Call] = {}  # ChannelId/Linkedid and every known leg Uniqueid -> call
        self._calls: dict[str, _Call] = {}  # attempt id -> call in flight
        self.originates_sent = 0
        session.subscribe("*", self._on_event)
        session.on_disconnect(self._on_disconnect)
        session.on_reconnect(self._on_reconnect)
        self._resync_task: asyncio.Task | None = None

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    # -- building the Originate ---------------------------------------------------------------
    def build_originate(
        self,
        number: str,
        *,
        attempt_id: str,
        context: str | None,
        exten: str = "s",
        priority: int = 1,
        application: str | None = None,
        data: str | None = None,
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
        ring_timeout: float,
        account: str | None = None,
        outbound_context: str | None = None,
    ) -> dict[str, str | list[str]]:
        """The Originate headers for one attempt, every value checked (UnsafeValueError).
        `outbound_context` overrides the engine's for this call (click-to-call rings the operator
        first: Local/<extension>@dialer-operators)."""
        check_token(attempt_id, field="attempt_id")
        f = checked_call_fields(
            number, outbound_context=self.outbound_context if outbound_context is None else outbound_context,
            context=context, exten=exten, priority=priority, application=application, data=data,
            caller_id=caller_id, account=account, variables=variables, attempt_id=attempt_id,
        )
        headers: dict[str, str | list[str]] = {"Channel": f.channel}
        if f.application is not None:
            headers["Application"] = f.application
            if f.data is not None:
                headers["Data"] = f.data
        else:
            headers.update(Context=f.context, Exten=f.exten, Priority=str(f.priority))
        check_ring_timeout(ring_timeout)
        headers["Timeout"] = str(max(1, int(ring_timeout * 1000)))
        headers["ChannelId"] = attempt_id
        headers["OtherChannelId"] = f"{attempt_id}-b"
        if f.caller_id is not None:
            headers["CallerID"] = f.caller_id
        if f.account is not None:
            headers["Account"] = f.account
        headers["Variable"] = [f"{k}={escape_variable_value(v)}" for k, v in f.variables.items()]
        # Bytes as Asterisk counts them: a line it would discard would lose the whole Originate.
        for key, value in headers.items():
            if key == "Variable":
                for name, line in zip(f.variables, value):
                    check_ami_line(key, line, field=f"variable {name}")
            else:
                check_ami_line(key, value, field=_HEADER_FIELD.get(key, key))
        check_ami_header_count(len(headers) - 1 + len(headers["Variable"]) + 3, what="Originate")  # + Action, ActionID, Async
        return headers

    # -- placing a call -----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.session.connected

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the session's reconnect (if any) has succeeded (AmiConnectionError after `timeout`)."""
        await self.session.wait_connected(timeout=timeout)

    async def place(self, spec: CallSpec) -> CallResult:
        """Originate one call and await its end (all legs hung up, or failure). `originate(number,
        **fields)` is the same with the CallSpec's fields as keywords.

        Raises UnsafeValueError (nothing sent) for bad input, AmiConnectionError when the session
        is not connected (nothing sent). Every other outcome is a CallResult, FAILED with `error`
        when Asterisk refused, never reported, or the connection was lost."""
        number, max_call_seconds = spec.number, spec.max_call_seconds
        ring_timeout = self.default_ring_timeout if spec.ring_timeout is None else spec.ring_timeout
        attempt_id = spec.attempt_id or uuid.uuid4().hex
        headers = self.build_originate(
            number, attempt_id=attempt_id, context=spec.context, exten=spec.exten, priority=spec.priority,
            application=spec.application, data=spec.data, variables=spec.variables, caller_id=spec.caller_id,
            ring_timeout=ring_timeout, account=spec.account, outbound_context=spec.outbound_context,
        )
        if attempt_id in self._calls or attempt_id in self._by_id or f"{attempt_id}-b" in self._by_id:
            raise UnsafeValueError(f"attempt_id: {attempt_id!r} is already in flight")
        call = _Call(attempt_id, number, ring_timeout, self.max_call_seconds if max_call_seconds is None else max_call_seconds)
        loop = asyncio.get_running_loop()
        call.future = loop.create_future()
        action_id = self.session.next_action_id()
        headers["ActionID"] = action_id
        call.action_id = action_id
        # Register before sending: events may arrive before the "queued" response is read.
        self._calls[attempt_id] = call
        self._by_action[action_id] = call
        self._by_id[call.channel_id] = call
        self._by_id[call.other_channel_id] = call
        try:
            _, response_future = self.session.send_action_nowait({"Action": "Originate", **headers})
        except AmiConnectionError:
            self._forget(call)  # nothing was sent
            raise
        self.originates_sent += 1
        call.queued_at = time.time()  # sent now; all of the call's events may be read before the response is
        try:
            response = await self.session.wait_response(action_id, response_future, "Originate")
            if response.get("Response") != "Success":
                raise AmiActionError(f"Originate refused: {response.get('Message') or response.get('Response')}", response)
            call.accepted = True
        except AmiActionError as exc:
            self._finish(call, error=str(exc), status=CallStatus.FAILED, failure=FailureKind.REFUSED)
        except AmiConnectionError:
            # It may or may not have reached Asterisk: resync after the reconnect, never re-send.
            call.lost = True
            call.disconnected_at = call.disconnected_at or time.time()
            call.error = "connection lost"
        except AmiTimeout as exc:
            call.error = str(exc)  # Asterisk may still report on it: wait until the deadline
        finally:
            # Also when the caller is cancelled: the call is out there, track it to its end.
            if not call.future.done() and call.timer is None:
                self._arm(call, self.outage_patience if call.lost else ring_timeout + self.result_grace)
        # shield: cancelling the caller must not cancel the bookkeeping of a call in flight.
        return await asyncio.shield(call.future)

    # -- ending calls that still ring (predictive pacing) ----------------------------------------
    def ringing_for(self, attempt_id: str) -> float | None:
        """Seconds the call `attempt_id` has been ringing (its leg ;1 reported Ringing and it is
        not answered), else None: not ours, not ringing yet, answered or over."""
        call = self._calls.get(attempt_id)
        if call is None or call.ringing_at is None or call.answered_at is not None or call.stopped or call.lost:
            return None
        return time.monotonic() - call.ringing_at

    def stop_ringing(self, attempt_id: str, why: str) -> bool:
        """End a call that is still ringing: Hangup on its leg ;1 with cause 19 (no answer), the
        result NO_ANSWER with `why`. False (nothing sent) if it is not ringing now. Should the
        callee pick up as the Hangup travels, the result is ABANDONED: that is what they got."""
        rang = self.ringing_for(attempt_id)
        call = self._calls.get(attempt_id)
        if rang is None or not call.channel or not self.session.connected:
            return False
        try:
            self.session.send_action_forget({"Action": "Hangup", "Channel": call.channel, "Cause": "19"})
        except AmiError:
            return False
        call.stopped = f"stopped ringing after {rang:.3g} s: {why}"
        return True

    # -- following a call another run placed ----------------------------------------------------
    async def live_channels(self) -> dict[str, list[dict[str, str]]]:
        """The PBX's channels now (CoreShowChannels), grouped by Linkedid: our calls' legs all
        carry the attempt id there. Raises AmiError when the PBX cannot be asked."""
        listing = await self.session.send_action({"Action": "CoreShowChannels"}, as_list=True)
        out: dict[str, list[dict[str, str]]] = {}
        for item in listing if isinstance(listing, list) else []:
            if item.get("Event") != "CoreShowChannel":
                continue
            key = item.get("Linkedid") or item.get("Uniqueid")
            if key:
                out.setdefault(key, []).append({k: str(v) for k, v in item.items()})
        return out

    async def live_calls(self) -> dict[str, tuple["DialEngine", list[dict[str, str]]]]:
        """`live_channels` with the engine that sees each call, the shape an EnginePool gives:
        what the recovery of dead runs' attempts (autodialer.dialer.recovery) asks any engine for."""
        return {key: (self, items) for key, items in (await self.live_channels()).items()}

    async def follow(self, attempt_id: str, number: str, channels: list[Mapping[str, str]], *,
                     ring_timeout: float, max_call_seconds: float | None = None) -> CallResult:
        """Follow to its end a call whose run died (its channels, from `live_channels`, are still
        up): its legs are registered as if we had placed it, and its events classify it as usual.
        Leg ;1 Up (ChannelState 6) means the callee answered. Nothing is sent to the PBX."""
        check_token(attempt_id, field="attempt_id")
        if attempt_id in self._calls:
            raise UnsafeValueError(f"attempt_id: {attempt_id!r} is already in flight")
        call = _Call(attempt_id, number, ring_timeout, self.max_call_seconds if max_call_seconds is None else max_call_seconds)
        call.future = asyncio.get_running_loop().create_future()
        call.response_seen = True  # the OriginateResponse went to the dead run's session
        call.queued_at = time.time()
        self._calls[attempt_id] = call
        self._by_id[call.channel_id] = call
        self._by_id[call.other_channel_id] = call
        for item in channels:
            uid = item.get("Uniqueid")
            if not uid or uid in call.legs:
                continue
            call.legs[uid] = True
            call.alive += 1
            self._by_id[uid] = call
            if uid == call.channel_id:
                call.channel = item.get("Channel")
                if call.channel:
                    self._by_id[call.channel] = call
                if item.get("ChannelState") == "6" or item.get("ChannelStateDesc") == "Up":
                    call.answered_at = time.time()  # answered by now: talk is counted from here
        # A leg may have hung up between the listing and the registration: ask again.
        try:
            still = {i.get("Uniqueid") for items in (await self.live_channels()).values() for i in items}
        except AmiError:
            still = set(call.legs)
        for uid, up in list(call.legs.items()):
            if up and uid not in still:
                call.legs[uid] = False
                call.alive -= 1
        if call.alive == 0:
            self._finish(call)
        elif call.answered_at is not None:
            self._arm(call, call.max_call_seconds)
        else:
            self._arm(call, ring_timeout + self.result_grace)
        return await asyncio.shield(call.future)

    # -- timers ---------------------------------------------------------------------------------
    def _arm(self, call: _Call, delay: float) -> None:
        if call.timer is not None:
            call.timer.cancel()
        call.timer = asyncio.get_running_loop().call_later(delay, self._deadline, call)

    def _arm_within(self, call: _Call, delay: float) -> None:
        """Make sure the deadline is at most `delay` away (never push it later)."""
        if call.timer is None or call.timer.when() > asyncio.get_running_loop().time() + delay:
            self._arm(call, delay)

    def _deadline(self, call: _Call) -> None:
        call.timer = None
        if call.future.done():
            return
        if call.lost:
            self._resolve_later(call)  # the link stayed down for outage_patience: ask the CDR
        elif call.response_seen and call.alive == 0:
            self._finish(call)  # failed OriginateResponse, no leg ever showed up: settle is over
        elif call.legs and call.alive == 0:
            self._finish(call, error="no OriginateResponse after every leg hung up", failure=FailureKind.NO_REPORT)
        elif call.response_seen and call.legs.get(call.channel_id) is False:
            # Leg ;1 is gone and a Local ;2 never outlives it: the call is over, whichever
            # straggler's Hangup we missed (a resynced call's ;2 may end unseen).
            self._finish(call)
        elif call.answered_at is not None:
            if not call.hangup_sent and self.session.connected:
                # Over max_call_seconds: ask Asterisk to end it, give it result_grace to report.
                call.hangup_sent = True
                if call.channel:
                    try:
                        self.session.send_action_forget({"Action": "Hangup", "Channel": call.channel, "Cause": "16"})
                    except AmiError:
                        pass
                self._arm(call, self.result_grace)
                return
            self._finish(call, error=f"no hangup reported within max_call_seconds={call.max_call_seconds:g}s",
                         status=CallStatus.FAILED, failure=FailureKind.NO_REPORT)
        elif call.response_seen:
            self._finish(call, error="legs still up after the OriginateResponse; gave up waiting for their Hangup",
                         failure=FailureKind.NO_REPORT)
        else:
            self._finish(
                call,
                error=call.error or f"no OriginateResponse within ring timeout {call.ring_timeout:g}s + grace {self.result_grace:g}s",
                status=CallStatus.FAILED, failure=FailureKind.NO_REPORT,
            )

    def _on_disconnect(self, why: str) -> None:
        """The link dropped: nothing is known of the calls now, and Asterisk keeps them up. They
        wait (up to outage_patience) for the reconnect's resync instead of their ring deadline."""
        now = time.time()
        comes_back = getattr(self.session, "reconnect", True) and not getattr(self.session, "closing", False)
        for call in list(self._calls.values()):
            if not call.future.done():
                call.lost = True
                call.disconnected_at = call.disconnected_at or now
                if comes_back:
                    self._arm(call, self.outage_patience)
                else:  # a session that does not reconnect will never show it again
                    self._resolve_later(call)

    def _on_reconnect(self) -> None:
        if any(call.lost for call in self._calls.values()):
            self._resync_task = asyncio.get_running_loop().create_task(self._resync())

    async def _resync(self) -> None:
        """After a reconnect, ask Asterisk which channels exist (field notes: resync before
        dialing on). A lost call with a live channel is followed again to its end (answered if
        its leg ;1 is Up); one with no channel left ended while we were away: resolved from the
        CDR, else UNKNOWN. If the listing fails, the calls stay lost until the next reconnect or
        their patience runs out."""
        try:
            listing = await self.session.send_action({"Action": "CoreShowChannels"}, as_list=True)
        except AmiError as exc:
            log.warning("resync after the AMI reconnect failed: %s", exc)
            return
        channels: dict[str, Message] = {}
        by_linkedid: dict[str, list[str]] = {}
        for item in listing if isinstance(listing, list) else []:
            if item.get("Event") != "CoreShowChannel" or not item.get("Uniqueid"):
                continue
            channels[item["Uniqueid"]] = item
            by_linkedid.setdefault(item.get("Linkedid") or "", []).append(item["Uniqueid"])
        now = time.time()
        for call in list(self._calls.values()):
            if call.lost and not call.future.done():
                self._resync_call(call, channels, by_linkedid, now)

    def _resync_call(self, call: _Call, channels: dict[str, Message], by_linkedid: dict[str, list[str]], now: float) -> None:
        listed = set(by_linkedid.get(call.channel_id, ()))
        listed.update(uid for uid in (call.channel_id, call.other_channel_id, *call.legs) if uid in channels)
        for uid, up in list(call.legs.items()):
            if up and uid not in listed:  # hung up while we were away
                call.legs[uid] = False
                call.alive -= 1
        for uid in listed:
            if not call.legs.get(uid):  # a leg whose Newchannel we missed, or thought gone
                call.legs[uid] = True
                call.alive += 1
                self._by_id[uid] = call
        if not listed:
            self._resolve_later(call)  # every channel is gone: it ended during the outage
            return
        call.lost = False
        call.error = None
        leg1 = channels.get(call.channel_id)
        if leg1 is not None:
            call.channel = call.channel or leg1.get("Channel")
            if call.channel:
                self._by_id[call.channel] = call
            state = leg1.get("ChannelState")
            if state == "6" and call.answered_at is None:
                # Answered during the outage: not before the drop (we would have seen it), not
                # before the channel existed (its Duration).
                age = _duration(leg1.get("Duration"))
                earliest = call.disconnected_at or call.queued_at or now
                call.answered_at = max(earliest, now - age) if age is not None else earliest
                call.response_seen = True  # its OriginateResponse (Reason 4) went out while we were away
                call.reason = 4 if call.reason is None else call.reason
            elif state == "5" and call.ringing_at is None:
                call.ringing_at = time.monotonic()
        if call.answered_at is not None:
            self._arm(call, max(self.result_grace, call.answered_at + call.max_call_seconds - now))
        else:
            self._arm(call, max(self.result_grace, (call.queued_at or now) + call.ring_timeout + self.result_grace - now))

    def _resolve_later(self, call: _Call) -> None:
        if call.future.done():
            return
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        task = asyncio.get_running_loop().create_task(self._resolve_offline(call))
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    async def _resolve_offline(self, call: _Call) -> None:
        """A call that ended where the AMI could not show us: the CDR says how, or it is UNKNOWN
        (ANSWERED if we saw its answer). With a CDR, no channel and no CDR row for an Originate
        Asterisk never acknowledged means it never got there: not sent."""
        outcome, cdr_ok = None, False
        if self.cdr is not None:
            for look in range(2):
                try:
                    outcome = await asyncio.to_thread(self.cdr.outcome, call.attempt_id)
                    cdr_ok = True
                except Exception as exc:
                    log.warning("reading the CDR for attempt %s failed: %s", call.attempt_id, exc)
                    cdr_ok = False
                if outcome is not None or look or call.future.done():
                    break
                await asyncio.sleep(CDR_SETTLE_SECONDS)
        if call.future.done():
            return
        if outcome is not None:
            self._finish_with(call, outcome.status, error=f"ended during an AMI outage; the CDR says {outcome.disposition}",
                              answered_at=outcome.answered_at, ended_at=outcome.ended_at, talk_seconds=outcome.talk_seconds)
        elif cdr_ok and not call.accepted and not call.legs:
            self._finish_with(call, CallStatus.FAILED, failure=FailureKind.NOT_SENT,
                              error="the Originate never reached Asterisk (no channel, no CDR row)")
        elif call.answered_at is not None:
            self._finish_with(call, CallStatus.ANSWERED, failure=FailureKind.LINK_LOST,
                              error="answered; ended during an AMI outage (end time unknown)",
                              answered_at=_utc(call.answered_at), ended_at=_utc(call.ended_at))
        else:
            self._finish_with(call, CallStatus.UNKNOWN, failure=FailureKind.UNKNOWN,
                              error="ended during an AMI outage; no CDR to say how")

    # -- events -----------------------------------------------------------------------------
    def _on_event(self, event: Message) -> None:
        name = event.get("Event")
        if name == "OriginateResponse":
            call = self._by_action.get(event.get("ActionID"))
            if call is not None:
                self._on_originate_response(call, event)
            return
        by_id = self._by_id
        call = by_id.get(event.get("Linkedid")) or by_id.get(event.get("DestLinkedid")) or by_id.get(event.get("Uniqueid"))
        if call is None:
            # Trimmed events (e.g. a DialEnd with DestChannel only): match ;1 by its channel name.
            call = by_id.get(event.get("DestChannel")) or by_id.get(event.get("Channel"))
            if call is None:
                return
        uniqueid = event.get("Uniqueid")
        if name == "Newchannel":
            if uniqueid and uniqueid not in call.legs:
                call.legs[uniqueid] = True
                call.alive += 1
                by_id[uniqueid] = call
                if uniqueid == call.channel_id:
                    call.channel = event.get("Channel")
                    if call.channel:
                        by_id[call.channel] = call
                if call.timer is not None and call.response_seen and call.answered_at is None:
                    # A failed OriginateResponse came first: now wait for this leg's Hangup.
                    self._arm(call, self.result_grace)
        elif name == "Hangup":
            if call.legs.get(uniqueid):
                call.legs[uniqueid] = False
                call.alive -= 1
            elif uniqueid not in call.legs:
                call.legs[uniqueid] = False  # its Newchannel was missed (e.g. during a reconnect)
            cause = _int(event.get("Cause"))
            if cause is not None:
                call.causes.append(cause)
                txt = event.get("Cause-txt")
                if txt and cause not in call.cause_txts:
                    call.cause_txts[cause] = txt
            call.ended_at = time.time()
            if call.alive == 0:
                if call.response_seen:
                    self._finish(call)
                else:
                    # Every leg is gone: the OriginateResponse is due now, not at the ring deadline.
                    self._arm_within(call, self.result_grace)
            elif uniqueid == call.channel_id and call.response_seen:
                self._arm_within(call, self.result_grace)  # the other legs follow ;1 at once
        elif name == "Newstate":
            if uniqueid == call.channel_id:
                state = event.get("ChannelStateDesc")
                if state == "Up" and call.answered_at is None:
                    self._answered(call)
                elif state == "Ringing" and call.ringing_at is None:
                    call.ringing_at = time.monotonic()
        elif name == "DialEnd":
            if event.get("DestUniqueid") == call.channel_id or (call.channel and event.get("DestChannel") == call.channel):
                call.dial_status = event.get("DialStatus") or None
        elif name == "UserEvent":
            fields = user_event_fields(event)
            call.events.append(fields)
            if fields.get("UserEvent") == "DialResult":
                call.result_dial_status = fields.get("DialStatus") or None
                call.result_cause = _int(fields.get("HangupCause"))
            elif fields.get("UserEvent") == amd.EVENT and call.amd_at is None:
                call.amd_at = time.time()

    def _answered(self, call: _Call) -> None:
        call.answered_at = time.time()
        self._arm(call, call.max_call_seconds)

    def _on_originate_response(self, call: _Call, event: Message) -> None:
        call.response_seen = True
        call.reason = _int(event.get("Reason"))
        channel = event.get("Channel")
        if channel and channel.endswith(";1"):
            call.channel = channel
        if call.reason == 4 and event.get("Response") == "Success":
            if call.answered_at is None:
                self._answered(call)
        if call.alive == 0:
            if call.legs:
                self._finish(call)  # every leg already hung up
            else:
                self._arm(call, self.settle)  # failed before any Newchannel reached us: let them arrive
        elif call.answered_at is None:
            self._arm(call, self.result_grace)  # failed: the legs are hanging up now

    # -- the end ------------------------------------------------------------------------------
    def _forget(self, call: _Call) -> None:
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        self._calls.pop(call.attempt_id, None)
        self._by_action.pop(call.action_id, None)
        for uid in call.legs:
            self._by_id.pop(uid, None)
        self._by_id.pop(call.channel_id, None)
        self._by_id.pop(call.other_channel_id, None)
        if call.channel and self._by_id.get(call.channel) is call:
            del self._by_id[call.channel]

    def _finish_with(self, call: _Call, status: CallStatus, *, error: str, failure: FailureKind | None = None,
                     answered_at: datetime | None = None, ended_at: datetime | None = None,
                     talk_seconds: float | None = None) -> None:
        """End a call with what another source (the CDR, or nothing) says, not its events."""
        if call.future.done():
            return
        self._forget(call)
        call.future.set_result(CallResult(
            attempt_id=call.attempt_id, number=call.number, status=status, reason=call.reason,
            dial_status=call.result_dial_status or call.dial_status, channel_id=call.channel_id,
            other_channel_id=call.other_channel_id, channel=call.channel, action_id=call.action_id,
            queued_at=_utc(call.queued_at), answered_at=answered_at, ended_at=ended_at, talk_seconds=talk_seconds,
            events=call.events, error=error, stopped=call.stopped is not None, failure=failure,
        ))

    def _finish(self, call: _Call, *, error: str | None = None, status: CallStatus | None = None,
                failure: FailureKind | None = None) -> None:
        if call.future.done():
            return
        self._forget(call)
        if status is None and call.stopped and not error:
            # We hung it up while it rang: a no-answer whatever the leg's cause says, unless the
            # callee answered first (then they heard a hang-up: abandoned).
            status = CallStatus.ABANDONED if call.answered_at is not None else CallStatus.NO_ANSWER
            error = call.stopped
            if status is CallStatus.NO_ANSWER:
                failure = FailureKind.STOPPED_RINGING
        verdict = amd.verdict(call.events)
        if status is None:
            status = classify(
                call.reason,
                call.causes,
                call.dial_status,
                answered=call.answered_at is not None,
                result_dial_status=call.result_dial_status,
                result_cause=call.result_cause,
                # predictive pacing: the dialplan found no operator within 2 s and said sorry
                abandoned=any(e.get("UserEvent") == "DialerAbandoned" for e in call.events),
                amd_verdict=verdict,
            )
        cause = meaningful_cause(status, call.causes, result_cause=call.result_cause) if call.causes or call.result_cause else None
        ended = call.ended_at if call.ended_at is not None and not error else time.time()
        answered = call.answered_at if status in ANSWERED_STATUSES else None
        result = CallResult(
            attempt_id=call.attempt_id,
            number=call.number,
            status=status,
            reason=call.reason,
            cause=cause,
            cause_txt=(call.cause_txts.get(cause) or cause_text(cause)) if cause is not None else None,
            dial_status=call.result_dial_status or call.dial_status,
            channel_id=call.channel_id,
            other_channel_id=call.other_channel_id,
            channel=call.channel,
            action_id=call.action_id,
            queued_at=_utc(call.queued_at),
            answered_at=_utc(answered),
            ended_at=_utc(ended),
            talk_seconds=round(max(0.0, ended - answered), 3) if answered is not None else None,
            events=call.events,
            error=error if error is not None else (call.error if status is CallStatus.FAILED else None),
            stopped=call.stopped is not None,
            failure=failure,
        )
        if verdict is not None:
            result.amd_status, result.amd_cause, result.amd_action = verdict.status, verdict.cause, verdict.action
            if call.amd_at is not None and call.answered_at is not None:
                result.amd_seconds = round(max(0.0, call.amd_at - call.answered_at), 3)
        call.future.set_result(result)

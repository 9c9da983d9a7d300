"""One AMI connection: framing, login, the actions the dialer uses, and batched event writes.

Outgoing bytes are queued and written once per event-loop turn (one write per batch); nothing is
logged per event. Replies follow Asterisk 22's wording and header order (see the transcripts).
"""

from __future__ import annotations

import asyncio
import re
import time

from autodialer.lab import wire

EVENT_CLASSES = {"system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf", "reporting", "cdr",
                 "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message"}


class LabAmiConnection(asyncio.Protocol):
    """The lab's side of one AMI client connection (the server end; the dialer's client is
    autodialer.telephony.ami.AmiSession)."""

    def __init__(self, pbx):
        self.pbx = pbx
        self.parser = wire.FrameParser()
        self.transport: asyncio.Transport | None = None
        self.authenticated = False
        self.events_mask: set[str] | None = None  # None = all classes ("on")
        self.filters: list[tuple[bool, re.Pattern]] = []
        self.actions = 0
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._pending: list[wire.Message] = []  # actions held while stalled
        self._resume_handle = None
        self.closed = False
        self._refused = False  # a failed login: Asterisk reads nothing more

    # --- transport ------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.pbx.sessions.add(self)
        self.write(wire.BANNER)

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.pbx.sessions.discard(self)
        if self._resume_handle:
            self._resume_handle.cancel()

    def data_received(self, data: bytes) -> None:
        self._pending.extend(self.parser.feed(data))
        if self.parser.warnings:
            self.pbx.warnings.extend(self.parser.warnings)
            self.parser.warnings.clear()
        self._process()

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.pbx.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.closed or not self._out:
            return
        stall = self.pbx.faults.stall_remaining()
        if stall > 0:  # a stalled PBX sends nothing; what piled up goes out afterwards
            self._flush_scheduled = True
            self.pbx.loop.call_later(stall, self._flush)
            return
        data = b"".join(self._out)
        self._out.clear()
        self.transport.write(data)

    def drop(self) -> None:
        """Reset the connection (fault injection, protocol errors)."""
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()

    def close_after_flush(self) -> None:
        self._flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # --- events -----------------------------------------------------------------------------------
    def wants(self, priv: str, data: bytes) -> bool:
        if not self.authenticated:
            return False
        if self.events_mask is not None and priv not in self.events_mask:
            return False
        if self.filters:
            text = data.decode("utf-8", "replace")
            includes = [rx for inc, rx in self.filters if inc]
            if includes and not any(rx.search(text) for rx in includes):
                return False
            if any(rx.search(text) for inc, rx in self.filters if not inc):
                return False
        return True

    # --- actions ----------------------------------------------------------------------------------
    def _process(self) -> None:
        if self._refused:
            self._pending.clear()
            return
        while self._pending and not self.closed and not self._refused:
            stall = self.pbx.faults.stall_remaining()
            if stall > 0:
                if self._resume_handle is None:
                    self._resume_handle = self.pbx.loop.call_later(stall, self._resume)
                return
            m = self._pending.pop(0)
            self.actions += 1
            self.handle(m)
            limit = self.pbx.faults.drop_after_actions
            if limit is not None and self.actions >= limit:
                self._flush()
                self.drop()
                return

    def _resume(self) -> None:
        self._resume_handle = None
        self._process()

    def handle(self, m: wire.Message) -> None:
        action = (m.get("Action") or "").strip()
        aid = m.get("ActionID")
        if m.error is not None:  # Asterisk answers a message it could not parse, never runs it
            self.write(wire.response(aid, "Error", m.error))
            return
        if not action:
            self.write(wire.response(aid, "Error", "Missing action in request"))
            return
        name = action.lower()
        if not self.authenticated and name not in ("login", "logoff", "challenge"):
            self.write(wire.response(aid, "Error", "Permission denied"))
            return
        handler = getattr(self, f"do_{name}", None)
        if handler is None:
            self.write(wire.response(aid, "Error", "Invalid/unknown command"))
            return
        handler(m, aid)

    def do_login(self, m, aid) -> None:
        opts = self.pbx.options
        if self.authenticated:
            self.write(wire.response(aid, "Success", "Already authenticated"))
            return
        ok = m.get("Username") == opts.username and m.get("Secret") == opts.secret
        if ok and self.pbx.faults.take_login_refusal():
            ok = False
        if not ok:
            # Asterisk waits a second, answers, and closes the session.
            self._pending.clear()
            self.pbx.loop.call_later(min(1.0, 1.0 * opts.time_scale), self._login_failed, aid)
            self._refused = True
            return
        self.authenticated = True
        self._set_events(m.get("Events"))
        self.write(wire.response(aid, "Success", "Authentication accepted"))

    def _login_failed(self, aid) -> None:
        self.write(wire.response(aid, "Error", "Authentication failed"))
        self.close_after_flush()

    def do_challenge(self, m, aid) -> None:
        self.write(wire.response(aid, "Error", "Must specify AuthType"))

    def do_logoff(self, m, aid) -> None:
        self.write(wire.response(aid, "Goodbye", "Thanks for all the fish."))
        self.close_after_flush()

    def do_ping(self, m, aid) -> None:
        self.write(wire.response(aid, "Success", None, [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]))

    def _set_events(self, value: str | None) -> str:
        if value is None:
            return "On" if self.events_mask != set() else "Off"
        v = value.strip().lower()
        if v in ("on", "yes", "true", "all"):
            self.events_mask = None
        elif v in ("off", "no", "false", "none", ""):
            self.events_mask = set()
        else:
            self.events_mask = {c.strip() for c in v.split(",") if c.strip() in EVENT_CLASSES}
        return "Off" if self.events_mask == set() else "On"

    def do_events(self, m, aid) -> None:
        state = self._set_events(m.get("EventMask") or "off")
        self.write(wire.response(aid, "Success", None, [("Events", state)]))

    def do_filter(self, m, aid) -> None:
        op = (m.get("Operation") or "Add").lower()
        flt = m.get("Filter") or ""
        if op != "add" or not flt:
            self.write(wire.response(aid, "Error", "Unknown operation" if op != "add" else "Filter must be specified"))
            return
        include = not flt.startswith("!")
        try:
            rx = re.compile(flt if include else flt[1:])
        except re.error:
            self.write(wire.response(aid, "Error", "Filter Not Added"))
            return
        self.filters.append((include, rx))
        self.write(wire.response(aid, "Success", "Filter Added Successfully"))

    def do_userevent(self, m, aid) -> None:
        name = m.get("UserEvent")
        if not name:
            self.write(wire.response(aid, "Error", "Missing UserEvent"))
            return
        body = f"UserEvent: {name}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in m.pairs if k.lower() not in ("action", "actionid", "userevent"))
        self.pbx.emit("UserEvent", body, "user")
        self.write(wire.response(aid, "Success"))

    def do_originate(self, m, aid) -> None:
        self.pbx.originate_action(self, m, aid)

    def do_hangup(self, m, aid) -> None:
        self.pbx.hangup_action(self, m, aid)

    def do_coreshowchannels(self, m, aid) -> None:
        self.pbx.coreshowchannels_action(self, aid)

    def do_status(self, m, aid) -> None:
        self.pbx.status_action(self, m, aid)

    def do_getvar(self, m, aid) -> None:
        self.pbx.getvar_action(self, m, aid)

    def do_queuesummary(self, m, aid) -> None:
        self.pbx.queuesummary_action(self, m, aid)

    def do_queuestatus(self, m, aid) -> None:
        self.pbx.queuestatus_action(self, m, aid)

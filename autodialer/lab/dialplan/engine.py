"""Executing the dialplan on one lab channel, as main/pbx.c's __ast_pbx_run does: find the
extension (own best match, then includes), substitute the priority's data, run the application,
go to the next priority (or where Goto/GotoIf/Gosub/Return/While sent it), and stop when an
application hangs up or the extension runs out. The `h` extension runs on hangup.

Every application run and every function called is appended to the PBX's trace, so tests can
assert what the dialplan did (context, extension, priority, application, arguments) and not only
which bytes were sent.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from autodialer.lab.dialplan import subst
from autodialer.lab.dialplan.parser import Dialplan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Executed:
    """One thing the dialplan did on a channel: an application ("app") or a function ("function")."""

    channel: str
    uniqueid: str
    context: str
    exten: str
    priority: int
    kind: str  # "app" | "function"
    name: str
    args: str


class StopPbx(Exception):
    """An application returned -1: the channel leaves the dialplan (hangs up)."""

    def __init__(self, cause: int | None = None):
        super().__init__(cause)
        self.cause = cause


class Jump(Exception):
    """Internal: the application moved the channel (priority is where it continues)."""


App = Callable[["Exec", str], Awaitable[None]]
Function = Callable[["Exec", str], "str | None"]


class Exec:
    """A channel running the dialplan: position, variables, Gosub stack, and the lab objects the
    applications use (`call`, `ch`; `main` says whether waits raise HungUp or are cancelled)."""

    def __init__(self, runtime: "Runtime", call, ch, variables: dict[str, str], main: bool):
        self.rt = runtime
        self.call = call
        self.ch = ch
        self.vars = variables
        self.main = main
        self.context = ch.context
        self.exten = ch.exten
        self.priority = 1
        self.gosub: list[tuple[str, str, int, dict[str, str | None]]] = []
        self.whiles: list[tuple[str, str, int]] = []  # the While() loops the channel is in
        self.hungup = False  # running the h extension: nothing waits any more
        self.ran = False  # entered the dialplan (an h extension applies)
        # The far end of a dial (leg ;2 of an originate, or of a Dial()): before the answer what its
        # apps do (Answer, Busy, Ringing, waits) decides the dial, through this object's methods.
        self.callee = None
        self.peer = None  # the channel this one is bridged to by Dial() (SendDTMF goes there)
        self.hangupcause: int | None = None  # set by Dial() when its callee hung up unanswered; Hangup() keeps it
        self.dialed = False  # ran Dial() (dial-out's ;2: its end has the order recorded for it)
        self.over = False  # the callee's Busy()/Congestion() ended the call
        self.queue_ended = False  # Queue() ended the call after an agent talked
        self._jumped = False

    # --- variables and functions (subst.Scope) -------------------------------------------------
    def get_var(self, name: str) -> str | None:
        builtin = _BUILTIN_VARS.get(name)
        if builtin is not None:
            return builtin(self)
        if name in self.vars:
            return self.vars[name]
        return self.rt.globals.get(name)

    def set_var(self, name: str, value: str | None) -> None:
        name = name.lstrip("_") if name.startswith("_") else name
        if value is None:
            self.vars.pop(name, None)
        else:
            self.vars[name] = value

    def call_function(self, name: str, args: str) -> str | None:
        self.rt.record(self, "function", name, args)
        fn = self.rt.functions.get(name.upper())
        if fn is None:
            return None  # "Function X not registered": nothing is substituted
        return fn(self, args)

    def substitute(self, text: str) -> str:
        return subst.substitute(text, self)

    # --- moving ----------------------------------------------------------------------------------
    def goto(self, context: str | None, exten: str | None, priority: str | int) -> None:
        """pbx_parse_location + ast_explicit_goto; a label is looked up in the target extension."""
        ctx = context or self.context
        ext = exten or self.exten
        if isinstance(priority, str):
            p = priority.strip()
            mode = 0
            if p[:1] in "+-" and p[1:].isdigit():
                mode = 1 if p[0] == "+" else -1
                p = p[1:]
            if p.isdigit():
                prio = int(p)
                if mode:
                    prio = self.priority + mode * prio
            else:
                found = self.rt.dialplan.find(ctx, ext)
                if found is None or p not in found[1].labels:
                    log.warning("Priority '%s' must be a number > 0, or valid label", p)
                    raise StopPbx()
                prio = found[1].labels[p]
        else:
            prio = priority
        self.context, self.exten, self.priority = ctx, ext, prio
        self._jumped = True

    def parseable_goto(self, where: str) -> None:
        """Goto([[context,]exten,]priority)."""
        parts = where.split(",", 2)
        if len(parts) == 1:
            self.goto(None, None, parts[0])
        elif len(parts) == 2:
            self.goto(None, parts[0].strip(), parts[1])
        else:
            self.goto(parts[0].strip(), parts[1].strip(), parts[2])

    # --- waiting ---------------------------------------------------------------------------------
    async def wait(self, seconds: float | None, fut=None):
        """Wait (scaled by the lab's time_scale); returns at once while running the h extension."""
        if self.hungup:
            return None
        if self.unanswered_callee:
            return await self.callee.wait(seconds, fut)
        return await self.call.wait(seconds, self.main, fut)

    @property
    def unanswered_callee(self) -> bool:
        return self.callee is not None and not self.callee.answered

    # --- running ---------------------------------------------------------------------------------
    async def exec_app(self, name: str, data: str) -> None:
        """pbx_exec(): run one application with already-substituted data (ExecIf runs apps this way)."""
        self.rt.record(self, "app", name, data)
        app = self.rt.apps.get(name.lower())
        if app is None:
            log.warning("No application '%s' for extension (%s, %s, %d)", name, self.context, self.exten, self.priority)
            raise StopPbx()
        self.ch.at(app=self.rt.app_names.get(name.lower(), name), appdata=data)
        await app(self, data)

    async def run(self, context: str, exten: str, priority: int = 1) -> int | None:
        """Run until the channel leaves the dialplan; returns the hangup cause an app asked for."""
        self.context, self.exten, self.priority = context, exten, priority
        self.ran = True
        try:
            while True:
                found = self.rt.dialplan.find(self.context, self.exten)
                step = found[1].steps.get(self.priority) if found else None
                if step is None:
                    self.ch.at(self.context, self.exten, self.priority)
                    return None  # no more priorities: the channel hangs up
                self.ch.at(self.context, self.exten, self.priority)
                data = self.substitute(step.data)
                self._jumped = False
                try:
                    await self.exec_app(step.app, data)
                except Jump:
                    pass
                if not self._jumped:
                    self.priority += 1
        except StopPbx as stop:
            return stop.cause

    async def run_h(self) -> None:
        """The h extension of the context the channel is in (if the channel ran the dialplan)."""
        if not self.ran or self.hungup:
            return
        found = self.rt.dialplan.find(self.context, "h")
        if found is None:
            return
        self.hungup = True
        self.exten, self.priority = "h", 1
        try:
            while True:
                found = self.rt.dialplan.find(self.context, self.exten)
                step = found[1].steps.get(self.priority) if found else None
                self.ch.at(self.context, self.exten, self.priority)
                if step is None:
                    return
                data = self.substitute(step.data)
                self._jumped = False
                try:
                    await self.exec_app(step.app, data)
                except Jump:
                    pass
                if not self._jumped:
                    self.priority += 1
        except StopPbx:
            return


def _hangupcause(x: Exec) -> str:
    return str(x.vars.get("HANGUPCAUSE", x.call.cause if x.hungup else ""))


_BUILTIN_VARS: dict[str, Callable[[Exec], str]] = {
    "EXTEN": lambda x: x.exten,
    "CONTEXT": lambda x: x.context,
    "PRIORITY": lambda x: str(x.priority),
    "CHANNEL": lambda x: x.ch.name,
    "UNIQUEID": lambda x: x.ch.uniqueid,
    "HANGUPCAUSE": _hangupcause,
}


class Runtime:
    """The loaded dialplan with the lab's applications and functions, and the trace they fill."""

    def __init__(self, dialplan: Dialplan, apps: dict[str, App], functions: dict[str, Function],
                 app_names: dict[str, str], globals_: dict[str, str] | None = None, trace_limit: int = 200_000):
        self.dialplan = dialplan
        self.apps = apps
        self.functions = functions
        self.app_names = app_names  # lowercase -> Asterisk's spelling (CoreShowChannels Application)
        self.globals = dict(globals_ or {})
        self.trace: collections.deque[Executed] = collections.deque(maxlen=trace_limit)  # the newest entries
        self.groups: dict[str, str] = {}  # channel name + category -> group (GROUP / GROUP_COUNT)
        self.conf_profiles: tuple[dict, set] = ({}, set())  # confbridge.conf (profiles.load)

    def record(self, x: Exec, kind: str, name: str, args: str) -> None:
        self.trace.append(Executed(x.ch.name, x.ch.uniqueid, x.context, x.exten, x.priority, kind, name, args))


__all__ = ["Exec", "Executed", "Runtime", "StopPbx", "Jump"]

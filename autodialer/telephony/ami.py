"""One long-lived AMI session per process: a thin wrapper around panoramisk 1.4's Manager.

panoramisk parses the wire format, matches responses to actions by ActionID and dispatches
events. It is unfit for a dialer in four ways (checked in its 1.4 source), which this module fixes:

1. After a reconnect it re-sends every action that had no reply yet (`AMIProtocol.close` queues
   them, `Manager.send_awaiting_actions` re-sends them on FullyBooted). A re-sent Originate is a
   second call. Here the futures of actions in flight fail with AmiConnectionLost and nothing is
   ever re-sent.
2. Its ping never checks the Pong, so a half-open TCP connection goes unnoticed. Here a ping task
   sends Ping under a timeout and declares the link dead (and reconnects) when no Pong comes.
3. It reconnects forever at a fixed interval, even after close(), and an action sent while
   disconnected silently waits. Here reconnects back off, stop on close(), and actions fail fast.
4. An Originate future only resolves with the OriginateResponse, tens of seconds later, so a
   timeout on it cannot tell "Asterisk never answered" from "the call is ringing". Here Originate
   resolves on the "successfully queued" response (always with `Async: true`: without it the
   response is synchronous and panoramisk crashes); the OriginateResponse is delivered as an
   event, which the dial engine matches by ActionID.
5. It writes any line. Asterisk 22 discards a message with a line over 1,024 bytes or more than
   128 lines (it answers "Failed to parse message: line too long" and never runs it): here an
   action is checked line by line as it will be written (`autodialer.telephony.safety`) and refused with
   UnsafeValueError, nothing written.

The AMI secret is only ever written to the socket: errors and logs name user@host:port, and a
logging filter scrubs it from anything panoramisk logs.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
from collections.abc import Callable, Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.message import Message

from autodialer.config import AmiSettings
from autodialer.errors import AutodialerError
from autodialer.telephony.safety import check_ami_header_count, check_ami_line

log = logging.getLogger("autodialer.ami")


def _check_wire(action: Mapping[str, Any]) -> None:
    """Every line of `action` as panoramisk writes it (`Key: value`, a list as repeated keys)
    fits Asterisk's limits, else UnsafeValueError naming the header."""
    lines = 0
    for key, value in action.items():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            check_ami_line(str(key), str(item), field=f"{action.get('Action', 'action')} header {key}")
            lines += 1
    check_ami_header_count(lines, what=str(action.get("Action", "action")))

EventCallback = Callable[[Message], Any]


class AmiError(AutodialerError):
    """Something went wrong talking to the AMI."""


class AmiConnectionError(AmiError):
    """The AMI is unreachable, or the connection was lost."""


class AmiConnectionLost(AmiConnectionError):
    """The connection dropped while an action was in flight (the action is NOT re-sent)."""


class AmiAuthError(AmiError):
    """The AMI refused the login."""


class AmiTimeout(AmiError):
    """No response to an action within the timeout."""


class AmiActionError(AmiError):
    """Asterisk answered an action with `Response: Error`."""

    def __init__(self, message: str, response: Message | None = None):
        super().__init__(message)
        self.response = response


class _RedactSecrets(logging.Filter):
    """Replaces every AMI secret this process uses with *** in what panoramisk logs."""

    def __init__(self):
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            hits = [s for s in self.secrets if s in message]
            if hits:
                for secret in hits:
                    message = message.replace(secret, "***")
                record.msg, record.args = message, ()
        return True


_REDACT = _RedactSecrets()


class _Manager(Manager):
    """panoramisk's Manager with its self-healing switched off: AmiSession owns reconnects,
    pings, and what happens to actions in flight (see the module docstring)."""

    session: "AmiSession"

    def connection_made(self, f):
        # On a failed connect panoramisk schedules its own reconnect loop: AmiSession retries instead.
        if f.cancelled() or f.exception() is not None:
            return
        super().connection_made(f)

    def ping(self):
        # panoramisk's ping does not check the Pong; AmiSession._ping_loop does.
        self.pinger = None

    async def send_awaiting_actions(self, *_):
        # Never re-send an action after a reconnect (a re-sent Originate dials twice).
        self.awaiting_actions.clear()

    def connection_lost(self, exc):
        self._connected = False
        self.awaiting_actions.clear()
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self.session._connection_lost(self, exc)


class AmiSession:
    """The process's AMI session.

    ```python
    async with AmiSession(config.ami_settings()) as ami:
        ami.subscribe("Hangup", on_hangup)          # or "*" for every event
        response = await ami.send_action({"Action": "Ping"})
    ```
    """

    def __init__(
        self,
        settings: AmiSettings,
        *,
        action_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        ping_interval: float = 20.0,
        ping_timeout: float | None = None,
        reconnect: bool = True,
        reconnect_initial: float = 0.5,
        reconnect_max: float = 30.0,
        events: str = "on",
    ):
        self.settings = settings
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout if ping_timeout is not None else action_timeout
        self.reconnect = reconnect
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self.events = events
        # panoramisk logs through this logger (the `log` option): it carries the redacting filter.
        self._log = logging.getLogger("autodialer.ami.wire")
        if settings.secret:
            _REDACT.secrets.add(settings.secret)
        if _REDACT not in self._log.filters:
            self._log.addFilter(_REDACT)
        self._manager: _Manager | None = None
        self._opening: tuple[_Manager, asyncio.Future] | None = None
        self._connected = False
        self._closing = False
        self._pending: dict[str, asyncio.Future] = {}  # ActionID -> future of the action in flight
        self._ids = itertools.count(1)
        self._id_prefix = f"ad{os.getpid():x}{random.getrandbits(24):06x}-"
        self._handlers: dict[str, list[EventCallback]] = {}
        self._any_handlers: list[EventCallback] = []
        self._disconnect_callbacks: list[Callable[[str], Any]] = []
        self._reconnect_callbacks: list[Callable[[], Any]] = []
        self._ping_task: asyncio.Task | None = None
        self._reconnect_task: asyncio.Task | None = None
        self.connects = 0  # successful logins, for tests and monitoring
        self.disconnects = 0

    # -- identity -------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"{self.settings.username}@{self.settings.host}:{self.settings.port}"

    def __repr__(self) -> str:
        state = "connected" if self._connected else "disconnected"
        return f"<AmiSession {self.settings.redacted_url()} {state}>"

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def closing(self) -> bool:
        """close() was called: the session will not reconnect."""
        return self._closing

    def next_action_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids)}"

    # -- lifecycle ------------------------------------------------------------------------
    async def connect(self) -> "AmiSession":
        """Connect and log in. Raises AmiConnectionError (unreachable) or AmiAuthError."""
        self._closing = False
        await self._open()
        if self.ping_interval and self._ping_task is None:
            self._ping_task = asyncio.get_running_loop().create_task(self._ping_loop())
        return self

    async def close(self) -> None:
        self._closing = True
        for task in (self._ping_task, self._reconnect_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._ping_task = self._reconnect_task = None
        manager, self._manager = self._manager, None
        was_connected = self._connected
        self._connected = False
        if manager is not None:
            # Manager.close() marks the protocol closed first, so panoramisk will not call
            # connection_lost for this: fail what is in flight here.
            manager.close()
            manager.awaiting_actions.clear()
        self._fail_pending("AMI session closed")
        if was_connected:
            self._notify_disconnect("AMI session closed")

    async def __aenter__(self) -> "AmiSession":
        return await self.connect()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        manager = _Manager(
            host=self.settings.host,
            port=self.settings.port,
            username=self.settings.username,
            secret=self.settings.secret,
            events=self.events,
            loop=loop,
            log=self._log,
            ping_delay=3600,  # panoramisk's pinger is disabled (see _Manager.ping)
            reconnect_timeout=3600,
        )
        manager.session = self
        manager.register_event("*", self._dispatch)
        # Known before connecting: a link that dies right after the TCP handshake (a flapping
        # network) must end this login at once, not after connect_timeout.
        lost = loop.create_future()
        self._opening = (manager, lost)
        try:
            await asyncio.wait_for(manager.connect(), self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            self._opening = None
            why = "timed out" if isinstance(exc, asyncio.TimeoutError) else (exc.strerror or type(exc).__name__)
            raise AmiConnectionError(f"cannot connect to the AMI at {self.settings.host}:{self.settings.port}: {why}") from None
        login = manager.authenticated_future
        try:
            await asyncio.wait([login, lost], timeout=self.connect_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._opening = None
        if not login.done():
            manager.close()
            if lost.done():
                raise AmiConnectionError(f"the AMI at {self.settings.host}:{self.settings.port} closed the connection during login")
            raise AmiConnectionError(f"the AMI at {self.settings.host}:{self.settings.port} did not answer the login within {self.connect_timeout:g}s")
        response = login.result()
        if not response.success:
            manager.close()
            message = str(response.get("Message") or response.get("Response") or "refused")
            raise AmiAuthError(f"AMI login as {self.where} refused: {message}")
        self._manager = manager
        self._connected = True
        self.connects += 1
        self._log.debug("AMI logged in as %s", self.where)

    def _connection_lost(self, manager: _Manager, exc) -> None:
        """Called by _Manager when the socket closes (not on our own close())."""
        if manager is not self._manager:
            opening = self._opening
            if opening is not None and opening[0] is manager and not opening[1].done():
                opening[1].set_result(exc)  # a login in flight must not wait for its timeout
            return
        self._manager = None
        self._connected = False
        self.disconnects += 1
        self._log.warning("AMI connection to %s lost", self.where)
        self._fail_pending("connection lost")
        self._notify_disconnect("connection lost")
        if self.reconnect and not self._closing and self._reconnect_task is None:
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(AmiConnectionLost(f"{why} ({self.settings.host}:{self.settings.port}); the action was not re-sent"))

    def _notify_disconnect(self, why: str) -> None:
        for callback in list(self._disconnect_callbacks):
            try:
                callback(why)
            except Exception:  # a listener's bug must not break the session
                self._log.exception("disconnect callback failed")

    async def _reconnect_loop(self) -> None:
        delay = self.reconnect_initial
        try:
            while not self._closing:
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                try:
                    await self._open()
                except AmiError as exc:
                    self._log.warning("AMI reconnect to %s failed: %s", self.where, exc)
                    delay = min(delay * 2, self.reconnect_max)
                    continue
                break
        finally:
            self._reconnect_task = None
        if self._connected:
            for callback in list(self._reconnect_callbacks):
                try:
                    callback()
                except Exception:
                    self._log.exception("reconnect callback failed")

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until a reconnect (if any) has succeeded."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._connected:
            if self._closing:
                raise AmiConnectionError("AMI session closed")
            if deadline is not None and loop.time() >= deadline:
                raise AmiConnectionError(f"not connected to the AMI at {self.settings.host}:{self.settings.port}")
            await asyncio.sleep(0.02)

    def drop(self) -> None:
        """Abort the TCP connection (as if the network failed); the session reconnects."""
        manager = self._manager
        if manager is not None and manager.protocol is not None:
            manager.protocol.transport.abort()

    async def _ping_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.ping_interval)
            if not self._connected:
                continue
            try:
                response = await self.send_action({"Action": "Ping"}, timeout=self.ping_timeout)
                ok = response.get("Ping") == "Pong" or response.get("Response") == "Pong"
            except AmiConnectionLost:
                continue
            except AmiError:
                ok = False
            if not ok:
                self._log.warning("AMI link to %s is dead (no Pong within %gs); reconnecting", self.where, self.ping_timeout)
                self.drop()

    # -- actions --------------------------------------------------------------------------
    def send_action_nowait(self, action: Mapping[str, Any], *, as_list: bool = False) -> tuple[str, asyncio.Future]:
        """Write one action now; return (ActionID, future of its first response). Raises
        AmiConnectionError at once when disconnected (nothing is queued for later).
        An Originate always goes with `Async: true`; its future resolves on the "queued"
        response and its OriginateResponse is delivered as an event (match it by ActionID)."""
        manager = self._manager
        if manager is None or not self._connected:
            raise AmiConnectionError(f"not connected to the AMI at {self.settings.host}:{self.settings.port}")
        action = dict(action)
        if str(action.get("Action", "")).lower() == "originate":
            action["Async"] = "true"  # always: a synchronous Originate blocks Asterisk and crashes panoramisk
        action_id = action.get("ActionID") or self.next_action_id()
        action["ActionID"] = action_id
        _check_wire(action)
        # as_list=False: resolve on the first response (for Originate: "successfully queued");
        # True: collect the response and its event list up to the `...Complete` event.
        future = manager.send_action(action, as_list=as_list)
        self._pending[action_id] = future
        return action_id, future

    def send_action_forget(self, action: Mapping[str, Any]) -> str:
        """Send an action whose response nobody waits for (e.g. a Hangup from a timer)."""
        action_id, future = self.send_action_nowait(action)

        def done(f: asyncio.Future, action_id=action_id) -> None:
            self._pending.pop(action_id, None)
            if not f.cancelled():
                f.exception()  # retrieved: no "exception was never retrieved" noise

        future.add_done_callback(done)
        return action_id

    async def send_action(self, action: Mapping[str, Any], *, timeout: float | None = None, as_list: bool = False) -> Message | list[Message]:
        """Send one action and return its response (as_list: the response and the events of its
        list, e.g. CoreShowChannels); AmiTimeout after `timeout` (default action_timeout),
        AmiConnectionLost if the link drops first (never re-sent)."""
        action_id, future = self.send_action_nowait(action, as_list=as_list)
        return await self.wait_response(action_id, future, action.get("Action", "action"), timeout=timeout)

    async def wait_response(self, action_id: str, future: asyncio.Future, name: str, *, timeout: float | None = None) -> Message:
        timeout = self.action_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            manager = self._manager
            if manager is not None and manager.protocol is not None:
                manager.protocol.responses.pop(action_id, None)
            raise AmiTimeout(f"no response to {name} (ActionID {action_id}) from {self.settings.host}:{self.settings.port} within {timeout:g}s") from None
        finally:
            self._pending.pop(action_id, None)

    # -- events ---------------------------------------------------------------------------
    def subscribe(self, event: str, callback: EventCallback) -> Callable[[], None]:
        """Call `callback(message)` for each event named `event` ("*" for all); returns an
        unsubscribe function. Callbacks run synchronously in the reading loop: keep them quick
        (a coroutine function is run as a task). An exception in one is logged, not raised."""
        handlers = self._any_handlers if event == "*" else self._handlers.setdefault(event, [])
        handlers.append(callback)

        def unsubscribe() -> None:
            if callback in handlers:
                handlers.remove(callback)

        return unsubscribe

    def on_disconnect(self, callback: Callable[[str], Any]) -> None:
        self._disconnect_callbacks.append(callback)

    def on_reconnect(self, callback: Callable[[], Any]) -> None:
        self._reconnect_callbacks.append(callback)

    def _dispatch(self, _manager, event: Message) -> None:
        name = event.get("Event")
        handlers = self._handlers.get(name)
        if handlers:
            for callback in handlers:
                self._call(callback, event)
        for callback in self._any_handlers:
            self._call(callback, event)

    def _call(self, callback: EventCallback, event: Message) -> None:
        try:
            result = callback(event)
        except Exception:  # one listener's bug must not stop the others (or the engine)
            self._log.exception("event callback %r failed on %s", callback, event.get("Event"))
            return
        if asyncio.iscoroutine(result):
            asyncio.get_running_loop().create_task(result)

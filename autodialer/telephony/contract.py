"""The contract of the dial path: one call is a `CallSpec`; whatever places calls is an `Engine`.

Four engines implement it: `DialEngine` (one Asterisk server over the AMI), `EnginePool`
(several servers behind one engine), `OperatorFirstEngine` (autodialer.kinds.callback: a queue's
operator first, then the client) and `CallFileEngine` (autodialer.telephony.callfiles: Asterisk's
spool). The dialing core (autodialer.dialer.dialing.ContactDialer), the pacers and the recovery of dead
runs use only what this protocol names, so any of the four can stand behind a run.

`originate(number, **fields)` is the keyword form of `place(CallSpec(number, **fields))` that
every engine gets from `KeywordOriginate`: the fields of a call are declared once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Protocol, runtime_checkable

from autodialer.telephony.outcomes import CallResult


@dataclass(frozen=True)
class CallSpec:
    """What one originate needs. The first leg is always `Local/<number>@<outbound_context>`,
    built by the engine from a checked number (autodialer.telephony.fields); the answered call goes
    to `context`/`exten`/`priority`, or to `application`(`data`). None means the engine's default."""

    number: str  # digits, E.164 without '+' or national
    _: KW_ONLY
    context: str | None = None
    exten: str = "s"
    priority: int = 1
    application: str | None = None
    data: str | None = None
    variables: Mapping[str, str] | None = None  # channel variables; ATTEMPT_ID is always added
    caller_id: str | None = None
    ring_timeout: float | None = None  # seconds; None: the engine's default
    account: str | None = None
    attempt_id: str | None = None  # a safe token; None: the engine makes one
    max_call_seconds: float | None = None  # after the answer; None: the engine's default
    outbound_context: str | None = None  # the first leg's context; None: the engine's


@runtime_checkable
class Engine(Protocol):
    """Places calls and reports each one's end as a CallResult."""

    @property
    def connected(self) -> bool:
        """Whether a call placed now can leave (the AMI link, or one server's, is up)."""

    @property
    def in_flight(self) -> int:
        """Calls placed and not yet ended."""

    async def place(self, spec: CallSpec) -> CallResult:
        """Place one call and await its end. Raises UnsafeValueError (nothing sent) for a value
        that must not reach the PBX, AmiConnectionError (nothing sent) when the link is down."""

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once a call can leave; AmiConnectionError after `timeout` seconds."""

    def ringing_for(self, attempt_id: str) -> float | None:
        """Seconds the call `attempt_id` has been ringing unanswered, else None."""

    def stop_ringing(self, attempt_id: str, why: str) -> bool:
        """Hang up a call that still rings (predictive pacing); False when it is not ringing or
        this engine cannot stop calls."""


class KeywordOriginate:
    """`await engine.originate(number, context=..., ring_timeout=...)`: the keyword form of
    `place(CallSpec(...))`, for people and scripts (`autodialer call`, the bench, tests)."""

    async def originate(self, number: str, **fields) -> CallResult:
        return await self.place(CallSpec(number, **fields))

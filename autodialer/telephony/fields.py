"""The fields of one outbound call, checked once for both ways of placing it (an AMI Originate,
a call file): the first leg is always `Local/<digits>@<outbound context>`, built here, never
taken from data; every other value passes `autodialer.telephony.safety` or raises UnsafeValueError
before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from autodialer.telephony.dialplan import default_kind
from autodialer.errors import UnsafeValueError
from autodialer.telephony.safety import TOKEN, check_dial_number, check_header_value, check_token

MAX_PRIORITY = 100000
MAX_RING_TIMEOUT = 3600.0  # seconds; the Originate's Timeout header is milliseconds of this


def check_ring_timeout(value, *, field: str = "ring_timeout") -> float:
    """A ring timeout the Originate can carry: a number of seconds in (0, MAX_RING_TIMEOUT]. The
    campaign loader and the engine share this one rule, so a campaign the loader accepts is one
    the engine will dial."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_RING_TIMEOUT:
        raise UnsafeValueError(f"{field}: {value!r} is not a number of seconds in (0, {MAX_RING_TIMEOUT:g}]")
    return float(value)


@dataclass(frozen=True)
class CallFields:
    channel: str  # Local/<digits>@<outbound context>
    context: str | None
    exten: str | None
    priority: int | None
    application: str | None
    data: str | None
    caller_id: str | None
    account: str | None
    variables: dict[str, str]  # ATTEMPT_ID first when given, then the caller's, values unescaped, as checked


def checked_call_fields(
    number: str,
    *,
    outbound_context: str,
    context: str | None = None,
    exten: str = "s",
    priority: int = 1,
    application: str | None = None,
    data: str | None = None,
    caller_id: str | None = None,
    account: str | None = None,
    variables: Mapping[str, str] | None = None,
    attempt_id: str | None = None,
) -> CallFields:
    check_dial_number(number)
    check_token(outbound_context, field="outbound_context")
    if application is not None:
        if context is not None:
            raise UnsafeValueError("give either context/exten/priority or application/data, not both")
        check_token(application, field="application")
        if data is not None:
            check_header_value(data, field="data")
        context = exten = priority = None
    else:
        if data is not None:
            raise UnsafeValueError("data: only allowed with application")
        if context is None:
            raise UnsafeValueError("context: required (the dialplan context the answered call is sent to)")
        check_token(context, field="context")
        check_token(exten, field="exten")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= MAX_PRIORITY:
            raise UnsafeValueError(f"priority: {priority!r} is not a positive integer")
    if caller_id is not None:
        check_header_value(caller_id, field="caller_id", max_len=256)
    if account is not None:
        check_header_value(account, field="account", max_len=80)
    pairs = {"ATTEMPT_ID": TOKEN.check(check_token(attempt_id, field="attempt_id"), field="attempt_id")} if attempt_id else {}
    for name, value in (variables or {}).items():
        # Every value against its kind: the one it was declared with (a ChannelValue), else the
        # one autodialer/telephony/dialplan.py gives its name (QUEUE token, ORDER_ID digits...), else text.
        check_token(name, field="variable name")
        kind = getattr(value, "kind", None) or default_kind(name)
        pairs[name] = kind.check(value, field=f"variable {name}", name=name)
    return CallFields(f"Local/{number}@{outbound_context}", context, exten, priority, application, data,
                      caller_id, account, pairs)

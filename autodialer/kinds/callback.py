"""Click-to-call (callback): one call placed on request, the operator first, then the client.

The dialer originates `Local/<operator extension>@dialer-operators` (the operator's phone rings);
when the operator answers, the call goes to the context `dialer-callback`, which dials
`Local/<CLIENT_NUMBER>@dialer-outbound` and reports `UserEvent(DialerResult, AttemptId, Result,
DialStatus, HangupCause)`. Result is `connected`, `client_busy`, `client_no_answer`,
`client_congestion`, `client_unavailable` or `client_failed`; when the operator never answered
it is `operator_<status>` (`operator_no_answer`, `operator_busy`, ...): the client was never
dialed (dialer-callback runs only on the operator's answer), and the attempt says so for code
with the failure kind `operator_unanswered` (outcomes.FailureKind): it keeps the operator leg's
status for analysts and counts against none of the client's contact-frequency limits or
compliance figures (outcomes.NOT_REACHING_FAILURES).

Both the operator's extension and the client's number pass `check_dial_number` (ASCII digits)
before anything is sent; the client's number must also be a valid number for the region.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from autodialer.errors import UnsafeValueError
from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind
from autodialer.telephony.safety import check_dial_number
from autodialer.telephony.contract import CallSpec, KeywordOriginate

OPERATOR_CONTEXT = "dialer-operators"
CALLBACK_CONTEXT = "dialer-callback"
DEFAULT_CLIENT_RING = 30.0
OPERATOR_RING = 30.0  # how long the operator's phone rings before the request gives up (the client is dialed after)


def check_operator(extension: str) -> str:
    """An operator's extension: 2-20 ASCII digits (what `Local/<ext>@dialer-operators` dials)."""
    return check_dial_number(extension, field="operator")


def check_client_number(number: str, region: str = "RU") -> str:
    """The client's number as E.164, or UnsafeValueError naming it. Digits only (optional +, no
    spaces or letters: an API caller sends the number, not a spreadsheet cell), and a valid number
    of `region` when written without +."""
    from autodialer.lists.phones import PhoneNormalizer

    check_dial_number(number, field="number")
    e164, _zones, reason = PhoneNormalizer(region).normalize(number)
    if e164 is None:
        raise UnsafeValueError(f"number: {number!r} is not a valid phone number ({reason})")
    return e164


def manual_refusal(number: str, region: str, allow_regions=(), *, database_url: str) -> str | None:
    """Why `autodialer call --operator` must not dial `number` (E.164), or None. A manual call
    has no campaign, so it gets the default policy (autodialer.rules.number_policy): a mobile or
    fixed-line number of `region` (or of one of `allow_regions`), and on no global do-not-call
    list in the store at `database_url`. A store that cannot be read is an error, not a pass
    (a number is never dialed unchecked); a SQLite file that does not exist holds no list."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from autodialer.store.adhoc import global_do_not_call
    from autodialer.config import redact_database_url
    from autodialer.errors import ConfigError
    from autodialer.rules.number_policy import AllowedNumbers

    regions = list(dict.fromkeys([region.upper(), *(r.upper() for r in allow_regions)]))
    try:
        policy = AllowedNumbers(regions=regions)
    except ValueError as exc:
        raise ConfigError(f"--allow-region: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}") from None
    why = policy.refusal(number, region.upper())
    if why is not None:
        return (why.replace("(allowed_numbers.regions)", "(--region, --allow-region)")
                .replace("(allowed_numbers.types)", "(a campaign's allowed_numbers can allow others)"))
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        from pathlib import Path

        if not Path(url.database).exists():
            return None
    from autodialer.store import Store

    store = Store(database_url)
    try:
        return global_do_not_call(store, number)
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot check the do-not-call list in {redact_database_url(database_url)} "
                          f"(AUTODIALER_DATABASE_URL): {type(exc).__name__}: {str(exc).splitlines()[0]}; "
                          "nothing was dialed") from None
    finally:
        store.close()


def ring_seconds(seconds: float) -> str:
    """CLIENT_RING as sent: whole seconds (a digits variable: Dial()'s timeout argument)."""
    return str(max(1, round(seconds)))


def _caller_variables(variables) -> dict[str, str]:
    """The caller's own variables; one that click-to-call or the campaign sets (CLIENT_NUMBER,
    ATTEMPT_ID...) is refused, never silently replaced."""
    from autodialer.telephony.dialplan import owned_by

    for name in variables or {}:
        why = owned_by(name)
        if why is not None:
            raise UnsafeValueError(f"variable {name}: {name} is {why}; it cannot be given")
    return dict(variables or {})


@dataclass(frozen=True)
class CallbackOutcome:
    operator: str
    number: str
    result: str  # connected / client_* / operator_*
    client_dial_status: str | None  # DIALSTATUS of the client leg, as the dialplan reported it
    client_hangup_cause: int | None
    call: CallResult  # the operator leg (the originate)

    @property
    def connected(self) -> bool:
        return self.result == "connected"

    def to_dict(self) -> dict:
        return {"operator": self.operator, "number": self.number, "result": self.result,
                "client_dial_status": self.client_dial_status, "client_hangup_cause": self.client_hangup_cause,
                "call": self.call.to_dict()}


def callback_result(call: CallResult) -> tuple[str, str | None, int | None]:
    """(result, client DIALSTATUS, client hangup cause) from the operator leg's CallResult."""
    reported = [e for e in call.events if e.get("UserEvent") == "DialerResult" and e.get("Result")]
    if reported:
        last = reported[-1]
        try:
            cause = int(last.get("HangupCause") or "")
        except ValueError:
            cause = None
        return last["Result"], last.get("DialStatus") or None, cause
    if call.status is CallStatus.ANSWERED:
        return "client_failed", None, None  # the operator answered but the dialplan said nothing
    return f"operator_{call.status.value.lower()}", None, None


def operator_never_answered(call: CallResult) -> bool:
    """Whether the operator's leg ended unanswered, as the OriginateResponse and the events tell
    it: not answered, no DialerResult from dialer-callback (which runs only once the operator
    answers), and an end the engine saw (not an outage's UNKNOWN, nor a failure already said:
    not sent, refused, link lost, no report). Then the client was never dialed."""
    if call.failure is not None or call.status in (CallStatus.ANSWERED, CallStatus.UNKNOWN, CallStatus.NOT_SENT):
        return False
    if call.answered_at is not None:
        return False
    return not any(e.get("UserEvent") in ("DialerResult", "DialResult") for e in call.events)


async def click_to_call(engine, *, operator: str, number: str, caller_id: str | None = None,
                        operator_ring: float = OPERATOR_RING, client_ring: float = DEFAULT_CLIENT_RING,
                        attempt_id: str | None = None, max_call_seconds: float | None = None,
                        operator_context: str = OPERATOR_CONTEXT, context: str = CALLBACK_CONTEXT,
                        variables: dict[str, str] | None = None) -> CallbackOutcome:
    """Ring `operator`, then connect the client `number` (digits, already E.164 or national).
    Raises UnsafeValueError (nothing sent) for a bad extension or number."""
    check_operator(operator)
    check_dial_number(number, field="number")
    if not 1 <= client_ring <= 300:
        raise UnsafeValueError(f"client_ring: {client_ring!r} must be 1..300 seconds")
    dial_vars = _caller_variables(variables)
    dial_vars.update(CLIENT_NUMBER=number, CLIENT_RING=ring_seconds(client_ring), OPERATOR=operator)
    call = await engine.place(CallSpec(
        operator, context=context, exten="s", variables=dial_vars, caller_id=caller_id, ring_timeout=operator_ring,
        attempt_id=attempt_id, max_call_seconds=max_call_seconds, outbound_context=operator_context,
    ))
    if operator_never_answered(call):
        call = replace(call, failure=FailureKind.OPERATOR_UNANSWERED,
                       error=call.error or "the operator did not answer; the client was not dialed")
    result, dial_status, cause = callback_result(call)
    return CallbackOutcome(operator, number, result, dial_status, cause, call)


QUEUE_FIRST_CONTEXT = "dialer-queue-first"


class OperatorFirstEngine(KeywordOriginate):
    """An Engine (autodialer.telephony.contract) around a DialEngine for operator-first campaigns
    into a queue (recall): every call `place(CallSpec(number, ...))` becomes a first leg `Local/<number>@dialer-queue-first` that waits
    in queue ${QUEUE} for an operator, then `dialer-callback` rings the client `number`. The
    attempt is classified by the client's leg (dialer-callback's UserEvent DialResult), so the
    retry policy sees BUSY / NO_ANSWER of the client, and the result is connected / client_busy...
    An operator who never took the call within the ring timeout is a NO_ANSWER with the failure
    kind operator_unanswered (the client was never dialed: not counted against their limits)."""

    def __init__(self, engine, *, client_ring: float = DEFAULT_CLIENT_RING, first_context: str = QUEUE_FIRST_CONTEXT,
                 context: str = CALLBACK_CONTEXT):
        self.engine = engine
        self.client_ring = client_ring
        self.first_context = first_context
        self.context = context

    @property
    def connected(self) -> bool:
        return self.engine.connected

    async def wait_connected(self, timeout: float | None = None) -> None:
        await self.engine.wait_connected(timeout)

    @property
    def in_flight(self) -> int:
        return self.engine.in_flight

    def ringing_for(self, attempt_id: str) -> float | None:
        return self.engine.ringing_for(attempt_id)

    def stop_ringing(self, attempt_id: str, why: str) -> bool:
        return self.engine.stop_ringing(attempt_id, why)

    async def place(self, spec: CallSpec) -> CallResult:
        """The spec's destination is replaced: the first leg waits in the queue, the answered one
        rings the client."""
        check_dial_number(spec.number, field="number")
        dial_vars = dict(spec.variables or {})  # the campaign's (ContactDialer): CLIENT_* cannot be among them
        dial_vars.update(CLIENT_NUMBER=spec.number, CLIENT_RING=ring_seconds(self.client_ring))
        call = await self.engine.place(replace(spec, context=self.context, exten="s", priority=1, variables=dial_vars,
                                               outbound_context=self.first_context))
        if operator_never_answered(call):
            call = replace(call, failure=FailureKind.OPERATOR_UNANSWERED,
                           error=call.error or "no operator took the call; the client was not dialed")
        return call

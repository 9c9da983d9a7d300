"""Call files: the second way to place calls, through Asterisk's spool (pbx_spool).

Writing. A call file is written in `<spool>/tmp/` (same filesystem), its mtime set to when it
should be dialed (pbx_spool leaves a file with a future mtime alone until then), and only then
renamed into `<spool>/outgoing/`: rename is atomic, so Asterisk never reads half a file. Values
pass the same checks as the AMI engine (`autodialer.telephony.safety`): a newline in a value would start a
new line of the call file, i.e. a new directive. Then pbx_spool's own rules: `;` is written `\\;`
(else the rest of the line is a comment); a line over 1,023 bytes (UTF-8, LF included), which
Asterisk skips with a warning, a `#` after a blank (a comment, no escape) and a trailing blank
(trimmed) are refused, naming the field.

Reading back. With `Archive: yes` Asterisk moves the file to `<spool>/outgoing_done/<name>` and
appends `StartRetry:`/`EndRetry:` lines (one StartRetry per attempt) and a final `Status:`:

| Status    | meaning (pbx_spool)                                   | CallStatus |
|-----------|-------------------------------------------------------|------------|
| Completed | the call was answered                                 | ANSWERED   |
| Expired   | MaxRetries+1 attempts, none answered                  | NO_ANSWER  |
| Failed    | the file was unusable (e.g. no Channel / Context)     | FAILED     |

Asterisk retries busy, no-answer and congestion alike and records why only in its log, so an
Expired file cannot tell BUSY from NO_ANSWER: use the AMI engine when the outcome matters.
Defaults as in Asterisk: MaxRetries 0 (N retries = N+1 attempts), RetryTime 300 s, WaitTime 45 s.
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from autodialer.errors import UnsafeValueError
from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind
from autodialer.telephony.safety import call_file_escape, check_call_file_line, check_token
from autodialer.telephony.contract import CallSpec, KeywordOriginate
from autodialer.telephony.fields import check_ring_timeout, checked_call_fields

ARCHIVE_STATUS: dict[str, CallStatus] = {
    "Completed": CallStatus.ANSWERED,
    "Expired": CallStatus.NO_ANSWER,
    "Failed": CallStatus.FAILED,
}


def call_file_text(
    number: str,
    *,
    outbound_context: str = "dialer-outbound",
    context: str | None = None,
    exten: str = "s",
    priority: int = 1,
    application: str | None = None,
    data: str | None = None,
    variables: Mapping[str, str] | None = None,
    caller_id: str | None = None,
    account: str | None = None,
    max_retries: int = 0,
    retry_time: int = 300,
    wait_time: int = 45,
    attempt_id: str | None = None,
) -> str:
    """The text of one call file, every value checked (UnsafeValueError)."""
    f = checked_call_fields(
        number, outbound_context=outbound_context, context=context, exten=exten, priority=priority,
        application=application, data=data, caller_id=caller_id, account=account, variables=variables,
        attempt_id=attempt_id,
    )
    for name, value in (("max_retries", max_retries), ("retry_time", retry_time), ("wait_time", wait_time)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UnsafeValueError(f"{name}: {value!r} is not a whole number >= 0")
    lines: list[str] = []

    def line(key: str, value, field: str, *, escape: bool = True) -> None:
        text = call_file_escape(str(value)) if escape else str(value)
        lines.append(f"{key}: {check_call_file_line(key, text, field=field)}")

    line("Channel", f.channel, "number")
    if f.caller_id is not None:
        line("CallerID", f.caller_id, "caller_id")
    line("MaxRetries", max_retries, "max_retries")
    line("RetryTime", retry_time, "retry_time")
    line("WaitTime", wait_time, "wait_time")
    if f.application is not None:
        line("Application", f.application, "application")
        if f.data is not None:
            line("Data", f.data, "data")
    else:
        line("Context", f.context, "context")
        line("Extension", f.exten, "exten")
        line("Priority", f.priority, "priority")
    if f.account is not None:
        line("Account", f.account, "account")
    line("Archive", "yes", "archive")
    for k, v in f.variables.items():
        line("Set", f"{k}={call_file_escape(v)}", f"variable {k}", escape=False)
    return "\n".join(lines) + "\n"


def write_call_file(
    spool_dir: str | os.PathLike,
    number: str,
    *,
    at: datetime | float | None = None,
    attempt_id: str | None = None,
    mode: int = 0o644,
    **fields,
) -> Path:
    """Write a call file atomically into `<spool>/outgoing/` and return its path there.

    `at` (a tz-aware datetime or epoch seconds) schedules the call: the file's mtime. `fields` are
    those of `call_file_text`. The file name is `<attempt_id>.call`.
    """
    attempt_id = check_token(attempt_id or uuid.uuid4().hex, field="attempt_id")
    text = call_file_text(number, attempt_id=attempt_id, **fields)
    spool = Path(spool_dir)
    outgoing, tmp_dir = spool / "outgoing", spool / "tmp"
    outgoing.mkdir(parents=True, exist_ok=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    target = outgoing / f"{attempt_id}.call"
    if target.exists():
        raise UnsafeValueError(f"attempt_id: a call file {target.name} is already waiting in {outgoing}")
    when = time.time() if at is None else (at.timestamp() if isinstance(at, datetime) else float(at))
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=f".{attempt_id}.", suffix=".call")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)  # Asterisk runs as its own user and must read it
        os.utime(tmp_name, (when, when))  # before the rename: pbx_spool reads the mtime when it sees the file
        os.rename(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return target


@dataclass(frozen=True)
class CallFileOutcome:
    """What `<spool>/outgoing_done/<name>` says about one call file."""

    name: str
    archive_status: str  # Completed | Expired | Failed (as written by Asterisk)
    status: CallStatus
    attempts: int  # StartRetry lines: how many times Asterisk dialed
    number: str | None
    attempt_id: str | None

    def as_call_result(self) -> CallResult:
        return CallResult(
            attempt_id=self.attempt_id or self.name.removesuffix(".call"),
            number=self.number or "",
            status=self.status,
            error=None if self.status is not CallStatus.FAILED else f"call file {self.name}: Status: {self.archive_status}",
        )


def parse_archived(name: str, text: str) -> CallFileOutcome | None:
    """Parse an archived call file; None if it has no Status: line yet."""
    status = None
    attempts = 0
    number = attempt_id = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "status":
            status = value
        elif key == "startretry":
            attempts += 1
        elif key == "channel" and value.startswith("Local/") and "@" in value:
            number = value[len("Local/"):].split("@", 1)[0]
        elif key == "set" and value.startswith("ATTEMPT_ID="):
            attempt_id = value.split("=", 1)[1]
    if status is None:
        return None
    return CallFileOutcome(name, status, ARCHIVE_STATUS.get(status, CallStatus.FAILED), attempts, number, attempt_id)


def read_call_result(spool_dir: str | os.PathLike, name: str) -> CallFileOutcome | None:
    """The outcome of call file `name` (e.g. "abc.call"), or None while it is not archived yet."""
    path = Path(spool_dir) / "outgoing_done" / Path(name).name
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    return parse_archived(path.name, text)


async def wait_call_result(spool_dir: str | os.PathLike, name: str, *, timeout: float, poll: float = 0.2) -> CallFileOutcome:
    """Poll outgoing_done until the file is archived; TimeoutError after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        outcome = read_call_result(spool_dir, name)
        if outcome is not None:
            return outcome
        if loop.time() >= deadline:
            raise TimeoutError(f"call file {name} not archived in {Path(spool_dir) / 'outgoing_done'} within {timeout:g}s")
        await asyncio.sleep(poll)


class CallFileEngine(KeywordOriginate):
    """An Engine (autodialer.telephony.contract) that places each call as a call file in
    Asterisk's spool (`spool_dir`, e.g. /var/spool/asterisk) and awaits its archived `Status:`.

    What a call file can tell is less than what the AMI engine follows: pbx_spool archives the file
    when the call is answered (`Completed`: ANSWERED, `answered_at` when the archive was seen, no
    end or talk time) or when its attempts are used up (`Expired`: NO_ANSWER, busy included), so
    no result carries a cause and no ringing call can be stopped. A file Asterisk has not archived
    within every attempt's ring time, its retry times and `result_grace` ends FAILED (`no_report`),
    and is taken out of `outgoing/` if it is still there, so it is never dialed later."""

    def __init__(self, spool_dir: str | os.PathLike, *, outbound_context: str = "dialer-outbound",
                 default_ring_timeout: float = 30.0, max_retries: int = 0, retry_time: int = 300,
                 result_grace: float = 30.0, poll: float = 0.2):
        self.spool_dir = Path(spool_dir)
        self.outbound_context = check_token(outbound_context, field="outbound_context")
        self.default_ring_timeout = default_ring_timeout
        self.max_retries = max_retries
        self.retry_time = retry_time
        self.result_grace = result_grace
        self.poll = poll
        self._waiting: set[str] = set()

    @property
    def connected(self) -> bool:
        """The spool directory is there (Asterisk polls it; nothing else can be known of it)."""
        return self.spool_dir.is_dir()

    async def wait_connected(self, timeout: float | None = None) -> None:
        if not self.connected:
            from autodialer.telephony.ami import AmiConnectionError

            raise AmiConnectionError(f"no Asterisk spool directory at {self.spool_dir}")

    @property
    def in_flight(self) -> int:
        return len(self._waiting)

    def ringing_for(self, attempt_id: str) -> float | None:
        return None  # a call file's call is not followed while it rings

    def stop_ringing(self, attempt_id: str, why: str) -> bool:
        return False

    async def place(self, spec: CallSpec) -> CallResult:
        ring = self.default_ring_timeout if spec.ring_timeout is None else spec.ring_timeout
        attempt_id = check_token(spec.attempt_id or uuid.uuid4().hex, field="attempt_id")
        if attempt_id in self._waiting:
            raise UnsafeValueError(f"attempt_id: {attempt_id!r} is already in flight")
        wait_time = max(1, int(math.ceil(check_ring_timeout(ring))))
        path = write_call_file(
            self.spool_dir, spec.number, attempt_id=attempt_id,
            outbound_context=self.outbound_context if spec.outbound_context is None else spec.outbound_context,
            context=spec.context, exten=spec.exten, priority=spec.priority, application=spec.application,
            data=spec.data, variables=spec.variables, caller_id=spec.caller_id, account=spec.account,
            max_retries=self.max_retries, retry_time=self.retry_time, wait_time=wait_time,
        )
        queued = datetime.now(timezone.utc)
        self._waiting.add(attempt_id)
        timeout = (self.max_retries + 1) * wait_time + self.max_retries * self.retry_time + self.result_grace
        try:
            outcome = await wait_call_result(self.spool_dir, path.name, timeout=timeout, poll=self.poll)
        except TimeoutError as exc:
            path.unlink(missing_ok=True)
            return CallResult(attempt_id=attempt_id, number=spec.number, status=CallStatus.FAILED, queued_at=queued,
                              ended_at=datetime.now(timezone.utc), error=str(exc), failure=FailureKind.NO_REPORT)
        finally:
            self._waiting.discard(attempt_id)
        result = outcome.as_call_result()
        seen = datetime.now(timezone.utc)
        result.queued_at = queued
        if result.status is CallStatus.ANSWERED:
            result.answered_at = seen
        else:
            result.ended_at = seen
        return result

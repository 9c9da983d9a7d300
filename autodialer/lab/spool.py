"""Call files, processed as Asterisk's pbx_spool does (see cf-*.call and cf_events.txt).

`<spool>/outgoing/` is polled; a file whose mtime is in the future waits. Each attempt appends
`StartRetry: <pid> <n> (<next retry time>)` and pushes the mtime RetryTime ahead; a failed attempt
appends `EndRetry: ...` and waits for that mtime, until MaxRetries+1 attempts were made (Expired).
An answered call is Completed; a file without Channel or destination is Failed. With
`Archive: yes` the file ends in `<spool>/outgoing_done/` with `Status: ...` appended, otherwise it
is deleted. RetryTime/WaitTime and the poll interval are scaled by the lab's time_scale.

Lines are read as apply_outgoing/parse_line read them: a line over 1,023 bytes (LF included) is
skipped with a warning, `;` (unless `\\;`) and `#` (at the start or after a blank) start comments,
keys are matched as written; warnings go to the lab's `warnings`.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from autodialer.lab.calls import OriginateRequest

_LOCAL = re.compile(r"Local/([^@/]+)@([^/]+)(?:/n)?", re.IGNORECASE)


@dataclass
class CallFile:
    channel: str = ""
    callerid: str | None = None
    max_retries: int = 0
    retry_time: float = 300.0
    wait_time: float = 45.0
    context: str | None = None
    extension: str | None = None
    priority: int = 1
    application: str | None = None
    data: str = ""
    account: str = ""
    archive: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    retries: int = 0  # StartRetry lines already in the file
    warnings: list[str] = field(default_factory=list)  # what Asterisk would log while reading it

    @property
    def valid(self) -> bool:
        """apply_outgoing: a Tech/Dest channel, and an application or an extension."""
        tech, _, dest = self.channel.partition("/")
        return bool(tech) and bool(dest) and (bool(self.application) or bool(self.extension))


# pbx_spool.c apply_outgoing: `char buf[1024]` read with fgets, so at most 1,023 bytes a read.
FGETS_BYTES = 1023
_INT = re.compile(rb"[ \t\n\v\f\r]*[+-]?[0-9]+")


def call_file_lines(data: bytes, name: str = "") -> tuple[list[tuple[int, bytes]], list[str]]:
    """The lines apply_outgoing parses, numbered as it numbers them, and its warnings: a read that
    fills the buffer without a LF (and not at end of file) is an over-long line, skipped up to
    and including its LF ("Skipping extremely long line at line N of F")."""
    lines: list[tuple[int, bytes]] = []
    warnings: list[str] = []
    pos, n, lineno = 0, len(data), 0
    while pos < n:
        lineno += 1
        nl = data.find(b"\n", pos, pos + FGETS_BYTES)
        if nl >= 0:
            lines.append((lineno, data[pos:nl + 1]))
            pos = nl + 1
        elif n - pos < FGETS_BYTES:  # fgets met end of file: feof() is true, the line counts
            lines.append((lineno, data[pos:]))
            pos = n
        else:
            warnings.append(f"Skipping extremely long line at line {lineno} of {name}")
            nl = data.find(b"\n", pos)
            pos = n if nl < 0 else nl + 1
    return lines, warnings


def _trim_comments(line: bytes) -> bytes:
    """parse_line: `#` at the start or after a blank ends the line; `\\;` is a `;`, any other `;`
    ends the line; then trailing blanks (anything below 33) go."""
    for i, ch in enumerate(line):
        if ch == 0x23 and (i == 0 or line[i - 1] in b" \t"):
            line = line[:i]
            break
    out = bytearray()
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == 0x3B:
            if out and out[-1] == 0x5C:
                out[-1] = 0x3B
                i += 1
                continue
            break
        out.append(ch)
        i += 1
    while out and out[-1] < 33:
        out.pop()
    return bytes(out)


def _sscanf_int(value: bytes) -> int | None:
    m = _INT.match(value)
    return int(m.group(0)) if m else None


def parse_call_file(text: str | bytes, name: str = "") -> CallFile:
    """A call file read as Asterisk 22's pbx_spool reads it (apply_outgoing, parse_line)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    cf = CallFile()
    lines, cf.warnings = call_file_lines(data, name)
    for lineno, raw in lines:
        line = _trim_comments(raw)
        if not line:
            continue
        key, sep, rest = line.partition(b":")
        if not sep:
            cf.warnings.append(f"Syntax error at line {lineno} of {name}")
            continue
        value = rest.lstrip(b"".join(bytes([c]) for c in range(1, 33))).decode("utf-8", "replace")
        k = key.decode("utf-8", "replace").lower()  # strcasecmp on the key as written: no stripping
        if k == "channel":
            if "/" not in value:
                cf.warnings.append(f"Channel should be in form Tech/Dest at line {lineno} of {name}")
            cf.channel = value
        elif k == "callerid":
            cf.callerid = value
        elif k == "application":
            cf.application = value
        elif k == "data":
            cf.data = value
        elif k in ("maxretries", "priority", "retrytime", "waittime"):
            number = _sscanf_int(rest)
            if k == "maxretries":
                cf.max_retries = number if number is not None else 0
            elif k == "priority":
                cf.priority = number if number is not None and number >= 1 else 1
            elif k == "retrytime":
                cf.retry_time = number if number is not None and number >= 1 else 300
            else:
                cf.wait_time = number if number is not None and number >= 1 else 45
            if number is None or (k != "maxretries" and number < 1):
                cf.warnings.append(f"Invalid {k} at line {lineno} of {name}")
        elif k == "context":
            cf.context = value
        elif k == "extension":
            cf.extension = value
        elif k in ("setvar", "set"):
            var, eq, val = value.partition("=")
            if eq:
                cf.variables[var] = val
            else:
                cf.warnings.append(f'Malformed "{k}" argument.  Should be "{k}: variable=value"')
        elif k == "account":
            cf.account = value
        elif k == "archive":
            cf.archive = value.lower() in ("yes", "true", "y", "t", "1", "on")
        elif k in ("startretry",):
            cf.retries += 1
        elif k in ("codecs", "retry", "endretry", "abortretry", "delayedretry", "alwaysdelete", "early_media"):
            pass
        else:
            cf.warnings.append(f"Unknown keyword '{key.decode('utf-8', 'replace')}' at line {lineno} of {name}")
    return cf


class Spool:
    def __init__(self, pbx, root):
        self.pbx = pbx
        self.root = Path(root)
        self.outgoing = self.root / "outgoing"
        self.done_dir = self.root / "outgoing_done"
        self.outgoing.mkdir(parents=True, exist_ok=True)
        self.done_dir.mkdir(parents=True, exist_ok=True)
        self._active: set[str] = set()
        self._task: asyncio.Task | None = None
        self._attempts: set[asyncio.Task] = set()

    def start(self) -> None:
        self._task = self.pbx.loop.create_task(self._poll_loop())

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self._attempts] if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll_loop(self) -> None:
        interval = max(0.005, self.pbx.options.spool_poll * self.pbx.options.time_scale)
        while True:
            self.scan()
            await asyncio.sleep(interval)

    def scan(self) -> None:
        now = time.time()
        try:
            entries = list(os.scandir(self.outgoing))
        except FileNotFoundError:
            return
        for e in entries:
            if e.name.startswith(".") or e.name in self._active or not e.is_file():
                continue
            try:
                if e.stat().st_mtime > now:
                    continue  # scheduled for later
            except FileNotFoundError:
                continue
            self._active.add(e.name)
            t = self.pbx.loop.create_task(self._attempt(Path(e.path)))
            self._attempts.add(t)
            t.add_done_callback(self._attempts.discard)

    async def _attempt(self, path: Path) -> None:
        try:
            await self._run_attempt(path)
        finally:
            self._active.discard(path.name)

    async def _run_attempt(self, path: Path) -> None:
        scale = self.pbx.options.time_scale
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        cf = parse_call_file(data, str(path))
        self.pbx.warnings.extend(cf.warnings)
        local = _LOCAL.fullmatch(cf.channel) if cf.channel else None
        if not cf.valid:
            self.pbx.warnings.append("At least one of app or extension must be specified, "
                                     f"along with tech and dest in file {path}")
            self._remove(path, cf, "Failed")
            return
        cf.retries += 1
        now = time.time()
        next_try = now + cf.retry_time * scale
        self._append(path, f"StartRetry: {os.getpid()} {cf.retries} ({int(next_try)})")
        os.utime(path, (next_try, next_try))
        req = OriginateRequest(
            exten=local.group(1) if local else "", context=local.group(2) if local else "",
            dest_context=cf.context or "default", dest_exten=cf.extension or "s", dest_priority=cf.priority,
            application=cf.application, data=cf.data, variables=cf.variables, callerid=cf.callerid,
            timeout=cf.wait_time, account=cf.account, source="spool", requested_channel=cf.channel)
        call = self.pbx.start_call(req)
        reason = await asyncio.shield(call.done)
        if reason == 4:
            self._remove(path, cf, "Completed")
        elif cf.retries >= cf.max_retries + 1:
            self._remove(path, cf, "Expired")
        else:
            self._append(path, f"EndRetry: {os.getpid()} {cf.retries} ({int(time.time())})")
            os.utime(path, (next_try, next_try))

    @staticmethod
    def _append(path: Path, line: str) -> None:
        with open(path, "a") as f:
            f.write(f"\n{line}\n")

    def _remove(self, path: Path, cf: CallFile, status: str) -> None:
        if cf.archive:
            text = path.read_text()
            if not text.endswith("\n"):
                text += "\n"
            target = self.done_dir / path.name
            tmp = self.done_dir / f".{path.name}.tmp"
            tmp.write_text(text + f"Status: {status}\n")
            os.replace(tmp, target)
        path.unlink(missing_ok=True)

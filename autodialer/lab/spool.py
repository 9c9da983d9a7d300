"""Call files, processed as Asterisk's pbx_spool does (see cf-*.call and cf_events.txt).

`<spool>/outgoing/` is polled; a file whose mtime is in the future waits. Each attempt appends
`StartRetry: <pid> <n> (<next retry time>)` and pushes the mtime RetryTime ahead; a failed attempt
appends `EndRetry: ...` and waits for that mtime, until MaxRetries+1 attempts were made (Expired).
An answered call is Completed; a file without Channel or destination is Failed. With
`Archive: yes` the file ends in `<spool>/outgoing_done/` with `Status: ...` appended, otherwise it
is deleted. RetryTime/WaitTime and the poll interval are scaled by the lab's time_scale.
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

    @property
    def valid(self) -> bool:
        return bool(self.channel) and (bool(self.application) or bool(self.context or self.extension))


def parse_call_file(text: str) -> CallFile:
    cf = CallFile()
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip() if not raw.lstrip().startswith("Set") else raw.strip()
        if not line or ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        try:
            if key == "channel":
                cf.channel = value
            elif key == "callerid":
                cf.callerid = value
            elif key == "maxretries":
                cf.max_retries = int(value)
            elif key == "retrytime":
                cf.retry_time = float(value)
            elif key == "waittime":
                cf.wait_time = float(value)
            elif key == "context":
                cf.context = value
            elif key in ("extension", "exten"):
                cf.extension = value
            elif key == "priority":
                cf.priority = int(value)
            elif key == "application":
                cf.application = value
            elif key == "data":
                cf.data = value
            elif key == "account":
                cf.account = value
            elif key == "archive":
                cf.archive = value.lower() in ("yes", "true", "1", "on")
            elif key in ("set", "setvar"):
                k, _, v = value.partition("=")
                cf.variables[k.strip()] = v.strip()
            elif key == "startretry":
                cf.retries += 1
        except ValueError:
            pass
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
            text = path.read_text()
        except FileNotFoundError:
            return
        cf = parse_call_file(text)
        local = _LOCAL.fullmatch(cf.channel) if cf.channel else None
        if not cf.valid:
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

"""The local journal: finished results the database could not take, kept on this machine's disk
until it can (issue 13: a database outage of up to 10 minutes loses no result).

One file per run, `<dir>/<campaign>/<run id>.jsonl`, one JSON line per finished attempt (the
CallResult and its contact), each line fsync'd before the call's slot is given back. The run
replays its file as soon as the database answers again; a run that died with lines in its file
is replayed by the campaign's next run on this machine before it resolves anything else. Every
line is replayed through the same write as a live result (autodialer.dialer.dialing.ContactDialer.record):
idempotent per attempt id, so a line replayed twice (a crash after the write, before the line
was dropped) changes nothing.

The file's owner holds an exclusive lock on it (flock) for as long as it lives: a replayer
never touches the file of a live run, and a dead run's lock is released by the kernel.

Where: AUTODIALER_JOURNAL_DIR, else $XDG_STATE_HOME/autodialer/journal, else
~/.local/state/autodialer/journal. It must be a local disk that survives the worker (not /tmp
on tmpfs if the machine may reboot).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path

from autodialer.telephony import outcomes
from autodialer.telephony.outcomes import CallResult, CallStatus
from autodialer.telephony.safety import check_token

log = logging.getLogger("autodialer.journal")

JOURNAL_DIR_VAR = "AUTODIALER_JOURNAL_DIR"
_DATETIMES = ("queued_at", "answered_at", "ended_at")


def journal_dir() -> Path:
    if os.environ.get(JOURNAL_DIR_VAR):
        return Path(os.environ[JOURNAL_DIR_VAR])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "autodialer" / "journal"


def result_from_dict(data: dict) -> CallResult:
    """The inverse of CallResult.to_dict (unknown keys, from a newer version, are ignored)."""
    names = {f.name for f in dataclasses.fields(CallResult)}
    kw = {k: v for k, v in data.items() if k in names}
    kw["status"] = CallStatus(kw["status"])
    for key in _DATETIMES:
        if kw.get(key):
            kw[key] = datetime.fromisoformat(kw[key])
    kind = getattr(outcomes, "FailureKind", None)
    if kind is not None and kw.get("failure"):
        kw["failure"] = kind(kw["failure"])
    return CallResult(**kw)


@dataclasses.dataclass(frozen=True)
class Entry:
    contact_id: int
    result: CallResult
    only_if_dialing: bool = False  # a dead run's attempt as another run resolved it: never over its own record
    final: str | None = None  # the contact done with this result, no retry decided (ContactDialer.call_once)


class Journal:
    """This run's journal file (created on the first append), locked while the run lives.

    Appends come from several executor threads at once (calls that end together while the
    database is away). A thread lock serialises them: without it two first appends each opened
    their own descriptor, and the second waited forever on the flock the first now held for the
    run (flock locks per open file, not per process)."""

    def __init__(self, campaign: str, run_id: str, directory: Path | None = None):
        self.dir = (directory or journal_dir()) / check_token(campaign, field="campaign")
        self.path = self.dir / f"{check_token(run_id, field='run_id')}.jsonl"
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> int:
        if self._fd is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
            _fsync_dir(self.dir)  # the file's name survives a crash too
        return self._fd

    def append(self, contact_id: int, result: CallResult, *, only_if_dialing: bool = False,
               final: str | None = None) -> None:
        """Write one finished result and fsync it: once this returns, a crash cannot lose it."""
        data = {"contact_id": contact_id, "result": result.to_dict()}
        if only_if_dialing:
            data["only_if_dialing"] = True
        if final is not None:
            data["final"] = final
        line = json.dumps(data, ensure_ascii=False) + "\n"
        with self._lock:
            fd = self._open()
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)

    def pending(self) -> list[Entry]:
        return read_entries(self.path)

    def drop(self, done: list[Entry]) -> None:
        """Mark replayed entries done (a `done` line each, fsync'd: the file is only ever appended to)."""
        if done:
            with self._lock:
                _append_done(self._open(), done)

    def close(self) -> None:
        """Release the lock; a file with nothing pending is removed, else left for the next run."""
        with self._lock:
            if self._fd is None:
                return
            if not read_entries(self.path):
                self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


def read_entries(path: Path) -> list[Entry]:
    """The entries of a journal file not yet marked done; a torn last line (a crash mid-write,
    never fsync'd, so never acknowledged) is ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries: dict[str, Entry] = {}
    done: set[str] = set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if "done" in data:
                done.add(str(data["done"]))
                continue
            entry = Entry(int(data["contact_id"]), result_from_dict(data["result"]), bool(data.get("only_if_dialing")),
                          data.get("final"))
            entries[entry.result.attempt_id] = entry
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s:%d: unreadable journal line skipped (%s)", path, n, exc)
    return [e for a, e in entries.items() if a not in done]


def orphaned_journals(campaign: str, directory: Path | None = None) -> list[tuple[Path, int]]:
    """Journal files of the campaign whose run is gone (their lock is free), each with an fd
    that holds the lock now: (path, fd). Hand it to release_orphan when done."""
    root = (directory or journal_dir()) / check_token(campaign, field="campaign")
    out = []
    for path in sorted(root.glob("*.jsonl")) if root.is_dir() else []:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a live run's
            continue
        out.append((path, fd))
    return out


def release_orphan(path: Path, fd: int, done: list[Entry]) -> None:
    """Mark `done` replayed; remove the file if nothing is left; release the lock."""
    if done:
        _append_done(fd, done)
    if not read_entries(path):
        path.unlink(missing_ok=True)
    os.close(fd)


def _append_done(fd: int, done: list[Entry]) -> None:
    os.write(fd, "".join(json.dumps({"done": e.result.attempt_id}) + "\n" for e in done).encode("utf-8"))
    os.fsync(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

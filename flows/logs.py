"""The dialer's own log records (`autodialer.*`: "AMI connection lost", "store unreachable;
retrying", ...) in the flow run's logs, where an operator looking at a failed run in the
Prefect UI looks for the reason.

Prefect sends only its own loggers to the API (and those named in PREFECT_LOGGING_EXTRA_LOGGERS,
which nobody remembers to set on a worker). So every flow of ours calls `forward_run_logs(...)`
first: one handler on the `autodialer` logger, installed once per process, forwards the
records emitted inside that flow run (its tasks, threads and AMI callbacks) to the run, at the level AUTODIALER_LOG_LEVEL says (WARNING unless set;
INFO adds a line per attempt). The handler only sends to the API: the console keeps the one
line the root logger's handler prints, so a worker's console shows each record once. Records
outside a run (the lab PBX's threads, a CLI command) are not sent: there is no run to attach
them to. With the campaign's `mask_pii`, the forwarded text goes through
`autodialer.campaigns.privacy.mask_text` first.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable
from uuid import UUID

from prefect.logging.handlers import APILogHandler

from autodialer.errors import ConfigError

LEVEL_VAR = "AUTODIALER_LOG_LEVEL"
DEFAULT_LEVEL = logging.WARNING
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


@dataclass(frozen=True)
class Forwarding:
    """What one flow run forwards: records at `level` and above, their text through `mask`."""

    level: int
    mask: Callable[[str], str] | None = None


# Flow run id -> its Forwarding. Keyed by run, not a context variable, so a record from any
# task, thread or callback of the run finds it; the oldest entries go in a long-lived process.
_runs: OrderedDict[UUID, Forwarding] = OrderedDict()
_MAX_RUNS = 1000


def level_from_env(env: dict[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    raw = (env.get(LEVEL_VAR) or "").strip().upper()
    if not raw:
        return DEFAULT_LEVEL
    if raw not in LEVELS:
        raise ConfigError(f"{LEVEL_VAR}={raw!r}: expected one of {', '.join(LEVELS)}")
    return LEVELS[raw]


def _current_run_id() -> UUID | None:
    from prefect.context import FlowRunContext, TaskRunContext

    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        return flow_ctx.flow_run.id
    task_ctx = TaskRunContext.get()
    if task_ctx is not None:
        return task_ctx.task_run.flow_run_id
    return None


def _forwarding() -> Forwarding | None:
    run_id = _current_run_id()
    return _runs.get(run_id) if run_id is not None else None


class RunLogForwarder(APILogHandler):
    """Sends `autodialer.*` records emitted inside a flow run that called `forward_run_logs`."""

    def emit(self, record: logging.LogRecord) -> None:
        forwarding = _forwarding()
        if forwarding is None or record.levelno < forwarding.level:
            return
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        forwarding = _forwarding()
        return forwarding.mask(text) if forwarding and forwarding.mask else text


_installed: RunLogForwarder | None = None


def install() -> RunLogForwarder:
    """One forwarder on the `autodialer` logger per process (idempotent)."""
    global _installed
    logger = logging.getLogger("autodialer")
    if _installed is None:
        # Prefect's own API handler, when someone also put `autodialer` in
        # PREFECT_LOGGING_EXTRA_LOGGERS, would send every record a second time, unmasked.
        for handler in list(logger.handlers):
            if type(handler) is APILogHandler:
                logger.removeHandler(handler)
        _installed = RunLogForwarder()
        logger.addHandler(_installed)
    return _installed


def forward_run_logs(*, mask: Callable[[str], str] | None = None, level: int | None = None) -> Forwarding:
    """Called first thing in a flow run: from now on its `autodialer.*` records go to its logs.

    The `autodialer` logger's level is lowered when INFO is asked for, so those records are
    created at all (the root logger stays at WARNING for every other library)."""
    install()
    forwarding = Forwarding(level=level_from_env() if level is None else level, mask=mask)
    run_id = _current_run_id()
    if run_id is None:
        return forwarding  # not in a flow run (a flow's function called bare): nothing to attach to
    logger = logging.getLogger("autodialer")
    if logger.getEffectiveLevel() > forwarding.level:
        logger.setLevel(forwarding.level)
    _runs[run_id] = forwarding
    while len(_runs) > _MAX_RUNS:
        _runs.popitem(last=False)
    return forwarding

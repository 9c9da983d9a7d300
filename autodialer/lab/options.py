"""Settings of one lab PBX instance (CLI flags and the Python API share them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from autodialer.errors import ConfigError


@dataclass
class LabOptions:
    host: str = "127.0.0.1"
    port: int = 5038  # 0 = an ephemeral port (tests)
    username: str = "dialer"
    # repr=False: the AMI secret never reaches logs or reprs.
    secret: str = field(default="dialer-secret", repr=False)
    time_scale: float = 1.0  # every dialplan duration is multiplied by this (0.01 in tests)
    mode: str = "plan"  # "plan": the numbering plan decides; "random": drawn per call (benchmarks)
    seed: int | None = None
    # queue "support"
    agents: int = 2
    agent_talk: float = 5.0  # sim-agents: Wait(5)
    agent_wrapup: float = 0.0
    agent_talk_mean: float = 0.0  # > 0: each agent's talk is exponential with this mean (pacing benchmarks), not agent_talk
    # the dialplan the lab executes (None = asterisk-lab/extensions.conf and confbridge.conf)
    dialplan: Path | str | None = None
    confbridge: Path | str | None = None
    trace_limit: int = 200_000  # applications/functions kept in LabPBX.trace (the newest; bounded for long runs)
    # Asterisk's CDR table in PostgreSQL (cdr_pgsql), written at each call's end (None = off)
    cdr_url: str | None = field(default=None, repr=False)
    cdr_table: str = "cdr"
    # call-file spool (None = off)
    spool_dir: Path | str | None = None
    spool_poll: float = 1.0  # seconds, scaled
    # random mode: outcome rates (the rest is unallocated numbers) and time distributions
    answer_rate: float = 0.6
    busy_rate: float = 0.15
    no_answer_rate: float = 0.15
    congestion_rate: float = 0.05
    ring_min: float = 2.0
    ring_max: float = 15.0
    talk_mean: float = 30.0  # exponential, clipped to [talk_min, talk_max]
    talk_min: float = 2.0
    talk_max: float = 300.0

    def check(self) -> "LabOptions":
        if self.mode not in ("plan", "random"):
            raise ConfigError(f"lab mode must be 'plan' or 'random', got {self.mode!r}")
        if not self.time_scale > 0:
            raise ConfigError(f"lab time_scale must be > 0, got {self.time_scale!r}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"lab port must be 0..65535, got {self.port!r}")
        if self.agents < 0:
            raise ConfigError(f"lab agents must be >= 0, got {self.agents!r}")
        rates = (self.answer_rate, self.busy_rate, self.no_answer_rate, self.congestion_rate)
        if any(r < 0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ConfigError("lab random rates must be >= 0 and sum to at most 1")
        if not 0 <= self.ring_min <= self.ring_max:
            raise ConfigError("lab ring_min must be between 0 and ring_max")
        return self

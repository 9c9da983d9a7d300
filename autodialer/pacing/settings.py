"""`PacingSettings`: how fast a campaign dials (the campaign file's `pacing:` section).

```yaml
pacing:
  mode: predictive          # fixed | progressive | predictive
  queue: support            # the operators' queue (progressive, predictive)
  max_channels: 60          # never more calls in flight than this, whatever the mode
  max_originates_per_second: 5
  abandon_cap: 0.03         # predictive: abandoned / answered over `window`
  connect_within: 2s        # answered and no operator within this: abandoned (the dialplan's queue wait)
  connect_from: answer      # after AMD, where those seconds start: answer | greeting_end
  window: 24h               # the rolling window of the cap (Ofcom 24 h; the FTC counts 30 days)
  min_ratio: 1.0            # predictive: dial ratio bounds (calls dialed per operator expected free)
  max_ratio: 8.0
  stop_ringing: true        # predictive: end calls still ringing when no operator could take their answer...
  min_ring: 15s             # ... but only once they have rung this long (FCC: 15 s or four rings)
```

Validated with errors that name the field (`pacing.queue: ...`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autodialer.rules.durations import parse_duration
from autodialer.errors import ConfigError, validation_problems
from autodialer.telephony.safety import check_token


class PacingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["fixed", "progressive", "predictive"] = "fixed"
    # fixed: the number of simultaneous calls; the other modes: a ceiling on calls in flight.
    max_channels: int = Field(default=10, ge=1, le=2000)
    max_originates_per_second: float = Field(default=5.0, gt=0, le=1000)
    queue: str | None = None
    abandon_cap: float = Field(default=0.03, gt=0, le=0.5)
    window: float = 24 * 3600.0  # seconds; accepts "24h", "30d"
    # Abandoned = answered and not connected to an operator within this many seconds (the
    # dialplan's Queue timeout; regulators say 2 s). Informational here: the dialplan enforces it.
    connect_within: float = Field(default=2.0, gt=0, le=60)
    # Where those seconds start after AMD (the campaign's `amd:`; without it, the answer: the
    # queue is joined at once). `answer`: from the answer, before the person spoke (the strictest:
    # AMD's HUMAN verdict alone takes ~1-3 s). `greeting_end`: from the end of the called person's
    # greeting, as US TCPA 47 CFR 64.1200(a)(7) and Ofcom count it: the verdict's time less the
    # silence after the greeting that AMDCAUSE reports (HUMAN-<silence ms>-<afterGreetingSilence>,
    # apps/app_amd.c); a NOTSURE passed on has no greeting end: counted from the answer.
    connect_from: Literal["answer", "greeting_end"] = "answer"
    min_ratio: float = Field(default=1.0, ge=1.0, le=50)
    max_ratio: float = Field(default=8.0, ge=1.0, le=50)
    # Until measured: the answer rate and handle time assumed at the start of a run.
    answer_rate_prior: float = Field(default=0.3, gt=0, le=1)
    handle_time_prior: float = Field(default=120.0, gt=0)  # seconds of talk + wrap-up
    ring_time_prior: float = Field(default=15.0, gt=0)  # seconds from dial to answer
    # Predictive: a call still ringing after `min_ring` (counted from its Ringing state) is ended
    # (NO_ANSWER, retried by the policy) when the answers expected within `connect_within` exceed
    # the operators free. It cuts the answers nobody could take: more occupancy at the same cap.
    stop_ringing: bool = True
    min_ring: float = Field(default=15.0, ge=0, le=300)
    adjust_every: float = Field(default=15.0, gt=0)  # seconds between ratio adjustments (VICIdial: 15 s)
    outbound_context: str = "dialer-outbound"  # to tell our callers from inbound ones in queue events

    @field_validator("window", "handle_time_prior", "ring_time_prior", "adjust_every", "connect_within", "min_ring", mode="before")
    @classmethod
    def _duration(cls, v):
        return parse_duration(v)

    @field_validator("queue", "outbound_context")
    @classmethod
    def _token(cls, v, info):
        return None if v is None else check_token(v, field=info.field_name)

    @model_validator(mode="after")
    def _consistent(self) -> "PacingSettings":
        if self.mode in ("progressive", "predictive") and not self.queue:
            raise ValueError(f"queue: required in {self.mode} mode (the operators' queue whose free members pace the dialing)")
        if self.min_ratio > self.max_ratio:
            raise ValueError(f"min_ratio ({self.min_ratio:g}) is above max_ratio ({self.max_ratio:g})")
        if self.window < 60:
            raise ValueError(f"window: {self.window:g} s is too short to measure abandonment (at least 60 s)")
        return self

    @classmethod
    def parse(cls, data: dict | None, *, where: str = "pacing") -> "PacingSettings":
        """From a mapping (the campaign file's `pacing:`); ConfigError naming the field on bad input."""
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            raise ConfigError("; ".join(validation_problems(exc, prefix=where))) from None

"""The `recall:` section of a recall campaign file."""

from __future__ import annotations

from typing import List

from pydantic import BaseModel, ConfigDict, Field, field_validator

from autodialer.rules.durations import parse_duration
from autodialer.telephony.safety import check_token


class RecallSettings(BaseModel):
    """    recall:
      queues: [support]          # missed calls of these queues are called back (default: destination.queue)
      delay: 0s                  # wait this long after the miss before calling back
      within: 30m                # a missed call not called back within this is dropped (result `expired`)
      period: day                # one recall per number per period: day (campaign time zone) or a duration
      cdr: true                  # also read Asterisk's cdr table (AUTODIALER_CDR_DATABASE_URL)
      cdr_poll: 30s              # how often
      inbound_contexts: []       # CDR rows of these dcontexts only (empty: any context)
    """

    model_config = ConfigDict(extra="forbid")
    queues: List[str] = Field(default_factory=lambda: [])
    delay: float = 0.0
    within: float = 1800.0
    period: str = "day"
    cdr: bool = True
    cdr_poll: float = 30.0
    cdr_table: str = "cdr"
    inbound_contexts: List[str] = Field(default_factory=lambda: [])

    @field_validator("delay", "within", "cdr_poll", mode="before")
    @classmethod
    def _duration(cls, v):
        return parse_duration(v)

    @field_validator("within", "cdr_poll")
    @classmethod
    def _positive(cls, v: float, info) -> float:
        if v <= 0:
            raise ValueError(f"{info.field_name} must be more than 0 s")
        return v

    @field_validator("period")
    @classmethod
    def _period(cls, v: str) -> str:
        if v != "day":
            if parse_duration(v) <= 0:
                raise ValueError("period must be 'day' or a duration such as 12h")
        return v

    @field_validator("queues", "inbound_contexts")
    @classmethod
    def _tokens(cls, v: List[str], info) -> List[str]:
        return [check_token(x, field=info.field_name) for x in v]

    @field_validator("cdr_table")
    @classmethod
    def _table(cls, v: str) -> str:
        return check_token(v, field="cdr_table")

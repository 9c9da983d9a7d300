"""Fault injection for reliability tests: dropped connections, stalls, refused logins, failed originates.

Every switch is a plain attribute or a method, usable from tests (`lab.faults.stall(2.0)`) and from
CLI flags. Counters (`next N`) count down; rates draw from the lab's seeded random generator.
"""

from __future__ import annotations

import random
import time


class Faults:
    def __init__(self, rng: random.Random):
        self._rng = rng
        self._sessions = None  # set by the server: a callable returning the live sessions
        self.clear()

    def clear(self) -> None:
        self.refuse_login_count = 0  # -1: every login
        self.fail_originate_count = 0  # -1: every originate
        self.fail_originate_rate = 0.0
        self.fail_originate_mode = "error"  # "error": Response: Error; "silent": queued, never an OriginateResponse
        self.drop_after_actions: int | None = None  # each connection is dropped after N actions
        self.stalled_until = 0.0  # monotonic time

    # --- switches ---------------------------------------------------------------------------
    def refuse_logins(self, count: int | None = None) -> None:
        """Refuse the next `count` logins (None: all, until clear())."""
        self.refuse_login_count = -1 if count is None else int(count)

    def fail_originates(self, count: int | None = None, *, rate: float | None = None, mode: str = "error") -> None:
        """Fail the next `count` originates (None and no rate: all), or each with probability `rate`."""
        if mode not in ("error", "silent"):
            raise ValueError("mode must be 'error' or 'silent'")
        self.fail_originate_mode = mode
        if rate is not None:
            self.fail_originate_rate = float(rate)
            self.fail_originate_count = 0 if count is None else int(count)
        else:
            self.fail_originate_count = -1 if count is None else int(count)

    def drop_after(self, actions: int | None) -> None:
        """Drop every connection right after it has sent `actions` actions (None: off)."""
        self.drop_after_actions = actions

    def stall(self, seconds: float) -> None:
        """Stop answering actions and sending events for `seconds` (wall clock, not scaled)."""
        self.stalled_until = time.monotonic() + seconds

    def drop_connections(self) -> int:
        """Drop every connected session now (a TCP reset, as a crashing PBX). Returns how many."""
        sessions = list(self._sessions()) if self._sessions else []
        for s in sessions:
            s.drop()
        return len(sessions)

    # --- checks used by the server ----------------------------------------------------------
    def stall_remaining(self) -> float:
        return max(0.0, self.stalled_until - time.monotonic())

    def take_login_refusal(self) -> bool:
        if self.refuse_login_count == 0:
            return False
        if self.refuse_login_count > 0:
            self.refuse_login_count -= 1
        return True

    def take_originate_failure(self) -> str | None:
        """None if this originate goes through, else the failure mode."""
        if self.fail_originate_count:
            if self.fail_originate_count > 0:
                self.fail_originate_count -= 1
            return self.fail_originate_mode
        if self.fail_originate_rate and self._rng.random() < self.fail_originate_rate:
            return self.fail_originate_mode
        return None

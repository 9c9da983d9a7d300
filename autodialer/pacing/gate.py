"""The pacing rule of each mode in one place: how many calls may be dialing (not yet at an
operator) given the operators' queue. The live pacers and the benchmark's simulation both use it."""

from __future__ import annotations

from autodialer.pacing.predictive import PredictiveController


def dialing_allowed(mode: str, *, free: int, busy: int, waiting: int,
                    controller: PredictiveController | None = None, ages=None, busy_for=None) -> int | None:
    """Calls allowed to be dialing now; None: no queue-based limit (fixed mode).

    `free`: operators ready for a call; `busy`: operators talking or in wrap-up; `waiting`:
    answered callers queued for an operator (they need one before any new call does); `ages`:
    seconds since each call now dialing was placed, `busy_for`: seconds each busy operator has
    been busy (predictive: they refine the answers and the operators expected)."""
    if mode == "fixed":
        return None
    if mode == "progressive":
        return max(0, free - waiting)
    if mode == "predictive":
        if controller is None:
            raise ValueError("predictive pacing needs a PredictiveController")
        controller.on_operators(free, free + busy, waiting)
        return controller.dialing_allowed(free, busy, waiting, ages, busy_for)
    raise ValueError(f"unknown pacing mode {mode!r}")

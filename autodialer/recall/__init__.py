"""Recall of missed calls: find them (AMI listener, CDR table), turn them into recall contacts
(one per number per period), call them back into the queue that missed them while it has a
free operator. `missed` finds, `planner` decides who is called, `runner` dials."""

from autodialer.recall.missed import MissedCall, MissedCallTracker
from autodialer.recall.settings import RecallSettings

__all__ = ["MissedCall", "MissedCallTracker", "RecallSettings"]

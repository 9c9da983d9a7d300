"""The store's own error (a module of its own, so every store module can raise it without
importing the Store)."""

from __future__ import annotations

from autodialer.errors import AutodialerError


class StoreError(AutodialerError):
    """A store operation was asked something impossible (unknown campaign, attempt, state)."""

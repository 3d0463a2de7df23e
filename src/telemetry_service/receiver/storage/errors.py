"""The report store's own error; the others are ``common.db``'s (the receiver re-exports them)."""

from __future__ import annotations

from telemetry_service.common.db.base import StoreError

__all__ = ["StoreBusyError"]


class StoreBusyError(StoreError):
    """The write queue is full; retry later."""

"""Errors of the report store."""

from __future__ import annotations

__all__ = ["StoreBusyError", "StoreError", "StoreUnavailableError"]


class StoreError(Exception):
    """Base class of report store errors."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached, refused the operation, or the store is closed."""


class StoreBusyError(StoreError):
    """The write queue is full; retry later."""

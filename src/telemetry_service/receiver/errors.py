"""Errors of the receiver. Messages are one line and never hold payload contents or keys."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ReceiverError",
    "Rejection",
    "StartupError",
]


class ReceiverError(Exception):
    """Base class of the receiver's errors."""


class ConfigError(ReceiverError):
    """Invalid configuration: the message names the key path and what is allowed."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        where = f" [{key}]" if key else ""
        super().__init__(f"invalid receiver config{where}: {message}")


class StartupError(ReceiverError):
    """The receiver cannot start (unsafe key file, unreachable store, unsafe address)."""


class Rejection(ReceiverError):
    """An ingest request refused with an HTTP status and a stable reason code.

    `reason` is a short snake_case code (``unknown_kid``, ``cluster_mismatch``…) used in the
    JSON answer and as a metrics label; `message` explains it without echoing the payload.
    """

    def __init__(
        self, status: int, reason: str, message: str, *, retry_after: int | None = None
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{status} {reason}: {message}")

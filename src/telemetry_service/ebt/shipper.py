"""What a shipper is to the analytics client (spec 1.7, ``ebt:src/client/src/shippers/types.ts``).

A shipper owns transport: ``report_events`` only queues (it runs on the caller's path),
``opt_in`` receives the global answer for this shipper, ``extend_context`` the global context,
and its own counters are re-emitted by the client with ``source`` set to ``shipper_name``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .counters import CounterStream
from .events import Event

__all__ = ["Shipper", "ShipperContext"]


@dataclass(frozen=True)
class ShipperContext:
    """The client's init context as a shipper sees it: a child logger and the dev flag."""

    logger: logging.Logger
    is_dev: bool = False


class Shipper(ABC):
    """Base of every shipper. Subclasses take ``(config, context: ShipperContext)``."""

    shipper_name: ClassVar[str]

    def __init__(self, context: ShipperContext) -> None:
        self.context = context
        self.telemetry_counters = CounterStream()

    @abstractmethod
    def report_events(self, events: Sequence[Event]) -> None:
        """Queue events; never blocks, never performs I/O on the caller's path."""

    @abstractmethod
    def opt_in(self, is_opted_in: bool) -> None:
        """The client's answer for this shipper (no event type), on every ``opt_in``."""

    def extend_context(self, context: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """The global context, once an opt-in config exists (spec 1.6)."""

    @abstractmethod
    async def flush(self) -> None:
        """Send what is queued now; resolves when the requests it started are done."""

    @abstractmethod
    async def shutdown(self) -> None:
        """A last flush, then stop every background task."""

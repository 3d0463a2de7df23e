"""Which shippers exist and which receive an event type (spec 1.7, ``shippers_registry.ts``).

A shipper is global, or exclusive to some event types; once a type has an exclusive shipper,
global shippers no longer receive it. Calls into shippers are guarded here: a shipper's failure
is logged with Kibana's message and never reaches the client's caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from .events import Event, EventContext
from .opt_in import OptInConfig
from .shipper import Shipper

__all__ = ["ShipperRegistry"]


class ShipperRegistry:
    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._global: dict[str, Shipper] = {}
        self._exclusive: dict[str, dict[str, Shipper]] = {}

    def __bool__(self) -> bool:
        return bool(self._global or self._exclusive)

    def check_free(self, name: str, exclusive_event_types: Sequence[str]) -> None:
        """Raise Kibana's error when ``name`` is taken (before the shipper is built)."""
        if not exclusive_event_types and name in self._global:
            raise ValueError(f'Shipper "{name}" is already registered')
        for event_type in exclusive_event_types:
            if name in self._exclusive.get(event_type, {}):
                raise ValueError(f"{name} is already registered for event-type {event_type}")

    def add(self, name: str, shipper: Shipper, exclusive_event_types: Sequence[str]) -> None:
        self.check_free(name, exclusive_event_types)
        if not exclusive_event_types:
            self._global[name] = shipper
        for event_type in exclusive_event_types:
            self._exclusive.setdefault(event_type, {})[name] = shipper

    def all(self) -> list[tuple[str, Shipper]]:
        """Every shipper once, with its name."""
        found = {id(s): (n, s) for n, s in self._global.items()}
        for shippers in self._exclusive.values():
            found.update({id(s): (n, s) for n, s in shippers.items()})
        return list(found.values())

    def route(self, config: OptInConfig, event_type: str) -> list[tuple[str, Shipper]]:
        """The shippers an event of ``event_type`` goes to under ``config`` (``sendToShipper``):
        the type's exclusive shippers, else the global ones, each if opted in for the type."""
        if not config.is_event_type_opted_in(event_type):
            return []
        candidates = self._exclusive.get(event_type) or self._global
        return [(n, s) for n, s in candidates.items() if config.is_shipper_opted_in(n, event_type)]

    def deliver(
        self, route: list[tuple[str, Shipper]], event_type: str, events: list[Event]
    ) -> bool:
        """Report ``events`` to each shipper of ``route``; True when there was one."""
        for name, shipper in route:
            try:
                shipper.report_events(events)
            except Exception:
                self._log.warning(
                    'Failed to report event "%s" via shipper "%s"', event_type, name, exc_info=True
                )
        return bool(route)

    def extend(self, name: str, shipper: Shipper, context: EventContext) -> None:
        try:
            shipper.extend_context(context)
        except Exception:
            self._log.warning('Shipper "%s" failed to extend the context', name, exc_info=True)

    def push_opt_in(self, name: str, shipper: Shipper, config: OptInConfig) -> None:
        """``shipper.opt_in(config.is_shipper_opted_in(name))``: the answer without a type."""
        answer = config.is_shipper_opted_in(name)
        try:
            shipper.opt_in(answer)
        except Exception:
            self._log.warning(
                "Failed to set isOptedIn:%s in shipper %s", str(answer).lower(), name, exc_info=True
            )

    async def flush(self) -> None:
        """Flush every shipper in parallel; a failure is logged and swallowed."""
        shippers = self.all()
        results = await asyncio.gather(*(s.flush() for _, s in shippers), return_exceptions=True)
        for (name, _), result in zip(shippers, results, strict=True):
            if isinstance(result, BaseException):
                self._log.warning('Failed to flush shipper "%s"', name, exc_info=result)

    async def shutdown(self) -> None:
        """Shut every shipper down in turn; a failure is logged and swallowed."""
        for name, shipper in self.all():
            try:
                await shipper.shutdown()
            except Exception:
                self._log.warning('Failed to shutdown shipper "%s"', name, exc_info=True)

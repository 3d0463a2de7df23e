"""Context providers and the global context every event carries (spec 1.6, ``context_service``).

A provider is a name, a schema and a source: a constant mapping, or anything with
``subscribe(listener) -> unsubscribe`` such as :class:`ContextValue` (Kibana's ``context$``).
The global context is the shallow merge of each provider's last value in registration order:
later providers win, ``None`` values are skipped, and every change builds a new dict.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .schema import Validator, compile_schema, format_errors

__all__ = ["ContextListener", "ContextService", "ContextSource", "ContextValue"]

ContextListener = Callable[[Mapping[str, Any] | None], None]


class ContextSource(Protocol):
    """A stream of context values; ``subscribe`` may call the listener at once (a replay)."""

    def subscribe(self, listener: ContextListener) -> Callable[[], None]: ...


class ContextValue:
    """The smallest :class:`ContextSource`: holds a value, replays it, pushes each ``set``."""

    def __init__(self, value: Mapping[str, Any] | None = None) -> None:
        self._value = value
        self._listeners: list[ContextListener] = []

    @property
    def value(self) -> Mapping[str, Any] | None:
        return self._value

    def set(self, value: Mapping[str, Any] | None) -> None:
        self._value = value
        for listener in list(self._listeners):
            listener(value)

    def subscribe(self, listener: ContextListener) -> Callable[[], None]:
        self._listeners.append(listener)
        if self._value is not None:
            listener(self._value)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe


class _Constant:
    def __init__(self, value: Mapping[str, Any]) -> None:
        self._value = value

    def subscribe(self, listener: ContextListener) -> Callable[[], None]:
        listener(self._value)
        return lambda: None


class ContextService:
    """Owns the providers' last values and rebuilds the global context on every change."""

    def __init__(self, on_change: Callable[[Mapping[str, Any]], None]) -> None:
        self._on_change = on_change
        self._values: dict[str, Mapping[str, Any]] = {}
        self._unsubscribe: dict[str, Callable[[], None]] = {}
        self._warned: set[str] = set()
        self._log = logging.getLogger("telemetry_service.ebt.context")
        self.context: Mapping[str, Any] = {}

    def register(
        self,
        name: str,
        context: Mapping[str, Any] | ContextSource,
        schema: Mapping[str, Any] | None,
    ) -> None:
        """Subscribe to a provider; a duplicate name raises (Kibana's message)."""
        if name in self._unsubscribe:
            raise ValueError(f"Context provider with name '{name}' already registered")
        validator = compile_schema(schema, f"Context Provider '{name}'") if schema else None
        source: ContextSource = _Constant(context) if isinstance(context, Mapping) else context
        self._values[name] = {}  # the position is fixed at registration
        self._unsubscribe[name] = lambda: None
        try:
            self._unsubscribe[name] = source.subscribe(
                lambda value: self._receive(name, validator, value)
            )
        except Exception:
            del self._values[name], self._unsubscribe[name]
            raise

    def remove(self, name: str) -> None:
        """Unsubscribe, forget the value, rebuild; a missing name is a no-op (ebt 1.4.1)."""
        unsubscribe = self._unsubscribe.pop(name, None)
        if unsubscribe is None:
            return
        unsubscribe()
        self._values.pop(name, None)
        self._rebuild()

    def close(self) -> None:
        for unsubscribe in self._unsubscribe.values():
            unsubscribe()
        self._unsubscribe.clear()

    def _receive(
        self, name: str, validator: Validator | None, value: Mapping[str, Any] | None
    ) -> None:
        if name not in self._values:
            return
        value = value if isinstance(value, Mapping) else {}
        if validator is not None:
            problems = validator.problems(value)
            if problems:
                # Kibana (dev) logs every bad emission and keeps the subscription; we log once
                # per provider, since a provider repeats its mistake with every value.
                if name not in self._warned:
                    self._warned.add(name)
                    self._log.error("%s", format_errors(validator.source, problems))
                return
        self._values[name] = value
        self._rebuild()

    def _rebuild(self) -> None:
        merged: dict[str, Any] = {}
        for value in self._values.values():
            merged.update((k, v) for k, v in value.items() if v is not None)
        self.context = merged
        self._on_change(merged)

"""Collectors (spec 7.1): a `type`, an `is_ready` check, a `fetch` and, for usage collectors,
a `schema` describing every field that `fetch` may return.

`fetch` and `is_ready` may be sync or async. Async ones run on the event loop; sync ones are
called in a worker thread by the `CollectorSet` (see `blocking.py`), so a collector that blocks
never blocks the loop.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, Unpack, overload

from .schema import Schema, validate_schema

__all__ = [
    "AnyCollector",
    "AsyncFetch",
    "Collector",
    "CollectorFetchContext",
    "CollectorOptions",
    "ExtendFetchContext",
    "FetchMethod",
    "IsReadyMethod",
    "StatsCollectorOptions",
    "SyncFetch",
    "UsageCollector",
    "make_stats_collector",
    "make_usage_collector",
]

T = TypeVar("T")

_LOGGER_PREFIX = "telemetry_service.usage_collection.collector"


@dataclass(frozen=True, slots=True)
class CollectorFetchContext:
    """What `fetch` receives: the store, the collector's own logger and, for collectors that opted
    in with ``extend_fetch_context={"request": True}``, the request being served."""

    store: object | None = None
    logger: logging.Logger = dataclasses.field(
        default_factory=lambda: logging.getLogger(_LOGGER_PREFIX)
    )
    request: object | None = None


class ExtendFetchContext(TypedDict, total=False):
    """Optional extras a collector asks for in its fetch context."""

    request: bool


FetchMethod = Callable[[CollectorFetchContext], Awaitable[T]] | Callable[[CollectorFetchContext], T]
"""``fetch(context)``: sync (runs in a thread) or async; its result is reported under `type`."""
AsyncFetch = Callable[[CollectorFetchContext], Awaitable[T]]
SyncFetch = Callable[[CollectorFetchContext], T]

IsReadyMethod = Callable[[], "bool | Awaitable[bool]"]
"""``is_ready()``: sync (runs in a thread) or async; only ``True`` means ready."""


def _is_async(func: Callable[..., object]) -> bool:
    """Coroutine functions, partials of them and objects with an ``async __call__``."""
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__)


class Collector(Generic[T]):
    """A stats collector: reported as-is under its `type` (its `schema` is optional)."""

    def __init__(
        self,
        *,
        type: str,
        fetch: FetchMethod[T],
        is_ready: IsReadyMethod | None = None,
        schema: Schema | None = None,
        extend_fetch_context: ExtendFetchContext | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not isinstance(type, str) or not type:
            raise ValueError("Collector must be instantiated with a type string property")
        if not callable(fetch):
            raise TypeError(f'Collector "{type}" must be instantiated with a fetch function')
        if is_ready is not None and not callable(is_ready):
            raise TypeError(f'Collector "{type}": is_ready must be a function or None')
        extras = {key: bool(on) for key, on in (extend_fetch_context or {}).items()}
        unknown = sorted(set(extras) - set(ExtendFetchContext.__annotations__))
        if unknown:
            raise ValueError(f'Collector "{type}": unknown extend_fetch_context key(s) {unknown}')
        if schema is not None:
            validate_schema(schema, collector_type=type)
        self.type = type
        self.fetch = fetch
        self.is_ready = is_ready
        self.schema: Schema | None = schema
        self.extend_fetch_context: Mapping[str, bool] = extras
        self.log = logger or logging.getLogger(f"{_LOGGER_PREFIX}.{type}")
        self.is_async_fetch = _is_async(fetch)
        self.is_async_is_ready = is_ready is not None and _is_async(is_ready)

    @property
    def wants_request(self) -> bool:
        """Whether `fetch` gets the request in its context (``extend_fetch_context``)."""
        return bool(self.extend_fetch_context.get("request"))

    def context_for(self, context: CollectorFetchContext) -> CollectorFetchContext:
        """The context this collector sees: its own logger; the request only if it opted in."""
        request = context.request if self.wants_request else None
        return dataclasses.replace(context, logger=self.log, request=request)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.type!r}>"


class CollectorOptions(TypedDict, total=False):
    """The optional arguments of every collector factory (`CollectorSet`'s too)."""

    is_ready: IsReadyMethod | None
    extend_fetch_context: ExtendFetchContext | None


class StatsCollectorOptions(CollectorOptions, total=False):
    """`CollectorOptions` and a stats collector's optional schema."""

    schema: Schema | None


class _Options(CollectorOptions, total=False):
    """`CollectorOptions` and the logger, which `CollectorSet`'s factories choose themselves."""

    logger: logging.Logger | None


class UsageCollector(Collector[T]):
    """A usage collector: its `schema` is required and its output is checked against it."""

    schema: Schema

    def __init__(
        self, *, type: str, fetch: FetchMethod[T], schema: Schema, **options: Unpack[_Options]
    ) -> None:
        if schema is None:
            raise ValueError(f'Usage collector "{type}" must be instantiated with a schema')
        super().__init__(type=type, fetch=fetch, schema=schema, **options)


# The factories are overloaded so that type checkers infer `T` from sync and async `fetch` alike.


@overload
def make_usage_collector(
    *, type: str, fetch: AsyncFetch[T], schema: Schema, **options: Unpack[_Options]
) -> UsageCollector[T]: ...
@overload
def make_usage_collector(
    *, type: str, fetch: SyncFetch[T], schema: Schema, **options: Unpack[_Options]
) -> UsageCollector[T]: ...
def make_usage_collector(
    *, type: str, fetch: SyncFetch[Any], schema: Schema, **options: Unpack[_Options]
) -> UsageCollector[Any]:
    """Create a `UsageCollector` (register it with `CollectorSet.register_collector`)."""
    return UsageCollector(type=type, fetch=fetch, schema=schema, **options)


@overload
def make_stats_collector(
    *, type: str, fetch: AsyncFetch[T], schema: Schema | None = None, **options: Unpack[_Options]
) -> Collector[T]: ...
@overload
def make_stats_collector(
    *, type: str, fetch: SyncFetch[T], schema: Schema | None = None, **options: Unpack[_Options]
) -> Collector[T]: ...
def make_stats_collector(
    *, type: str, fetch: SyncFetch[Any], schema: Schema | None = None, **options: Unpack[_Options]
) -> Collector[Any]:
    """Create a stats `Collector` (no schema required; its output is not filtered)."""
    return Collector(type=type, fetch=fetch, schema=schema, **options)


AnyCollector = Collector[Any]
"""A collector of any result type (what the registry holds)."""

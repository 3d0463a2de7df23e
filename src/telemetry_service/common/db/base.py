"""What every database of a store offers: the cursor subset, the Database contract, the errors.

A :class:`Database` owns connections, transactions, placeholders and driver errors; the stores
above it (saved objects on the host, reports on the receiver) own their SQL. Every method but
:meth:`Database.run` blocks: the stores call them in worker threads.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread

__all__ = [
    "Cursor",
    "Database",
    "StoreError",
    "StoreUnavailableError",
    "StoreUrlError",
    "count_and_page",
]

T = TypeVar("T")


class StoreError(Exception):
    """Base class of the errors of a store."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached, refused the operation, or the store is closed."""


class StoreUrlError(StoreError, ValueError):
    """``store.url`` has no meaning; `reason` says why and lists the allowed forms."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid store.url: {reason}")


class Cursor(Protocol):
    """The DB-API cursor subset the stores' SQL uses."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, params_seq: Iterable[Sequence[Any]]) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Database(abc.ABC):
    """Connections to one database; each :meth:`transaction` commits or rolls back whole."""

    #: ``sqlite`` or ``postgresql``: what the stores' status lines and dialect choices read.
    backend: str

    def __init__(self) -> None:
        self._limiter = anyio.CapacityLimiter(8)

    @abc.abstractmethod
    def open(self) -> None:
        """Connect; :class:`StoreUnavailableError` with one line when that fails."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connections; later transactions raise :class:`StoreUnavailableError`."""

    @abc.abstractmethod
    def transaction(self, write: bool, fn: Callable[[Cursor], T]) -> T:
        """Run `fn` in one transaction (a write one takes the write lock first).

        :class:`StoreError` from `fn` passes through; driver errors become
        :class:`StoreUnavailableError`.
        """

    def sql(self, sql: str) -> str:
        """`sql` with this driver's placeholders (the stores write ``?``)."""
        return sql

    async def run(self, write: bool, fn: Callable[[Cursor], T]) -> T:
        """:meth:`transaction` in a worker thread (eight at most), off the event loop."""
        return await anyio.to_thread.run_sync(self.transaction, write, fn, limiter=self._limiter)

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            await self.run(False, lambda cur: cur.execute("SELECT 1").fetchone())
        except StoreError:
            return False
        return True


def count_and_page(
    cur: Cursor,
    sql: Callable[[str], str],
    select: str,
    source: str,
    order: str,
    params: Sequence[Any],
    limit: int,
    offset: int,
) -> tuple[int, list[Any]]:
    """The ``COUNT(*)`` of ``FROM source`` (a table and its WHERE clause, with ``params``) and
    one page of ``SELECT select`` rows from it in ``order``; ``sql`` adapts the placeholders."""
    cur.execute(sql(f"SELECT COUNT(*) FROM {source}"), params)
    total = int(cur.fetchone()[0])
    query = f"SELECT {select} FROM {source} ORDER BY {order} LIMIT ? OFFSET ?"
    cur.execute(sql(query), [*params, limit, offset])
    return total, cur.fetchall()

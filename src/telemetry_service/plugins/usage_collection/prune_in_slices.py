"""Checking a collector's output against its schema without stalling the event loop.

`prune_value` is pure Python: a 5 MB output takes about half a second. Outputs of more than
`INLINE_PRUNE_NODES` values are checked on the loop in slices of at most `SLICE_S`, handing the
loop back between slices; smaller ones in one go. A large output is first checked whole and
column-wise (`schema_fast.matches_steps`, a tenth of the time); only when that is not sure does
the full check (`prune_steps`) run.

Not in a worker thread: pure Python there holds the GIL, and the loop, which drops the GIL at
every system call, waits up to the interpreter's switch interval (5 ms) to take it back each
time, and longer when the machine is busy (measured: stalls of up to 73 ms while a 5 MB output was
checked in a thread). On the loop in slices the loop is never held longer than one slice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import TypeVar

from .schema import Schema
from .schema_fast import matches_steps
from .schema_values import SchemaViolation, prune_steps, prune_value

T = TypeVar("T")

__all__ = ["INLINE_PRUNE_NODES", "SLICE_S", "larger_than", "prune_in_slices"]

INLINE_PRUNE_NODES = 2000
"""The most values an output may hold to be checked in one go."""
SLICE_S = 0.002
"""The longest the check holds the loop before it lets other tasks run."""


async def prune_in_slices(
    schema: Schema, value: object, limit: int
) -> tuple[object, list[SchemaViolation]]:
    """`prune_value(schema, value, limit=limit)`, in slices of `SLICE_S` when `value` is large."""
    if not larger_than(value, INLINE_PRUNE_NODES):
        return prune_value(schema, value, limit=limit)
    if await _in_slices(matches_steps(schema, value)):
        return value, []
    return await _in_slices(prune_steps(schema, value, limit=limit))


async def _in_slices(steps: Generator[None, None, T]) -> T:
    """Run `steps` to its end, letting other tasks run every `SLICE_S`."""
    deadline = time.perf_counter() + SLICE_S
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: T = done.value
            return result
        if time.perf_counter() >= deadline:
            await asyncio.sleep(0)
            deadline = time.perf_counter() + SLICE_S


def larger_than(value: object, nodes: int) -> bool:
    """Whether `value` holds more than `nodes` values (containers and scalars); stops early."""
    pending = [value]
    seen = 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > nodes:
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return False

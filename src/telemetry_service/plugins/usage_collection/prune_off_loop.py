"""Checking a collector's output against its schema without stalling the event loop.

`prune_value` is pure Python: a 5 MB output takes about half a second. Outputs of more than
`INLINE_PRUNE_NODES` values are checked in a worker thread (the interpreter then hands the loop
its turn every few milliseconds); smaller ones on the loop, where a thread hop would cost more.
"""

from __future__ import annotations

import asyncio

from .schema import Schema
from .schema_values import SchemaViolation, prune_value

__all__ = ["INLINE_PRUNE_NODES", "larger_than", "prune_off_loop"]

INLINE_PRUNE_NODES = 2000
"""The most values an output may hold to be checked on the loop."""


async def prune_off_loop(
    schema: Schema, value: object, limit: int
) -> tuple[object, list[SchemaViolation]]:
    """`prune_value(schema, value, limit=limit)`, in a worker thread when `value` is large."""
    if larger_than(value, INLINE_PRUNE_NODES):
        return await asyncio.to_thread(prune_value, schema, value, limit=limit)
    return prune_value(schema, value, limit=limit)


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

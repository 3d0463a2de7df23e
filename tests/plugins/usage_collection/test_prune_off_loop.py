"""Large collector outputs are checked against their schema in a worker thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from telemetry_service.plugins.usage_collection import prune_off_loop as module
from telemetry_service.plugins.usage_collection.prune_off_loop import (
    INLINE_PRUNE_NODES,
    larger_than,
    prune_off_loop,
)
from telemetry_service.plugins.usage_collection.schema_values import prune_value

pytestmark = pytest.mark.anyio

SCHEMA = {"items": {"type": "array", "items": {"n": {"type": "long"}}}}


def output(n: int) -> dict[str, Any]:
    """``n`` items, the last one with a value that does not match the schema."""
    return {"items": [*({"n": i} for i in range(n - 1)), {"n": "not a number"}]}


@pytest.mark.parametrize(
    ("value", "nodes", "expected"),
    [(1, 0, True), (1, 1, False), ({"a": [1, 2]}, 4, False), ({"a": [1, 2]}, 3, True)],
)
def test_larger_than_counts_containers_and_scalars(value: Any, nodes: int, expected: bool) -> None:
    assert larger_than(value, nodes) is expected


@pytest.mark.parametrize(("items", "in_thread"), [(10, False), (INLINE_PRUNE_NODES, True)])
async def test_the_check_runs_in_a_thread_only_for_a_large_output(
    monkeypatch: pytest.MonkeyPatch, items: int, in_thread: bool
) -> None:
    threads: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return prune_value(*args, **kwargs)

    monkeypatch.setattr(module, "prune_value", recording)
    value = output(items)
    kept, violations = await prune_off_loop(SCHEMA, value, 100)
    assert (kept, violations) == prune_value(SCHEMA, value, limit=100)
    assert [v.path for v in violations] == [f"items[{items - 1}].n"]
    assert (threads != [threading.current_thread().name]) is in_thread

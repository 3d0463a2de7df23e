"""Large collector outputs are checked against their schema on the loop, in slices."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from telemetry_service.plugins.usage_collection import prune_in_slices as module
from telemetry_service.plugins.usage_collection.prune_in_slices import (
    INLINE_PRUNE_NODES,
    larger_than,
    prune_in_slices,
)
from telemetry_service.plugins.usage_collection.schema_values import (
    STEP_VALUES,
    prune_steps,
    prune_value,
)
from tests.plugins.usage_collection.test_schema_fast import run_steps

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


def test_prune_steps_yields_every_step_values_and_returns_what_prune_value_does() -> None:
    value = output(5000)  # 1 + 1 + 5000 items + 5000 numbers
    result, yields = run_steps(prune_steps(SCHEMA, value, limit=100))
    assert yields == (2 + 2 * 5000) // STEP_VALUES
    assert result == prune_value(SCHEMA, value, limit=100)
    assert [v.path for v in result[1]] == ["items[4999].n"]


@pytest.mark.parametrize(("items", "sliced"), [(10, False), (INLINE_PRUNE_NODES, True)])
async def test_a_large_output_is_checked_on_the_loop_between_other_tasks(
    monkeypatch: pytest.MonkeyPatch, items: int, sliced: bool
) -> None:
    monkeypatch.setattr(module, "SLICE_S", 0.0)  # hand the loop back after every step
    threads: set[str] = set()

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.add(threading.current_thread().name)
        return prune_steps(*args, **kwargs)

    monkeypatch.setattr(module, "prune_steps", recording)
    ticks = 0
    done = False

    async def other_task() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    ticks = 0
    value = output(items)
    kept, violations = await prune_in_slices(SCHEMA, value, 100)
    done = True
    await other
    assert (kept, violations) == prune_value(SCHEMA, value, limit=100)
    assert [v.path for v in violations] == [f"items[{items - 1}].n"]
    assert threads == ({threading.current_thread().name} if sliced else set())
    assert ticks >= ((2 + 2 * items) // STEP_VALUES if sliced else 0)


async def test_a_large_output_that_matches_skips_the_full_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(module, "prune_steps", lambda *args, **kwargs: calls.append(args))
    value = {"items": [{"n": i} for i in range(INLINE_PRUNE_NODES)]}
    assert await prune_in_slices(SCHEMA, value, 100) == (value, [])
    assert calls == []

"""The latest snapshot of each cluster as the reads see it. On PostgreSQL its jsonb
(``clusters.payload``) waits for the fold (parsing it was most of the server's work a
report); until then the field values and the explorer's payloads come from the report itself.
Every answer is the same before and after the fold, on both backends: strings that jsonb
cannot hold (NUL, a lone surrogate) read as U+FFFD either way, and an array's element is
addressed as ``#>`` addresses it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from telemetry_service.receiver.storage import FieldValue, NewReport, ReportStore, jsonb

from .test_field_days import fold_all
from .test_store import T0, report

pytestmark = pytest.mark.anyio

PAYLOADS: dict[str, dict[str, Any]] = {
    "a": {"cluster_uuid": "a", "n": 1, "s": "x", "list": [1, {"k": True}], "o": {"p": None}},
    "b": {"cluster_uuid": "b", "n": 2.5, "s": "nul\x00here", "list": [], "o": {}},
    "c": {"cluster_uuid": "c", "s": "\ud800", "list": ["z"], "o": {"p": {"q": 10**30}}},
}
PATHS = [
    ("n",), ("s",), ("list",), ("list", "0"), ("list", "1", "k"), ("list", "-1"), ("o",),
    ("o", "p"), ("o", "p", "q"), ("missing",), ("s", "x"),
]  # fmt: skip


def stored(cluster: str, payload: dict[str, Any], at: int) -> NewReport:
    """A snapshot as ingest stores it: the exact text, and the text safe for jsonb."""
    text = json.dumps(payload, separators=(",", ":"))
    plain = report(cluster, received_ms=at)
    return dataclasses.replace(plain, payload_text=text, query_text=jsonb.safe_text(text))


async def reads(store: ReportStore) -> tuple[list[Any], list[Any]]:
    values = [sorted(map(repr, await store.field_values(p, since_ms=0))) for p in PATHS]
    payloads = await store.latest_payloads(since_ms=0, limit=10)
    return values, sorted(json.dumps(jsonb.safe(p), sort_keys=True) for p in payloads)


async def test_the_reads_are_the_same_before_and_after_the_fold(store: ReportStore) -> None:
    for i, (cluster, payload) in enumerate(PAYLOADS.items()):
        await store.add(stored(cluster, payload, T0 + i))
    pending = await reads(store)
    await fold_all(store)
    folded = await reads(store)
    assert pending == folded
    values = dict(zip(PATHS, pending[0], strict=True))
    number, missing = FieldValue("number", 1.0), FieldValue("missing", None)
    assert values[("n",)] == sorted(map(repr, [number, FieldValue("number", 2.5), missing]))
    assert repr(FieldValue("string", "nul\ufffdhere")) in values[("s",)]
    assert repr(FieldValue("string", "\ufffd")) in values[("s",)]
    assert len(pending[1]) == 3


async def test_a_newer_snapshot_replaces_a_folded_one_at_once(store: ReportStore) -> None:
    await store.add(stored("a", PAYLOADS["a"], T0))
    await fold_all(store)
    await store.add(stored("a", {**PAYLOADS["a"], "n": 7}, T0 + 5))
    await store.add(stored("a", {**PAYLOADS["a"], "n": 3}, T0 - 5))  # older: not the latest
    before = await store.field_values(("n",), since_ms=0)
    await fold_all(store)
    after = await store.field_values(("n",), since_ms=0)
    assert [v.value for v in before] == [v.value for v in after] == [7.0]
    (payload,) = await store.latest_payloads(since_ms=0, limit=10)
    assert payload["n"] == 7

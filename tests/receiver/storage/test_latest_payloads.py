"""The latest snapshot of each cluster as the reads see it. On PostgreSQL its jsonb
(``clusters.payload``) waits for the fold (parsing it was most of the server's work a
report); until then the field values and the explorer's payloads come from the report itself.
Every answer is the same before and after the fold, on both backends: strings that jsonb
cannot hold (NUL, a lone surrogate) read as U+FFFD either way, and an array's element is
addressed as ``#>`` addresses it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.common.clock import DAY_MS
from telemetry_service.common.db.base import Cursor
from telemetry_service.receiver.storage import (
    FieldValue,
    NewReport,
    ReportStore,
    jsonb,
    open_report_store,
)
from telemetry_service.receiver.storage.queries import field_fold
from telemetry_service.receiver.storage.queries.field_fold import Budget

from .test_field_days import fold_all
from .test_store import T0, report

pytestmark = pytest.mark.anyio

PAYLOADS: dict[str, dict[str, Any]] = {
    "a": {"cluster_uuid": "a", "n": 1, "s": "x", "list": [1, {"k": True}], "o": {"p": None}},
    "b": {"cluster_uuid": "b", "n": 2.5, "s": "nul\x00here", "list": [], "o": {}},
    "c": {
        "cluster_uuid": "c",
        "s": "\ud800",
        "k\udc80": 1,
        "list": ["z"],
        "o": {"p": {"q": 10**30}},
    },
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
    # as the explorer's answer encodes them: no lone surrogate is left (U+FFFD, as jsonb reads)
    texts = [json.dumps(p, sort_keys=True, ensure_ascii=False).encode() for p in payloads]
    return values, sorted(texts)


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


async def test_a_payload_the_server_refuses_stays_unparsed(postgres_url: str) -> None:
    """PostgreSQL: a latest snapshot whose jsonb the server refuses stays NULL (read from
    its report) instead of failing the fold's transaction for good."""
    store = open_report_store(postgres_url)
    await store.open()
    try:
        one = stored("a", PAYLOADS["a"], T0)
        await store.add(one)

        def fill(cur: Cursor) -> Any:
            field_fold._fill_latest(cur, store.dialect, [("a", one.id, '{"not json')])
            cur.execute("SELECT payload IS NULL FROM clusters WHERE cluster_uuid = 'a'")
            return cur.fetchone()[0]

        assert await store._write(fill) is True
        assert [v.value for v in await store.field_values(("n",), since_ms=0)] == [1.0]
        await fold_all(store)  # the real text parses
        assert [v.value for v in await store.field_values(("n",), since_ms=0)] == [1.0]

        def parsed(cur: Cursor) -> Any:
            cur.execute("SELECT payload ->> 'n' FROM clusters WHERE cluster_uuid = 'a'")
            return cur.fetchone()[0]

        assert await store._db.run(False, parsed) == "1"
    finally:
        await store.close()


async def test_a_backlog_fills_the_latest_snapshots_first(postgres_url: str) -> None:
    """PostgreSQL: the fold goes oldest day first, but each batch also writes the jsonb of
    other clusters' newest snapshots, so that after a backlog the reads stop parsing them long
    before the backlog is counted."""
    store = open_report_store(postgres_url)
    await store.open()
    try:
        for i in range(5):
            old = {**PAYLOADS["a"], "cluster_uuid": f"k{i}", "n": i}
            await store.add(stored(f"k{i}", old, T0 - 2 * DAY_MS))
        for i in range(5):
            new = {**PAYLOADS["a"], "cluster_uuid": f"k{i}", "n": 10 + i}
            await store.add(stored(f"k{i}", new, T0))

        def unfilled(cur: Cursor) -> Any:
            cur.execute("SELECT count(*) FROM clusters WHERE payload IS NULL")
            return cur.fetchone()[0]

        assert await store._db.run(False, unfilled) == 5
        assert await store.fold_field_days(Budget(5)) == 5  # the old day's five only
        assert await store.pending_field_days() == 5
        assert await store._db.run(False, unfilled) == 0
        values = sorted(v.value for v in await store.field_values(("n",), since_ms=0))
        assert values == [10.0, 11.0, 12.0, 13.0, 14.0]
        await fold_all(store)
        assert sorted(v.value for v in await store.field_values(("n",), since_ms=0)) == values
    finally:
        await store.close()


async def test_sqlite_keeps_one_copy_of_a_latest_snapshot(tmp_path: Path) -> None:
    """SQLite: ``clusters.payload`` stays NULL and the reads take the report's payload (a
    second copy cost the writer 40-120 µs a report), except for a payload whose query text
    differs (a NUL, a lone surrogate): that one is kept safe there. A database written
    before, with every latest snapshot copied, reads the same."""
    store = open_report_store(f"sqlite:///{tmp_path / 'r.db'}")
    await store.open()
    try:
        for i, (cluster, payload) in enumerate(PAYLOADS.items()):
            await store.add(stored(cluster, payload, T0 + i))

        def copies(cur: Cursor) -> dict[str, Any]:
            cur.execute("SELECT cluster_uuid, payload FROM clusters ORDER BY cluster_uuid")
            return dict(cur.fetchall())

        held = await store._db.run(False, copies)
        assert held["a"] is None
        assert held["b"] == jsonb.safe_text(json.dumps(PAYLOADS["b"], separators=(",", ":")))
        assert "\ufffd" in held["c"]
        ours = await reads(store)
        assert repr(FieldValue("string", "\ufffd")) in ours[0][PATHS.index(("s",))]

        def copy_all(cur: Cursor) -> None:  # as every receiver before this one stored them
            cur.execute(
                "UPDATE clusters SET payload = (SELECT r.query FROM (SELECT id, payload AS "
                "query FROM reports) r WHERE r.id = clusters.report_id) WHERE payload IS NULL"
            )

        await store._write(copy_all)
        assert (await store._db.run(False, copies))["a"] is not None
        assert await reads(store) == ours

        def stale(cur: Cursor) -> None:  # a copy, where there is one, is what the reads take
            cur.execute(
                'UPDATE clusters SET payload = \'{"cluster_uuid":"a","n":42}\' '
                "WHERE cluster_uuid = 'a'"
            )

        await store._write(stale)
        values = await store.field_values(("n",), since_ms=0)
        assert sorted(v.value for v in values if v.kind == "number") == [2.5, 42.0]

        older = {**PAYLOADS["a"], "cluster_uuid": "c", "n": 5}
        await store.add(stored("c", older, T0 - 10))  # not the latest: "c" keeps its copy
        assert (await store._db.run(False, copies))["c"] == held["c"]
        await store.add(stored("c", {**PAYLOADS["a"], "cluster_uuid": "c", "n": 9}, T0 + 10))
        assert (await store._db.run(False, copies))["c"] is None  # the newer one is plain

        def plain(cur: Cursor) -> None:  # "a" as this version writes it again
            cur.execute("UPDATE clusters SET payload = NULL WHERE cluster_uuid = 'a'")

        await store._write(plain)
        values = await store.field_values(("n",), since_ms=0)
        assert sorted(v.value for v in values) == [1.0, 2.5, 9.0]
    finally:
        await store.close()

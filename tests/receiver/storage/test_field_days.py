"""The ``field_days`` aggregate is exact: the field trend and the daily snapshot counts it
answers equal a brute-force computation over the stored snapshots, on both backends, after
ingest (a cluster's second snapshot of a day included), with every snapshot pending, some
folded or all, after retention, a cluster's deletion, a fold racing them, two receivers
folding at once, and the migration of a store written by version 4 (every snapshot pending,
folded in the background)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from telemetry_service.common.clock import DAY_MS, iso_date
from telemetry_service.receiver.analysis import (
    KINDS,
    TREND_PERCENTILES,
    _number_summary,
    _tally,
    field_trend,
)
from telemetry_service.receiver.storage import (
    FieldValue,
    NewReport,
    ReportStore,
    open_report_store,
)
from telemetry_service.receiver.storage.fold import FoldTask
from telemetry_service.receiver.storage.queries.field_days import MAX_CELLS, WIDE
from telemetry_service.receiver.storage.queries.field_trend import TrendParts
from telemetry_service.receiver.storage.queries.writes import insert_reports
from telemetry_service.receiver.storage.sql import field_value, json_kind

from .test_store import T0, report

pytestmark = pytest.mark.anyio

DAY0 = T0 - T0 % DAY_MS
DAYS = 6
FROM_MS, TO_MS = DAY0 - DAYS * DAY_MS, DAY0


def random_payload(rng: random.Random, cluster: str) -> dict[str, Any]:
    """Every kind at the same paths across snapshots, repeated and unique values, long
    keywords, keys that a dotted path cannot name, missing fields."""
    payload: dict[str, Any] = {"cluster_uuid": cluster, "version": rng.choice("ABC")}
    fields: dict[str, Any] = {
        "n": rng.choice([1, 2, 2, 3.5, -0.25, 2**60 + 1, rng.random() * 1000]),
        "mixed": rng.choice([1, "one", True, None, [1, 2], {"x": 1}, {}, 2.5, "two"]),
        "flag": rng.random() < 0.4,
        "word": rng.choice(["a", "b", "c", "#sha256:x", "é" * 60, "long-" * 30, "\x00", "\ud800"]),
        "unique": f"{cluster}-{rng.random()}",
        "deep": {"er": {"est": rng.randint(0, 5), "list": [rng.random()]}},
        "a.b": 7,
        "bad\\key": {"x": 1},
        "lone\udc00": 1,
    }
    for key, value in fields.items():
        if rng.random() < 0.85:
            payload[key] = value
    return payload


def snapshot(cluster: str, at: int, payload: dict[str, Any]) -> NewReport:
    """A snapshot whose text escapes what orjson and jsonb refuse (as ingest stores them)."""
    text = json.dumps(payload)
    query = json.dumps({"cluster_uuid": cluster})
    return dataclasses.replace(report(cluster, received_ms=at), payload_text=text, query_text=query)


async def fill(store: ReportStore, seed: int = 1) -> None:
    rng = random.Random(seed)
    for day in range(-DAYS, 0):
        for index in range(12):
            cluster = f"c{index}"
            at = DAY0 + day * DAY_MS + rng.randint(0, DAY_MS - 1)
            await store.add(snapshot(cluster, at, random_payload(rng, cluster)))
            if index % 4 == 0:  # a second snapshot the same day: both count
                later = min(at + 60_000, DAY0 + (day + 1) * DAY_MS - 1)
                payload = random_payload(rng, cluster)
                await store.add(snapshot(cluster, later, payload))


def extract(payload: Any, path: Sequence[str]) -> FieldValue:
    for key in path:
        if not isinstance(payload, dict) or key not in payload:
            return FieldValue("missing", None)
        payload = payload[key]
    return field_value(json_kind(payload), payload)


def brute_trend(
    days: Sequence[int], values: dict[int, list[FieldValue]], *, size: int
) -> dict[str, Any]:
    """The trend as it was computed over a (whole) sample of each day's snapshots."""
    all_kinds, totals, _, _ = _tally(v for day_values in values.values() for v in day_values)
    top = [value for value, _ in sorted(totals.items(), key=lambda p: (-p[1], p[0]))[:size]]
    rows = []
    for day in days:
        day_values = values.get(day, [])
        kinds, strings, booleans, numbers = _tally(day_values)
        counts = [strings[value] for value in top]
        rows.append(
            {
                "date": iso_date(day),
                "reports": len(day_values),
                "sampled": len(day_values),
                "kinds": kinds,
                "keyword": {"counts": counts, "other": strings.total() - sum(counts)}
                if totals
                else None,
                "boolean": booleans if all_kinds["boolean"] else None,
                "number": _number_summary(numbers, TREND_PERCENTILES),
            }
        )
    return {"keywords": top, "days": rows}


async def trend(store: ReportStore, path: str) -> TrendParts:
    return await store.field_trend_parts(
        tuple(path.split(".")), from_ms=FROM_MS, to_ms=TO_MS, size=8
    )


async def snapshots(store: ReportStore) -> list[tuple[int, Any]]:
    """(day, decoded payload) of every stored snapshot."""
    return [
        (r.report_ms // DAY_MS, json.loads(r.payload_text))
        async for r in store.iter_reports(0, 2**62, kind="snapshot")
    ]


def paths_of(payloads: list[tuple[int, Any]]) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = {("nothing", "here")}
    for _, payload in payloads:
        stack = [((), payload)]
        while stack:
            prefix, node = stack.pop()
            for key, value in node.items():
                if "." in key or "\\" in key or "\udc00" in key:
                    continue
                found.add((*prefix, key))
                if isinstance(value, dict):
                    stack.append(((*prefix, key), value))
    return found


async def assert_exact(
    store: ReportStore, keep: Callable[[tuple[str, ...]], bool] = lambda path: True
) -> int:
    """Every path's trend and the daily snapshot counts equal the brute force; the number of
    paths compared."""
    stored = await snapshots(store)
    days = list(range(FROM_MS // DAY_MS, TO_MS // DAY_MS))
    per_day = Counter(day for day, _ in stored if FROM_MS // DAY_MS <= day < TO_MS // DAY_MS)
    counted = await store.reports_per_day(FROM_MS, TO_MS)
    assert {day: pair[0] for day, pair in counted.items() if pair[0]} == dict(per_day)
    paths = {path for path in paths_of(stored) if keep(path)}
    for path in paths:
        values: dict[int, list[FieldValue]] = {}
        for day, payload in stored:
            values.setdefault(day, []).append(extract(payload, path))
        for size in (1, 3, 50):
            parts = await store.field_trend_parts(path, from_ms=FROM_MS, to_ms=TO_MS, size=size)
            got = field_trend(days, parts)
            assert got == brute_trend(days, values, size=size), path
    return len(paths)


async def fold_all(store: ReportStore, batch: int = 1000) -> int:
    """Fold every pending snapshot; how many."""
    done = await FoldTask(store, batch=batch).fold()
    assert await store.pending_field_days() == 0
    return done


async def test_the_trend_equals_a_brute_force_over_the_snapshots(store: ReportStore) -> None:
    await fill(store)
    assert await store.pending_field_days() == DAYS * 15  # an insert only marks it
    assert await assert_exact(store) >= 12  # every snapshot pending
    assert await store.fold_field_days(40) == 40
    assert await assert_exact(store) >= 12  # folded and pending ones
    assert await fold_all(store, batch=7) == DAYS * 15 - 40
    assert await assert_exact(store) >= 12  # all folded
    parts = await store.field_trend_parts(("n",), from_ms=FROM_MS, to_ms=TO_MS, size=5)
    assert sum(parts.reports.values()) == DAYS * 15  # 12 clusters, 3 of them twice a day
    assert any(count > 1 for numbers in parts.numbers.values() for _, count in numbers)
    assert parts.keywords == []  # n is never a keyword
    words = await store.field_trend_parts(("word",), from_ms=FROM_MS, to_ms=TO_MS, size=50)
    got = set(words.keywords)
    assert {"long-" * 30, "é" * 60, "#sha256:x", "\x00", "\ud800"} <= got


async def test_exact_after_retention_and_a_deletion(store: ReportStore) -> None:
    await fill(store, seed=2)
    await store.fold_field_days(50)  # some snapshots of each kind go folded, some pending
    # The cutoff falls inside a day: that day keeps some snapshots, the days before none.
    cutoff = DAY0 - 4 * DAY_MS + DAY_MS // 2
    assert await store.delete_older_than(cutoff) > 0
    await assert_exact(store)
    reports = (await trend(store, "n")).reports
    assert (DAY0 - 5 * DAY_MS) // DAY_MS not in reports  # whole days are gone
    assert 0 < reports[(DAY0 - 4 * DAY_MS) // DAY_MS] < 15
    await store.delete_cluster("c0")
    await assert_exact(store)
    await fold_all(store)
    await assert_exact(store)
    await store.add(snapshot("c1", DAY0 - DAY_MS, {"n": 1}))  # pending
    await store.delete_older_than(DAY0 + DAY_MS)  # everything
    assert await trend(store, "n") == TrendParts()
    count = await store._db.run(
        False, lambda cur: cur.execute("SELECT COUNT(*) FROM field_days").fetchone()[0]
    )
    assert count == 0
    assert await store.pending_field_days() == 0


async def test_a_duplicate_is_counted_once(store: ReportStore) -> None:
    first = report("a", received_ms=DAY0 - DAY_MS, payload={"n": 1}, digest="same")
    await store.add(first)
    await store.add(report("a", received_ms=DAY0 - DAY_MS, payload={"n": 1}, digest="same"))
    assert await store.pending_field_days() == 1
    await fold_all(store)
    parts = await trend(store, "n")
    assert parts.reports == {(DAY0 - DAY_MS) // DAY_MS: 1}
    assert parts.numbers == {(DAY0 - DAY_MS) // DAY_MS: [(1.0, 1)]}


def test_kinds_cover_the_api() -> None:
    assert set(KINDS) == {"missing", "null", "boolean", "number", "string", "array", "object"}


async def test_a_store_of_version_4_opens_at_once_and_folds_in_the_background(
    backend_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_report_store(backend_url)
    await store.open()
    try:
        await fill(store, seed=3)
        await fold_all(store)
        expected = await trend(store, "mixed")

        def downgrade(cur: Any) -> None:  # back to what version 4 wrote
            cur.execute("DROP TABLE field_days_pending")
            cur.execute("DROP TABLE field_days")
            cur.execute("DROP TABLE receiver_backfills")
            cur.execute("DELETE FROM receiver_migrations WHERE version >= 5")

        await store._db.run(True, downgrade)
    finally:
        await store.close()
    caplog.set_level(logging.INFO, "telemetry_service.receiver.storage")
    store = open_report_store(backend_url)
    await store.open()
    try:
        assert await store.pending_field_days() == DAYS * 15  # nothing counted at open
        assert await assert_exact(store) >= 12
        assert await FoldTask(store, batch=8).fold() == DAYS * 15
        assert await assert_exact(store) >= 12
        assert await trend(store, "mixed") == expected
        lines = [r.getMessage() for r in caplog.records if "field aggregates" in r.getMessage()]
        assert lines[0] == f"field aggregates: {DAYS * 15} stored snapshots to count"
        assert lines[-1] == f"field aggregates: {DAYS * 15} of {DAYS * 15} stored snapshots counted"
        assert len(lines) == 11
    finally:
        await store.close()
    store = open_report_store(backend_url)  # a second open does not count them again
    await store.open()
    try:
        assert await store.pending_field_days() == 0
        assert await trend(store, "mixed") == expected
    finally:
        await store.close()


async def test_a_store_of_version_5_keeps_its_aggregate_or_its_backfill(backend_url: str) -> None:
    """Version 5 counted at insert and backfilled at open: a filled aggregate stays as it is;
    a backfill that had not run yet becomes pending snapshots."""
    store = open_report_store(backend_url)
    await store.open()
    try:
        await fill(store, seed=5)
        await fold_all(store)

        def downgrade(cur: Any, backfill: bool) -> None:
            cur.execute("DROP TABLE field_days_pending")
            cur.execute("DELETE FROM receiver_migrations WHERE version = 6")
            if backfill:
                cur.execute("DELETE FROM field_days WHERE day % 2 = 0")  # half-way: wrong
                cur.execute("INSERT INTO receiver_backfills (name) VALUES ('field_days')")

        await store._db.run(True, lambda cur: downgrade(cur, False))
    finally:
        await store.close()
    for backfill, pending in ((False, 0), (True, DAYS * 15)):
        store = open_report_store(backend_url)
        await store.open()
        try:
            assert await store.pending_field_days() == pending
            await assert_exact(store)
            await fold_all(store)
            await assert_exact(store)
            await store._db.run(True, lambda cur, b=backfill: downgrade(cur, not b))
        finally:
            await store.close()


async def test_two_receivers_fold_at_once_and_race_deletions(backend_url: str) -> None:
    """Two stores on one database (two receivers): their folds and deletions interleave, and
    every snapshot is counted once."""
    first, second = open_report_store(backend_url), open_report_store(backend_url)
    await first.open()
    await second.open()
    try:
        await fill(first, seed=6)

        async def fold_loop(store: ReportStore, batch: int) -> None:
            while await store.pending_field_days():
                await store.fold_field_days(batch)
                await asyncio.sleep(0)

        cutoff = DAY0 - 4 * DAY_MS + DAY_MS // 3
        await asyncio.gather(
            fold_loop(first, 3),
            fold_loop(second, 5),
            first.delete_older_than(cutoff),
            second.delete_cluster("c4"),
        )
        await assert_exact(first)
        await fill(second, seed=7)
        await asyncio.gather(fold_loop(second, 4), first.delete_cluster("c1"), fold_loop(first, 6))
        await fold_all(second)
        await assert_exact(second)
    finally:
        await first.close()
        await second.close()


async def add_wide(store: ReportStore) -> None:
    """Snapshots of the filled store, and three of more than MAX_CELLS paths on days -3 and -2
    each (``wide.f5`` is 5 in every one)."""
    await fill(store, seed=4)
    rng = random.Random(9)
    for day in (-3, -2):
        for index in range(3):
            body = random_payload(rng, f"w{index}")
            body["wide"] = {f"f{j}": j % 7 for j in range(MAX_CELLS)}
            await store.add(snapshot(f"w{index}", DAY0 + day * DAY_MS + index, body))


async def test_wide_snapshots_are_read_by_the_trend_itself(store: ReportStore) -> None:
    """A payload of more than MAX_CELLS paths adds only a mark (the writer stays fast); the
    trend reads those snapshots and stays exact, also after they are deleted."""
    await add_wide(store)
    await assert_exact(store, keep=lambda path: path[0] != "wide" or path == ("wide", "f5"))
    await fold_all(store)
    marks = await store._db.run(
        False,
        lambda cur: cur.execute(
            store.dialect.sql("SELECT COUNT(*) FROM field_days WHERE path = ?"), (WIDE,)
        ).fetchone()[0],
    )
    assert marks == 6
    await assert_exact(store, keep=lambda path: path[0] != "wide" or path == ("wide", "f5"))
    await store.delete_older_than(DAY0 - 2 * DAY_MS + 1)  # one wide snapshot of day -2 stays
    await assert_exact(store, keep=lambda path: path[0] != "wide" or path == ("wide", "f5"))


async def test_pending_keywords_rank_with_the_folded_ones(store: ReportStore) -> None:
    """A keyword that pending snapshots lift above the folded top is ranked by its total; more
    distinct pending keywords than SQL takes parameters (PostgreSQL: 65,535) still answer."""
    day = DAY0 - DAY_MS
    for word, times in (("a", 5), ("b", 4)):
        for index in range(times):
            await store.add(snapshot(f"{word}{index}", day + index, {"word": word}))
    await fold_all(store)
    for index in range(3):
        await store.add(snapshot(f"b{index}", day + 100 + index, {"word": "b"}))
    parts = await trend(store, "word")
    assert (
        await store.field_trend_parts(("word",), from_ms=FROM_MS, to_ms=TO_MS, size=1)
    ).keywords == ["b"]
    assert parts.keyword_counts == {day // DAY_MS: {"a": 5, "b": 7}}
    many = [
        snapshot(f"u{index}", day + 1000 + index, {"word": f"unique-{index}"})
        for index in range(70_000)
    ]
    await store._db.run(True, lambda cur: insert_reports(cur, store.dialect, many))
    parts = await store.field_trend_parts(("word",), from_ms=FROM_MS, to_ms=TO_MS, size=2)
    assert parts.keywords == ["b", "a"]
    assert parts.reports == {day // DAY_MS: 70_012}

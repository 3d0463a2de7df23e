"""Server time of the dashboard's pages and of the JSON routes behind them, at scale.

Usage: ``.venv/bin/python benchmarks/dashboard.py [--clusters 10000 20000 40000] [--days 30]
[--runs 7] [--no-postgres] [--no-browser]``

Prints JSON, and a table per size on stderr. For each ``--clusters`` size, the store holds that
many clusters that each sent one snapshot (about 1.1 KB) a day for ``--days`` days (10,000 x
30 = 300,000 snapshots, plus opt-in reports), made by ``telemetry_service.receiver.samples``
in steady mode and written through the store's own write path (in groups of 2,000; each
snapshot is left pending, as at ingest), then folded into the ``field_days`` aggregate as the
receiver's background fold does, before anything is measured, into a SQLite file cached under
``.cache/dashboard-bench/`` (reruns skip the seeding; progress goes to stderr). PostgreSQL
gets the same rows, the aggregate's too, copied in bulk (``COPY``).

For each backend (PostgreSQL: a private cluster from ``tests/support/postgres.py``) a real
receiver process serves the store over HTTP on loopback, with its clock frozen at the moment
the data ends. Every route each page calls, and the HTML page itself, is requested ``--runs``
times after one warm-up request: the median milliseconds until the whole answer arrived are
reported per route, and per page the median of fetching all its data routes at once (what the
page's script does). With Chromium installed (``/usr/bin/chromium``), each page is also loaded
in a real browser: the median time from the start of navigation until its data is fetched and
its charts and tables are drawn (``body[data-ready]``, timed in the page). The load average
is printed before and after each backend, and each page says whether its data came in under
1 s. Besides the fields the benchmark always measured (a number of about 200 values a day, a
keyword of six), the field explorer is also measured on a number with about 6,000 distinct
values a day and on a keyword unique to each snapshot: the aggregate's worst cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

import httpx  # noqa: E402

CACHE = REPO_ROOT / ".cache" / "dashboard-bench"
#: Bump when the sample data or the way the store writes it changes, so that old caches are
#: not reused (4: SQLite keeps one copy of a latest snapshot, 9bca8aa).
DATA_VERSION = 4
NUMBER_FIELD = "stack_stats.kibana.plugins.dashboards.total"
KEYWORD_FIELD = "version"
#: The worst cases of the field aggregate: a number of many values, a keyword per snapshot.
WIDE_NUMBER_FIELD = "stack_stats.kibana.plugins.usage_counters.response_p95_ms"
UNIQUE_KEYWORD_FIELD = "cacheDetails.updatedAt"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- seeding ----------------------------------------------------------------------------------
def data_end() -> dt.datetime:
    """The frozen "now" of a new data set: the end of yesterday (UTC), so the data is whole."""
    today = dt.datetime.now(dt.UTC).date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC) - dt.timedelta(
        milliseconds=1
    )


def seed(url: str, clusters: int, days: int, now: dt.datetime) -> int:
    """Write the sample reports into the store at `url` through ``store.add``."""
    from telemetry_service.receiver.samples import sample_reports, seed_store
    from telemetry_service.receiver.storage import open_report_store

    async def run() -> int:
        store = open_report_store(url, max_batch=2000)
        await store.open()
        started = time.monotonic()
        expected = clusters * days

        def progress(done: int) -> None:
            rate = done / max(time.monotonic() - started, 1e-6)
            log(f"  seeded {done:>9,} reports (~{expected:,} snapshots) {rate:,.0f}/s")

        try:
            reports = sample_reports(
                clusters=clusters, days=days, end=now.date(), now=now, steady=True
            )
            return await seed_store(store, reports, chunk=5000, progress=progress)
        finally:
            await store.close()

    return asyncio.run(run())


def fold(url: str) -> None:
    """Fold the pending snapshots into the ``field_days`` aggregate (the receiver's background
    fold, run to the end), so that nothing is measured while a backlog is folded."""
    from telemetry_service.receiver.storage import open_report_store
    from telemetry_service.receiver.storage.fold import FoldTask

    async def run() -> None:
        store = open_report_store(url)
        await store.open()
        try:
            started = time.monotonic()
            folded = await FoldTask(store, batch=2000).fold()
            if folded:
                log(f"  folded {folded:,} snapshots in {time.monotonic() - started:.1f} s")
        finally:
            await store.close()

    asyncio.run(run())


def cache_key(clusters: int, days: int) -> str:
    return f"v{DATA_VERSION}-{clusters}x{days}"


def sqlite_store(clusters: int, days: int) -> tuple[str, dt.datetime]:
    """The cached SQLite file (seeded on first use) and its data's frozen "now"."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"sqlite-{cache_key(clusters, days)}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        log(f"sqlite: using the cached store {path.relative_to(REPO_ROOT)}")
    else:
        for stale in CACHE.glob(f"{path.name}*"):
            stale.unlink()
        now = data_end()
        log(f"sqlite: seeding {clusters:,} clusters x {days} days into {path.name}")
        count = seed(f"sqlite:///{path}", clusters, days, now)
        meta.write_text(json.dumps({"now": now.isoformat(), "reports": count}))
    fold(f"sqlite:///{path}")
    return f"sqlite:///{path}", dt.datetime.fromisoformat(json.loads(meta.read_text())["now"])


def postgres_store(base_url: str, sqlite_url: str, name: str) -> str:
    """A database on the private cluster holding the same reports as the SQLite store: the
    schema comes from the PostgreSQL store's own migrations, the rows are copied in bulk
    (``COPY``) from the SQLite file, then vacuumed and analyzed as autovacuum would."""
    import sqlite3

    import psycopg
    from tests.support.postgres import create_database

    from telemetry_service.receiver.storage import open_report_store
    from telemetry_service.receiver.storage.postgres import month_bounds, partition_name

    url = create_database(base_url, name)

    async def migrate() -> None:
        store = open_report_store(url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    source = sqlite3.connect(sqlite_url.removeprefix("sqlite://"))
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        low, high = source.execute(
            "SELECT MIN(received_ms), MAX(received_ms) FROM reports"
        ).fetchone()
        month = low
        while month <= high:
            start, end = month_bounds(month)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {partition_name(start)} PARTITION OF reports "
                f"FOR VALUES FROM ({start}) TO ({end})"
            )
            month = end
        for table, booleans in (
            ("reports", {"opt_in_status"}),
            ("report_digests", set()),
            ("clusters", {"opt_in_status"}),
            ("field_days", set()),
            ("field_days_pending", set()),
        ):
            rows = source.execute(f"SELECT * FROM {table}")
            columns = [d[0] for d in rows.description]
            flags = [name in booleans for name in columns]
            copied = 0
            with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(
                        [
                            bool(v) if flag and v is not None else v
                            for v, flag in zip(row, flags, strict=True)
                        ]
                    )
                    copied += 1
                    if copied % 200_000 == 0:
                        log(f"  copied {copied:>9,} rows of {table}")
            log(f"  copied {copied:,} rows of {table}")
    source.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
    log(f"  loaded in {time.monotonic() - started:.0f} s")
    return url


# -- the receiver process ---------------------------------------------------------------------
def serve(store: str, now: str) -> None:
    """Child process: a receiver on loopback with its clock frozen at `now`."""
    import uvicorn

    from telemetry_service.receiver import Receiver, load_config
    from telemetry_service.wire import Decryptor, generate_key_pair

    frozen = dt.datetime.fromisoformat(now)
    keys = generate_key_pair("bench")
    receiver = Receiver(
        load_config({"store": {"url": store}}, env={}),
        decryptor=Decryptor(keys.private_jwks),
        clock=lambda: frozen,
    )

    async def run() -> None:
        await receiver.start()
        config = uvicorn.Config(
            receiver.app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:  # uvicorn's flag
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"listening on http://127.0.0.1:{port}", flush=True)
        try:
            await task
        finally:
            await receiver.stop()

    asyncio.run(run())


@contextlib.contextmanager
def receiver(store: str, now: dt.datetime) -> Iterator[str]:
    command = [sys.executable, __file__, "--serve", store, "--now", now.isoformat()]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        proc.kill()
        raise RuntimeError(f"the receiver did not start: {line!r}")
    try:
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- measuring ----------------------------------------------------------------------------------
def pages(now: dt.datetime, cluster: str) -> dict[str, dict[str, Any]]:
    """Each page: its HTML path and the data routes its script calls (with the default range)."""
    last = now.date()
    first = last - dt.timedelta(days=29)
    span = f"from={first}&to={last}"
    base = f"/api/clusters/{cluster}"
    return {
        "overview": {
            "html": "/",
            "data": [
                "/api/me",
                f"/api/stats/active-clusters?{span}",
                f"/api/stats/reports-per-day?{span}",
                f"/api/stats/opt-in?{span}&limit=1",
                "/api/stats/versions?active_days=30&size=12",
                "/api/clusters?limit=1",
            ],
        },
        "fields (number)": {
            "html": f"/app/fields?field={NUMBER_FIELD}",
            "data": [
                "/api/me",
                "/api/stats/fields?active_days=30&sample=500",
                f"/api/stats/distribution?field={NUMBER_FIELD}&active_days=30&size=20",
                f"/api/stats/field-trend?field={NUMBER_FIELD}&{span}&size=8",
            ],
        },
        "fields (keyword)": {
            "html": f"/app/fields?field={KEYWORD_FIELD}",
            "data": [
                "/api/me",
                "/api/stats/fields?active_days=30&sample=500",
                f"/api/stats/distribution?field={KEYWORD_FIELD}&active_days=30&size=20",
                f"/api/stats/field-trend?field={KEYWORD_FIELD}&{span}&size=8",
            ],
        },
        "fields (number, many values)": {
            "html": f"/app/fields?field={WIDE_NUMBER_FIELD}",
            "data": [
                "/api/me",
                "/api/stats/fields?active_days=30&sample=500",
                f"/api/stats/distribution?field={WIDE_NUMBER_FIELD}&active_days=30&size=20",
                f"/api/stats/field-trend?field={WIDE_NUMBER_FIELD}&{span}&size=8",
            ],
        },
        "fields (keyword, one per snapshot)": {
            "html": f"/app/fields?field={UNIQUE_KEYWORD_FIELD}",
            "data": [
                "/api/me",
                "/api/stats/fields?active_days=30&sample=500",
                f"/api/stats/distribution?field={UNIQUE_KEYWORD_FIELD}&active_days=30&size=20",
                f"/api/stats/field-trend?field={UNIQUE_KEYWORD_FIELD}&{span}&size=8",
            ],
        },
        "clusters": {
            "html": "/app/clusters",
            "data": ["/api/me", "/api/search/clusters?limit=25&offset=0"],
        },
        "clusters (search)": {
            "html": "/app/clusters?q=prod-eu",
            "data": ["/api/me", "/api/search/clusters?q=prod-eu&limit=25&offset=0"],
        },
        "cluster": {
            "html": f"/app/clusters/{cluster}",
            "data": [
                "/api/me",
                base,
                f"{base}/reports?{span}&limit=1000&payload=false",
                f"{base}/latest",
            ],
        },
    }


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:200]}")
    return elapsed * 1000


async def measure(url: str, now: dt.datetime, runs: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        some = (await client.get("/api/search/clusters?q=prod&limit=1")).json()["clusters"][0]
        plan = pages(now, some["cluster_uuid"])
        routes: dict[str, float] = {}
        for page in plan.values():
            for path in [page["html"], *page["data"]]:
                if path in routes:
                    continue
                await timed(client, path)  # warm-up
                routes[path] = round(
                    statistics.median([await timed(client, path) for _ in range(runs)]), 1
                )
        per_page = {}
        for name, page in plan.items():
            together = []
            for _ in range(runs):
                started = time.perf_counter()
                await asyncio.gather(*(timed(client, p) for p in page["data"]))
                together.append((time.perf_counter() - started) * 1000)
            at_once = round(statistics.median(together), 1)
            per_page[name] = {
                "html_ms": routes[page["html"]],
                "data_routes_at_once_ms": at_once,
                "slowest_route_ms": max(routes[p] for p in page["data"]),
                "data_under_1s": at_once < 1000,
            }
        reports = await client.get(
            f"/api/stats/reports-per-day?from={now.date() - dt.timedelta(days=400)}&to={now.date()}"
        )
        totals = {"snapshots": 0, "opt_in": 0}
        for day in reports.json()["days"]:
            totals["snapshots"] += day["snapshots"]
            totals["opt_in"] += day["opt_in"]
        return {"reports": totals, "pages": per_page, "routes_ms": routes, "plan": plan}


#: Records when the page marks itself drawn, in ms since its navigation started.
READY_PROBE = """
new MutationObserver(() => {
  if (document.body && document.body.dataset.ready && window.__readyAt === undefined) {
    window.__readyAt = performance.now();
  }
}).observe(document, { attributes: true, subtree: true });
"""


def browser_loads(url: str, plan: dict[str, dict[str, Any]], runs: int) -> dict[str, float] | str:
    """Median ms from the start of navigation until the page has fetched its data and drawn
    its charts and tables (``body[data-ready]``), in Chromium, with the browser's cache warm
    (the files are revalidated: 304)."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        return "skipped: /usr/bin/chromium is missing"
    from playwright.sync_api import sync_playwright

    args = [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    ]  # fmt: skip
    results: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(READY_PROBE)
            for name, item in plan.items():
                times = []
                for attempt in range(runs + 1):
                    page.goto(url + item["html"])
                    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
                    if page.locator("#load-error:not([hidden])").count():
                        raise RuntimeError(f"{name}: {page.locator('#load-error').inner_text()}")
                    if attempt:  # the first load fills the browser's cache
                        times.append(float(page.evaluate("window.__readyAt")))
                results[name] = round(statistics.median(times), 1)
        finally:
            browser.close()
    return results


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_backend(store: str, now: dt.datetime, runs: int, browser: bool) -> dict[str, Any]:
    before = load_average()
    with receiver(store, now) as url:
        result = asyncio.run(measure(url, now, runs))
        plan = result.pop("plan")
        if browser:
            result["browser_page_load_ms"] = browser_loads(url, plan, max(3, runs // 2))
    result["load_average"] = {"before": before, "after": load_average()}
    return result


def route_label(path: str) -> str:
    """A route's short name in the table: its path and the field it asks for."""
    route = path.split("?")[0]
    field = re.search(r"field=([^&]+)", path)
    return f"{route} ({field.group(1).rsplit('.', 1)[-1]})" if field else route


def table(clusters: int, results: dict[str, Any]) -> str:
    """Median ms per data route and per page, one column per backend (for stderr)."""
    backends = [b for b in ("sqlite", "postgresql") if "routes_ms" in results.get(b, {})]
    lines = [f"{clusters:,} clusters: " + ", ".join(
        f"{b} load {results[b]['load_average']['before']}" for b in backends
    )]  # fmt: skip
    routes = [p for p in results[backends[0]]["routes_ms"] if p.startswith("/api/")]
    for path in routes:
        cells = " ".join(f"{results[b]['routes_ms'][path]:>9.1f}" for b in backends)
        lines.append(f"  {route_label(path)[:58]:<58} {cells}")
    for name in results[backends[0]]["pages"]:
        cells = " ".join(
            f"{results[b]['pages'][name]['data_routes_at_once_ms']:>9.1f}" for b in backends
        )
        ok = all(results[b]["pages"][name]["data_under_1s"] for b in backends)
        lines.append(f"  page {name:<53} {cells}  {'under 1 s' if ok else 'OVER 1 s'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=[10_000])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.now)
        return

    sizes: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        base_url: str | None = None
        skipped = "--no-postgres"
        if not args.no_postgres:
            import psycopg
            from tests.support.postgres import PostgresUnavailable, private_cluster

            try:
                base_url = stack.enter_context(private_cluster())
            except PostgresUnavailable as exc:
                skipped = str(exc)
        for index, clusters in enumerate(args.clusters):
            results: dict[str, Any] = {}
            url, now = sqlite_store(clusters, args.days)
            log(f"sqlite, {clusters:,} clusters: measuring")
            results["sqlite"] = bench_backend(url, now, args.runs, not args.no_browser)
            if base_url is None:
                results["postgresql"] = {"skipped": skipped}
            else:
                log(f"postgresql, {clusters:,} clusters: loading the same reports")
                name = f"dashboard_bench_{index}"
                pg_url = postgres_store(base_url, url, name)
                log(f"postgresql, {clusters:,} clusters: measuring")
                results["postgresql"] = bench_backend(pg_url, now, args.runs, not args.no_browser)
                with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
                    conn.execute(f"DROP DATABASE {name}")
            log(table(clusters, results))
            sizes.setdefault(str(clusters), []).append(results)
    print(
        json.dumps(
            {
                "benchmark": "receiver dashboard: pages and their data routes, server time",
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "days": args.days,
                "runs": args.runs,
                "unit": "milliseconds, median",
                "clusters": sizes,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

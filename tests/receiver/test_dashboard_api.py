"""The dashboard's JSON routes, its pages and static files, in process (SQLite)."""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from telemetry_service.common.web import VENDOR_DIR
from telemetry_service.receiver.analysis import (
    TREND_PERCENTILES,
    _number_summary,
    field_trend,
    leaf_fields,
)
from telemetry_service.receiver.storage.queries.field_trend import TrendParts
from telemetry_service.receiver.web.pages import CHART_JS, STATIC_DIR, TEMPLATES_DIR
from telemetry_service.testing import FakeClock

from .conftest import ADMIN_KEY, VIEWER_KEY
from .support import OPT_IN, at, opt_in, send, snapshot

pytestmark = pytest.mark.anyio


def plugins(cluster: str, day: int) -> dict[str, Any]:
    number = {"a": 3, "b": 10, "c": 5.5}[cluster] + day
    return {
        "maps": {"count": number, "enabled": cluster != "b", "theme": "dark"},
        "locale": {"a": "en", "b": "fr-FR", "c": "en"}[cluster],
        "os": {"platforms": [{"platform": "linux"}]},
        "odd.key": {"hidden": 1},
    }


@pytest.fixture
async def loaded(client: httpx.AsyncClient, clock: FakeClock) -> httpx.AsyncClient:
    """Clusters a, b, c over March 12-14 2026 (the clock says 2026-03-15 12:00); a upgrades
    on the 14th, c starts on the 13th; one opt-in change; an old cluster from December."""
    for day in (12, 13, 14):
        for cluster in ("a", "b", "c"):
            if cluster == "c" and day == 12:
                continue
            version = "8.2.0" if day == 14 and cluster == "a" else "8.1.0"
            payload = snapshot(cluster, timestamp=at(day), version=version)
            payload["stack_stats"] = {"kibana": {"plugins": plugins(cluster, day)}}
            await send(client, payload)
    await send(client, snapshot("old", timestamp="2025-12-01T00:00:00.000Z", version="7.17.0"))
    await send(client, opt_in("b", False), channel=OPT_IN)
    return client


async def get_json(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# -- JSON routes -----------------------------------------------------------------------------
async def test_me_without_api_keys_is_the_anonymous_administrator(
    client: httpx.AsyncClient,
) -> None:
    assert await get_json(client, "/api/me") == {
        "name": "anonymous",
        "role": "admin",
        "auth_required": False,
    }


NEW_ROUTES = [
    "/api/me",
    "/api/stats/reports-per-day",
    "/api/stats/versions",
    "/api/stats/fields",
    "/api/stats/field-trend?field=version",
    "/api/search/clusters",
    "/api/clusters/a/latest",
]


async def test_new_routes_need_a_key_and_say_who_is_asking(secured: httpx.AsyncClient) -> None:
    for path in NEW_ROUTES:
        response = await secured.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("ApiKey")
        wrong = await secured.get(path, headers={"Authorization": "ApiKey nope"})
        assert wrong.status_code == 401, path
    viewer = {"Authorization": f"ApiKey {VIEWER_KEY}"}
    me = (await secured.get("/api/me", headers=viewer)).json()
    assert me == {"name": "dash", "role": "viewer", "auth_required": True}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    me = (await secured.get("/api/me", headers=admin)).json()
    assert me == {"name": "ops", "role": "admin", "auth_required": True}
    for path in NEW_ROUTES[1:-1]:
        assert (await secured.get(path, headers=viewer)).status_code == 200, path
    # The pages' delete button is for admins; the route refuses viewers whatever the page shows.
    assert (await secured.delete("/api/clusters/a", headers=viewer)).status_code == 403


async def test_reports_per_day(loaded: httpx.AsyncClient) -> None:
    body = await get_json(loaded, "/api/stats/reports-per-day", **{"from": "2026-03-11"})
    assert body["days"] == [
        {"date": "2026-03-11", "snapshots": 0, "opt_in": 0},
        {"date": "2026-03-12", "snapshots": 2, "opt_in": 0},
        {"date": "2026-03-13", "snapshots": 3, "opt_in": 0},
        {"date": "2026-03-14", "snapshots": 3, "opt_in": 0},
        {"date": "2026-03-15", "snapshots": 0, "opt_in": 1},
    ]
    assert len((await get_json(loaded, "/api/stats/reports-per-day"))["days"]) == 30


async def test_versions_of_active_clusters(loaded: httpx.AsyncClient) -> None:
    body = await get_json(loaded, "/api/stats/versions")
    assert body == {
        "active_days": 30,
        "clusters": 3,
        "versions": [{"version": "8.1.0", "clusters": 2}, {"version": "8.2.0", "clusters": 1}],
        "other": 0,
    }
    top = await get_json(loaded, "/api/stats/versions", active_days=365, size=1)
    assert top["clusters"] == 4
    assert top["versions"] == [{"version": "8.1.0", "clusters": 2}]
    assert top["other"] == 2


async def test_fields_lists_the_leaf_paths_of_latest_payloads(loaded: httpx.AsyncClient) -> None:
    body = await get_json(loaded, "/api/stats/fields")
    assert body["sampled"] == 3
    assert body["truncated"] is False
    by_path = {f["path"]: f for f in body["fields"]}
    assert by_path["stack_stats.kibana.plugins.maps.count"] == {
        "path": "stack_stats.kibana.plugins.maps.count",
        "count": 3,
        "kinds": {"number": 3},
    }
    assert by_path["stack_stats.kibana.plugins.maps.enabled"]["kinds"] == {"boolean": 3}
    assert by_path["stack_stats.kibana.plugins.os.platforms"]["kinds"] == {"array": 3}
    assert by_path["version"]["kinds"] == {"string": 3}
    assert not any("odd" in path for path in by_path)  # "odd.key" cannot be a dotted path
    assert [f["path"] for f in body["fields"]] == sorted(by_path)
    one = await get_json(loaded, "/api/stats/fields", sample=1)
    assert one["sampled"] == 1


async def test_field_trend_of_numbers(loaded: httpx.AsyncClient) -> None:
    body = await get_json(
        loaded,
        "/api/stats/field-trend",
        field="stack_stats.kibana.plugins.maps.count",
        **{"from": "2026-03-12", "to": "2026-03-15"},
    )
    assert body["field"] == "stack_stats.kibana.plugins.maps.count"
    assert body["keywords"] == []
    days = {d["date"]: d for d in body["days"]}
    assert list(days) == ["2026-03-12", "2026-03-13", "2026-03-14", "2026-03-15"]
    assert days["2026-03-12"]["number"] == {
        "count": 2,
        "min": 15.0,
        "max": 22.0,
        "avg": 18.5,
        "percentiles": {"50": 18.5, "90": pytest.approx(21.3)},
    }
    assert days["2026-03-13"]["reports"] == days["2026-03-13"]["sampled"] == 3
    assert days["2026-03-13"]["kinds"]["number"] == 3
    assert days["2026-03-15"] == {
        "date": "2026-03-15",
        "reports": 0,
        "sampled": 0,
        "kinds": dict.fromkeys(
            ["missing", "null", "boolean", "number", "string", "array", "object"], 0
        ),
        "keyword": None,
        "boolean": None,
        "number": None,
    }


async def test_field_trend_of_keywords_and_booleans(loaded: httpx.AsyncClient) -> None:
    span = {"from": "2026-03-12", "to": "2026-03-14"}
    versions = await get_json(loaded, "/api/stats/field-trend", field="version", **span)
    assert versions["keywords"] == ["8.1.0", "8.2.0"]
    assert [d["keyword"] for d in versions["days"]] == [
        {"counts": [2, 0], "other": 0},
        {"counts": [3, 0], "other": 0},
        {"counts": [2, 1], "other": 0},
    ]
    top = await get_json(loaded, "/api/stats/field-trend", field="version", size=1, **span)
    assert top["keywords"] == ["8.1.0"]
    assert top["days"][2]["keyword"] == {"counts": [2], "other": 1}
    enabled = await get_json(
        loaded, "/api/stats/field-trend", field="stack_stats.kibana.plugins.maps.enabled", **span
    )
    assert [d["boolean"] for d in enabled["days"]] == [
        {"true": 1, "false": 1},
        {"true": 2, "false": 1},
        {"true": 2, "false": 1},
    ]
    assert all(d["keyword"] is None and d["number"] is None for d in enabled["days"])


async def test_field_trend_reads_every_snapshot_of_each_day(loaded: httpx.AsyncClient) -> None:
    body = await get_json(
        loaded, "/api/stats/field-trend", field="version", sample=2, **{"from": "2026-03-13"}
    )
    assert body["sample_per_day"] == 3  # the most snapshots of a day: all were read
    thirteenth = body["days"][0]
    assert (thirteenth["reports"], thirteenth["sampled"]) == (3, 3)
    assert thirteenth["keyword"] == {"counts": [3, 0], "other": 0}
    year = await get_json(
        loaded, "/api/stats/field-trend", field="version", **{"from": "2025-03-16"}
    )
    assert year["sample_per_day"] == 3
    assert len(year["days"]) == 365
    assert all(day["reports"] == day["sampled"] for day in year["days"])


@pytest.mark.parametrize(
    "params",
    [
        {"field": "a..b"},
        {"field": ""},
        {"field": "version", "from": "2024-01-01"},  # longer than 731 days
        {"field": "version", "from": "2026-03-15", "to": "2026-03-01"},
        {"field": "version", "sample": 0},
        {"field": "version", "size": 51},
        {},
    ],
)
async def test_field_trend_refuses_bad_input(
    loaded: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await loaded.get("/api/stats/field-trend", params=params)
    assert response.status_code == 400, response.text
    assert set(response.json()) >= {"statusCode", "error", "message"}


async def test_search_clusters(loaded: httpx.AsyncClient) -> None:
    names = await get_json(loaded, "/api/search/clusters", q="NAME OF")
    assert names["total"] == 4
    # The most recently seen first: b's opt-in report is the newest.
    assert [c["cluster_uuid"] for c in names["clusters"]] == ["b", "a", "c", "old"]
    by_version = await get_json(loaded, "/api/search/clusters", version="8.1.0", limit=1)
    assert by_version["total"] == 2
    assert by_version["clusters"][0]["cluster_uuid"] == "b"
    old = await get_json(loaded, "/api/search/clusters", version="7.17.0", active_days=30)
    assert old == {"total": 0, "clusters": []}
    everything = await get_json(loaded, "/api/search/clusters", q="")
    assert everything["total"] == 4


async def test_latest_snapshot_of_a_cluster(loaded: httpx.AsyncClient) -> None:
    body = await get_json(loaded, "/api/clusters/a/latest")
    assert body["kind"] == "snapshot"
    assert body["version"] == "8.2.0"
    assert body["timestamp"] == at(14)
    assert body["payload"]["stack_stats"]["kibana"]["plugins"]["maps"]["count"] == 17
    missing = await loaded.get("/api/clusters/nobody/latest")
    assert missing.status_code == 404
    assert missing.json()["statusCode"] == 404


async def test_the_openapi_document_lists_the_new_routes_and_their_statuses(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in [p.split("?")[0].replace("/a/", "/{cluster_uuid}/") for p in NEW_ROUTES]:
        statuses = set(spec["paths"][path]["get"]["responses"])
        assert {"200", "400", "401", "403", "503"} <= statuses, path
    assert "404" in spec["paths"]["/api/clusters/{cluster_uuid}/latest"]["get"]["responses"]
    assert not any(p.startswith(("/app", "/static")) or p == "/" for p in spec["paths"])


# -- pages and static files -----------------------------------------------------------------
PAGES = [
    "/",
    "/app/events",
    "/app/fields",
    "/app/clusters",
    "/app/clusters/5b2de169-2785",
    "/signin",
]


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="page-config">(.*?)</script>', html)
    assert match, html[:500]
    config: dict[str, Any] = orjson.loads(match.group(1))
    return config


@pytest.mark.parametrize("path", PAGES)
async def test_pages_are_public_shells_with_strict_headers(
    secured: httpx.AsyncClient, path: str
) -> None:
    response = await secured.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    config = page_config(response.text)
    assert config["authRequired"] is True
    assert config["today"] == "2026-03-15"  # the receiver's clock
    for src in re.findall(r'<script[^>]* src="([^"]+)"', response.text):
        assert src.startswith("/static/"), src  # nothing from another origin
        assert (await secured.get(src)).status_code == 200, src


async def test_the_cluster_page_holds_the_id_escaped(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/clusters/%3C%2Fscript%3E%3Cb%3E%26x")
    assert response.status_code == 200  # ids may hold "/" (security review finding 10)
    assert "</script><b>" not in response.text
    assert page_config(response.text)["clusterUuid"] == "</script><b>&x"
    response = await client.get("/app/clusters/%3Cb%3E%26x")
    assert response.status_code == 200
    assert "<b>&x" not in response.text
    assert "&lt;b&gt;&amp;x" in response.text
    assert page_config(response.text)["clusterUuid"] == "<b>&x"
    assert page_config(response.text)["authRequired"] is False


async def test_static_files_have_etags_and_stay_in_their_folder(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/static/receiver/dashboard.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    etag = response.headers["etag"]
    again = await client.get("/static/receiver/dashboard.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    css = await client.get("/static/receiver/dashboard.css")
    assert css.headers["content-type"].startswith("text/css")
    for path in (
        "/static/receiver/nope.js",
        "/static/receiver/..%2Fpages.py",
        "/static/vendor/SHA256SUMS",
        "/static/vendor/..%2F..%2F__init__.py",
    ):
        assert (await client.get(path)).status_code == 404, path


async def test_the_vendored_chart_js_is_the_pinned_file(client: httpx.AsyncClient) -> None:
    sums = dict(
        reversed(line.split()) for line in (VENDOR_DIR / "SHA256SUMS").read_text().splitlines()
    )
    response = await client.get(f"/static/vendor/{CHART_JS}")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == sums[CHART_JS]


def test_every_module_the_templates_and_scripts_name_exists() -> None:
    named = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        named |= set(re.findall(r"\{\{ static \}\}/([\w.-]+)", template.read_text()))
    for script in STATIC_DIR.glob("*.js"):
        named |= set(re.findall(r"from '\./([\w.-]+)'", script.read_text()))
    assert named, "no file named"
    for name in named:
        assert (STATIC_DIR / name).is_file(), name
    for script in STATIC_DIR.glob("*.js"):
        assert "://" not in script.read_text(), script.name


# -- pure helpers --------------------------------------------------------------------------
def test_leaf_fields_stop_at_the_limit() -> None:
    payloads = [{"a": {"b": 1, "c": [1]}, "d": None, "e": {}}, {"a": {"b": "x"}, "f": True}]
    fields, truncated = leaf_fields(payloads, max_fields=10)
    assert truncated is False
    assert fields == [
        {"path": "a.b", "count": 2, "kinds": {"number": 1, "string": 1}},
        {"path": "a.c", "count": 1, "kinds": {"array": 1}},
        {"path": "d", "count": 1, "kinds": {"null": 1}},
        {"path": "f", "count": 1, "kinds": {"boolean": 1}},
    ]
    few, truncated = leaf_fields(payloads, max_fields=2)
    assert truncated is True
    assert len(few) == 2


def test_field_trend_follows_the_top_keywords_of_the_range() -> None:
    parts = TrendParts(
        reports={1: 3, 2: 2},
        kinds={1: {"string": 2}, 2: {"string": 2}},
        keywords=["y"],
        keyword_counts={1: {"x": 1, "y": 1}, 2: {"y": 2}},
    )
    trend = field_trend([0, 1, 2], parts)
    assert trend["keywords"] == ["y"]
    assert [d["keyword"] for d in trend["days"]] == [
        {"counts": [0], "other": 0},
        {"counts": [1], "other": 1},
        {"counts": [2], "other": 0},
    ]
    assert [(d["reports"], d["sampled"]) for d in trend["days"]] == [(0, 0), (3, 3), (2, 2)]
    assert trend["days"][1]["kinds"]["missing"] == 1


def test_field_trend_numbers_equal_those_of_every_value() -> None:
    rng = random.Random(5)
    for _ in range(200):
        pairs = [(rng.choice([0.1, 1e16, -3.0, 2.5, rng.random()]), rng.randint(1, 40))]
        pairs += [(rng.random() * 100, rng.randint(1, 3)) for _ in range(rng.randint(0, 6))]
        count = sum(c for _, c in pairs)
        parts = TrendParts(reports={1: count}, kinds={1: {"number": count}}, numbers={1: pairs})
        got = field_trend([1], parts)
        every = sorted(v for v, c in pairs for _ in range(c))
        assert got["days"][0]["number"] == _number_summary(every, TREND_PERCENTILES)


def test_static_folder_holds_only_served_types() -> None:
    assert {p.suffix for p in Path(STATIC_DIR).iterdir()} <= {".js", ".css"}

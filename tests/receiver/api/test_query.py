"""The query and admin APIs over real ingested reports, with API keys and roles."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from telemetry_service.receiver import Receiver
from telemetry_service.testing import FakeClock

from ..conftest import ADMIN_KEY as ADMIN
from ..conftest import VIEWER_KEY as VIEWER
from ..support import OPT_IN, at, opt_in, send, snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture
async def loaded(client: httpx.AsyncClient, clock: FakeClock) -> httpx.AsyncClient:
    """Three clusters over a few days of March 2026 (the clock says 2026-03-15 12:00)."""
    plugins = {
        "a": {"maps": {"count": 3, "enabled": True, "theme": "dark"}},
        "b": {"maps": {"count": 10, "enabled": False, "theme": "dark"}},
        "c": {"maps": {"count": 5.5, "enabled": True, "theme": "light"}},
    }
    for cluster, stats in plugins.items():
        for day in (12, 13, 14):
            version = "8.2.0" if day == 14 and cluster == "a" else "8.1.0"
            payload = snapshot(cluster, timestamp=at(day), version=version)
            payload["stack_stats"] = {"kibana": {"plugins": {**stats, "day": day}}}
            if not (cluster == "c" and day == 12):
                await send(client, payload)
    await send(client, snapshot("old", timestamp="2025-12-01T00:00:00.000Z"))
    for status in (True, False):
        await send(client, opt_in("a", status), channel=OPT_IN)
        clock.advance(hours=1)
    return client


async def test_clusters_with_latest_report_time_and_version(loaded: httpx.AsyncClient) -> None:
    body = (await loaded.get("/api/clusters")).json()
    assert body["total"] == 4
    by_id = {c["cluster_uuid"]: c for c in body["clusters"]}
    assert by_id["a"]["version"] == "8.2.0"
    assert by_id["a"]["last_report_at"] == at(14)
    assert by_id["a"]["opt_in_status"] is False
    assert by_id["c"]["first_seen"] == at(13)
    assert by_id["old"]["last_report_at"] == "2025-12-01T00:00:00.000Z"
    page = (await loaded.get("/api/clusters", params={"limit": 1, "offset": 3})).json()
    assert [c["cluster_uuid"] for c in page["clusters"]] == ["old"]
    one = (await loaded.get("/api/clusters/b")).json()
    assert one["cluster_name"] == "name of b"


async def test_unknown_cluster_is_404(loaded: httpx.AsyncClient) -> None:
    response = await loaded.get("/api/clusters/nope")
    assert response.status_code == 404
    assert response.json()["statusCode"] == 404


async def test_active_clusters_per_day(loaded: httpx.AsyncClient) -> None:
    params = {"from": "2026-03-11", "to": "2026-03-15"}
    body = (await loaded.get("/api/stats/active-clusters", params=params)).json()
    assert body["days"] == [
        {"date": "2026-03-11", "clusters": 0},
        {"date": "2026-03-12", "clusters": 2},
        {"date": "2026-03-13", "clusters": 3},
        {"date": "2026-03-14", "clusters": 3},
        {"date": "2026-03-15", "clusters": 0},
    ]
    default = (await loaded.get("/api/stats/active-clusters")).json()["days"]
    assert len(default) == 30
    assert default[-1]["date"] == "2026-03-15"


async def test_bad_ranges_are_400(loaded: httpx.AsyncClient) -> None:
    for params in (
        {"from": "2026-03-15", "to": "2026-03-01"},
        {"from": "2000-01-01", "to": "2026-01-01"},
        {"from": "yesterday"},
        {"to": "0001-01-01"},
    ):
        response = await loaded.get("/api/stats/active-clusters", params=params)
        assert response.status_code == 400, (params, response.text)
        assert set(response.json()) >= {"statusCode", "error", "message"}


async def test_latest_report_per_active_cluster(loaded: httpx.AsyncClient) -> None:
    body = (await loaded.get("/api/reports/latest", params={"active_days": 30})).json()
    assert body["total"] == 3
    assert body["active_days"] == 30
    reports = {r["cluster_uuid"]: r for r in body["reports"]}
    assert set(reports) == {"a", "b", "c"}
    assert reports["a"]["payload"]["stack_stats"]["kibana"]["plugins"]["day"] == 14
    assert reports["a"]["timestamp"] == at(14)
    everything = (await loaded.get("/api/reports/latest", params={"active_days": 365})).json()
    assert everything["total"] == 4


async def test_distribution_of_numbers_keywords_and_booleans(loaded: httpx.AsyncClient) -> None:
    async def dist(field: str) -> dict[str, Any]:
        response = await loaded.get("/api/stats/distribution", params={"field": field})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    count = await dist("stack_stats.kibana.plugins.maps.count")
    assert count["clusters"] == 3
    assert count["kinds"]["number"] == 3
    assert count["number"]["min"] == 3
    assert count["number"]["max"] == 10
    assert count["number"]["avg"] == pytest.approx(18.5 / 3)
    assert count["number"]["percentiles"]["50"] == 5.5
    assert count["number"]["percentiles"]["90"] == pytest.approx(9.1)
    assert "keyword" not in count

    theme = await dist("stack_stats.kibana.plugins.maps.theme")
    assert theme["keyword"] == {
        "buckets": [{"value": "dark", "count": 2}, {"value": "light", "count": 1}],
        "other": 0,
    }
    enabled = await dist("stack_stats.kibana.plugins.maps.enabled")
    assert enabled["boolean"] == {"true": 2, "false": 1}
    missing = await dist("stack_stats.kibana.plugins.nothing")
    assert missing["kinds"]["missing"] == 3
    assert {"keyword", "number", "boolean"}.isdisjoint(missing)
    objects = await dist("stack_stats.kibana.plugins.maps")
    assert objects["kinds"]["object"] == 3
    top = (
        await loaded.get(
            "/api/stats/distribution",
            params={"field": "stack_stats.kibana.plugins.maps.theme", "size": 1},
        )
    ).json()
    assert top["keyword"] == {"buckets": [{"value": "dark", "count": 2}], "other": 1}


@pytest.mark.parametrize("field", ["", "a..b", ".a", 'a."b', "a\\b", "x" * 600, "a.\x01"])
async def test_bad_field_paths_are_400(loaded: httpx.AsyncClient, field: str) -> None:
    response = await loaded.get("/api/stats/distribution", params={"field": field})
    assert response.status_code == 400, response.text


async def test_opt_in_changes(loaded: httpx.AsyncClient) -> None:
    body = (await loaded.get("/api/stats/opt-in", params={"from": "2026-03-15"})).json()
    assert body["days"] == [{"date": "2026-03-15", "opted_in": 1, "opted_out": 1}]
    assert [(c["cluster_uuid"], c["opt_in_status"], c["previous"]) for c in body["changes"]] == [
        ("a", True, None),
        ("a", False, True),
    ]
    assert body["truncated"] is False
    limited = (await loaded.get("/api/stats/opt-in", params={"limit": 1})).json()
    assert limited["truncated"] is True
    assert len(limited["changes"]) == 1


async def test_cluster_history(loaded: httpx.AsyncClient) -> None:
    params = {"from": "2026-03-01", "to": "2026-03-31"}
    history = (await loaded.get("/api/clusters/a/reports", params=params)).json()
    assert [r["kind"] for r in history] == ["opt-in", "opt-in", "snapshot", "snapshot", "snapshot"]
    assert history[2]["payload"]["stack_stats"]["kibana"]["plugins"]["day"] == 14
    bare = (
        await loaded.get("/api/clusters/a/reports", params={**params, "payload": "false"})
    ).json()
    assert all("payload" not in r for r in bare)
    assert (await loaded.get("/api/clusters/zzz/reports")).json() == []


async def test_export_ndjson(loaded: httpx.AsyncClient) -> None:
    params = {"from": "2026-03-12", "to": "2026-03-13", "format": "ndjson"}
    response = await loaded.get("/api/export", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert "reports-2026-03-12-2026-03-13.ndjson" in response.headers["content-disposition"]
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    assert len(lines) == 5
    assert [line["timestamp"] for line in lines] == sorted(line["timestamp"] for line in lines)
    assert {line["cluster_uuid"] for line in lines} == {"a", "b", "c"}
    assert lines[0]["payload"]["cluster_uuid"] == lines[0]["cluster_uuid"]


async def test_export_csv(loaded: httpx.AsyncClient) -> None:
    params = {"from": "2026-03-15", "to": "2026-03-15", "format": "csv", "kind": "opt-in"}
    response = await loaded.get("/api/export", params=params)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["opt_in_status"] for row in rows] == ["true", "false"]
    assert orjson.loads(rows[0]["payload"]) == {"cluster_uuid": "a", "opt_in_status": True}


async def test_csv_cells_never_start_a_formula(client: httpx.AsyncClient) -> None:
    await send(client, snapshot("c-1", cluster_name="=HYPERLINK(1)"))
    response = await client.get("/api/export", params={"format": "csv"})
    (row,) = csv.DictReader(io.StringIO(response.text))
    assert row["cluster_name"] == "'=HYPERLINK(1)"


async def test_delete_cluster_forgets_it_with_an_audit_line(
    loaded: httpx.AsyncClient, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telemetry_service.receiver.audit")
    response = await loaded.delete("/api/clusters/a")
    assert response.status_code == 200
    assert response.json() == {
        "cluster_uuid": "a",
        "deleted_reports": 5,
        "deleted_clusters": 1,
        "deleted_events": 0,
    }
    assert await receiver.store.count_reports("a") == 0
    assert (await loaded.get("/api/clusters/a")).status_code == 404
    assert (await loaded.delete("/api/clusters/a")).status_code == 404
    # Every deletion request is audited, also one that found nothing.
    first, second = [r.getMessage() for r in caplog.records if r.name.endswith("audit")]
    assert "'a'" in first
    assert "anonymous" in first
    assert "5 reports" in first
    assert "0 reports" in second
    metrics = (await loaded.get("/metrics")).text
    assert "telemetry_receiver_cluster_deletions_total 1" in metrics


# -- API keys ---------------------------------------------------------------------------------


async def test_ingest_is_open_when_keys_are_configured(secured: httpx.AsyncClient) -> None:
    await send(secured, snapshot("c-1"))
    assert (await secured.get("/api/status")).status_code == 200
    assert (await secured.get("/api/keys/public")).json()["keys"][0]["kid"] == "test-1"


@pytest.mark.parametrize(
    "path", ["/api/clusters", "/api/stats/active-clusters", "/metrics", "/api/export"]
)
async def test_query_api_needs_a_viewer_key(secured: httpx.AsyncClient, path: str) -> None:
    anonymous = await secured.get(path)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("ApiKey")
    wrong = await secured.get(path, headers={"Authorization": "ApiKey nope"})
    assert wrong.status_code == 401
    for key in (VIEWER, ADMIN):
        ok = await secured.get(path, headers={"Authorization": f"ApiKey {key}"})
        assert ok.status_code == 200, ok.text
    bearer = await secured.get(path, headers={"Authorization": f"Bearer {VIEWER}"})
    assert bearer.status_code == 200


async def test_delete_needs_an_admin_key(secured: httpx.AsyncClient) -> None:
    await send(secured, snapshot("c-1"))
    assert (await secured.delete("/api/clusters/c-1")).status_code == 401
    viewer = await secured.delete(
        "/api/clusters/c-1", headers={"Authorization": f"ApiKey {VIEWER}"}
    )
    assert viewer.status_code == 403
    assert "[dash]" in viewer.json()["message"]
    admin = await secured.delete("/api/clusters/c-1", headers={"Authorization": f"ApiKey {ADMIN}"})
    assert admin.status_code == 200


async def test_openapi_documents_the_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    send_op = spec["paths"]["/v3/send/{channel}"]["post"]
    assert set(send_op["responses"]) >= {"200", "400", "404", "413", "415", "429", "503"}
    names = {p["name"] for p in send_op["parameters"]}
    assert {
        "X-Elastic-Cluster-ID",
        "X-Elastic-Stack-Version",
        "X-Elastic-Content-Encoding",
    } <= names
    assert "delete" in spec["paths"]["/api/clusters/{cluster_uuid}"]
    assert (await client.get("/docs")).status_code == 404  # no CDN-loaded pages


@pytest.mark.parametrize("uuid", ['xss-6-=HYPERLINK("http://evil")', "a/b", "a/latest/x"])
async def test_a_cluster_id_with_a_slash_can_be_read_and_deleted(
    client: httpx.AsyncClient, uuid: str
) -> None:
    """Security review finding 10: an id holding `/` (sent URL-encoded, as the dashboard's
    encodeURIComponent does) is found by the cluster routes and its page, and can be deleted.
    Before, each answered 404."""
    await send(client, snapshot(uuid))
    path = quote(uuid, safe="")
    assert (await client.get(f"/api/clusters/{path}")).json()["cluster_uuid"] == uuid
    assert (await client.get(f"/api/clusters/{path}/latest")).json()["cluster_uuid"] == uuid
    assert len((await client.get(f"/api/clusters/{path}/reports")).json()) == 1
    page = await client.get(f"/app/clusters/{path}")
    assert page.status_code == 200
    deleted = await client.delete(f"/api/clusters/{path}")
    assert deleted.json()["deleted_reports"] == 1
    assert (await client.get(f"/api/clusters/{path}")).status_code == 404

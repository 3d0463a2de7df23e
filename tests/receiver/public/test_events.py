"""Event types of ``public.events`` in the public statistics: deployments and events per day
from the event store's daily aggregates, nothing on a day of fewer than minClusters
deployments, nothing of a type that is not listed, no cluster id anywhere."""

from __future__ import annotations

import orjson
import pytest

from telemetry_service.common.clock import DAY_MS, iso_date, to_ms
from telemetry_service.receiver import load_config
from telemetry_service.receiver.public.aggregate import HISTORY_DAYS
from telemetry_service.receiver.public.service import PublicStats
from telemetry_service.receiver.storage import ReportStore
from telemetry_service.testing import FakeClock

from .support import send_events

pytestmark = pytest.mark.anyio


async def test_listed_event_types_are_published_over_enough_deployments(
    store: ReportStore, clock: FakeClock
) -> None:
    await send_events(store, clock, "dashboard_opened", 12, per_cluster=3)
    await send_events(store, clock, "dashboard_opened", 4, days_ago=2, prefix="other")
    await send_events(store, clock, "rare_feature", 9, per_cluster=50)
    await send_events(store, clock, "unlisted_feature", 40)
    events = ["dashboard_opened", "rare_feature", "never_sent"]
    settings = load_config({"public": {"enabled": True, "events": events}}, env={}).public

    published = await PublicStats(store, settings, clock=clock).refresh()
    opened, rare, never = published.document["events"]

    yesterday = iso_date(to_ms(clock()) // DAY_MS - 1)
    assert opened["event_type"] == "dashboard_opened"
    assert opened["deployments"] == 16
    assert len(opened["days"]) == HISTORY_DAYS
    assert opened["days"][-1] == {"date": yesterday, "deployments": 12, "events": 36}
    assert opened["days"][-2]["deployments"] is None  # 4 deployments that day
    assert opened["days"][-2]["events"] is None
    for item in (rare, never):
        assert item["deployments"] is None
        assert all(day["deployments"] is day["events"] is None for day in item["days"])
    text = published.body.decode()
    assert "unlisted_feature" not in text
    for cluster_part in ("-dashboard_opened-", "-rare_feature-", " name"):
        assert cluster_part not in text  # no cluster id or name of the events
    assert orjson.loads(text) == published.document

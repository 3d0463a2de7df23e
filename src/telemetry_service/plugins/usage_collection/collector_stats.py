"""The `usage_collector_stats` pseudo-collector (spec 7.3 step 5): how the last bulk fetch went.

Kibana's shape, plus our `schema_violation` group (collectors whose output had parts that did not
match their schema: those parts were dropped, the rest was sent) and `schema_violation_paths`
(the dropped paths, ``<collector>.<field path>``). Every ready collector is in exactly one of
`succeeded`, `failed` (raised or timed out) and `schema_violation`. Durations are in
milliseconds; the totals are sums over collectors (as in Kibana), not wall-clock time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from .schema import Schema, leaf

__all__ = [
    "USAGE_COLLECTOR_STATS_SCHEMA",
    "USAGE_COLLECTOR_STATS_TYPE",
    "FetchStatus",
    "build_usage_collector_stats",
]

USAGE_COLLECTOR_STATS_TYPE = "usage_collector_stats"

FetchStatus = Literal["success", "failed", "schema_violation"]


def _group(names: Sequence[str]) -> dict[str, Any]:
    return {"count": len(names), "names": list(names)}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def build_usage_collector_stats(
    *,
    not_ready: Sequence[str],
    not_ready_timeout: Sequence[str],
    is_ready_durations: Sequence[tuple[str, float]],
    fetches: Sequence[tuple[str, FetchStatus, float]],
    dropped_paths: Sequence[str] = (),
) -> dict[str, Any]:
    """Build the stats (shaped as `USAGE_COLLECTOR_STATS_SCHEMA`) from the readiness outcome, the
    ``(type, status, seconds)`` fetches and the paths dropped from outputs because they did not
    match their schema."""
    total_is_ready = sum(seconds for _, seconds in is_ready_durations)
    total_fetch = sum(seconds for _, _, seconds in fetches)

    def names(status: FetchStatus) -> list[str]:
        return [name for name, outcome, _ in fetches if outcome == status]

    return {
        "not_ready": _group(not_ready),
        "not_ready_timeout": _group(not_ready_timeout),
        "succeeded": _group(names("success")),
        "failed": _group(names("failed")),
        "schema_violation": _group(names("schema_violation")),
        "schema_violation_paths": list(dropped_paths),
        "total_is_ready_duration": _ms(total_is_ready),
        "total_fetch_duration": _ms(total_fetch),
        "total_duration": _ms(total_is_ready + total_fetch),
        "is_ready_duration_breakdown": [
            {"name": name, "duration": _ms(seconds)} for name, seconds in is_ready_durations
        ],
        "fetch_duration_breakdown": [
            {"name": name, "duration": _ms(seconds)} for name, _, seconds in fetches
        ],
    }


def _names_count(what: str) -> Schema:
    return {
        "count": leaf("short", f"The number of collectors that {what}"),
        "names": {
            "type": "array",
            "items": leaf("keyword", f"The names of the collectors that {what}"),
        },
    }


def _breakdown(function: str) -> Schema:
    duration = (
        f"The execution duration of the {function} function for the collector in milliseconds"
    )
    items = {
        "name": leaf("keyword", "The name of the collector"),
        "duration": leaf("double", duration),
    }
    return {"type": "array", "items": items}


def _total(what: str) -> Schema:
    return leaf("double", f"{what} in milliseconds")


USAGE_COLLECTOR_STATS_SCHEMA: Schema = {
    "not_ready": _names_count("returned false from the is_ready function"),
    "not_ready_timeout": _names_count("timed out during the is_ready function"),
    "succeeded": _names_count("returned data from the fetch function"),
    "failed": _names_count("raised an error or timed out in the fetch function"),
    "schema_violation": _names_count(
        "returned data that did not match their schema (those parts were dropped, not sent)"
    ),
    "schema_violation_paths": {
        "type": "array",
        "items": leaf(
            "keyword",
            "The paths (collector type, then the field path) dropped from the collectors' output "
            "because they did not match the collector's schema (at most 100 per collector)",
        ),
    },
    "total_is_ready_duration": _total(
        "The total execution duration of the is_ready function for all collectors"
    ),
    "total_fetch_duration": _total(
        "The total execution duration of the fetch function for all ready collectors"
    ),
    "total_duration": _total("The total execution duration to grab usage stats for all collectors"),
    "is_ready_duration_breakdown": _breakdown("is_ready"),
    "fetch_duration_breakdown": _breakdown("fetch"),
}

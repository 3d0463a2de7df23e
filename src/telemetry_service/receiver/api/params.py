"""What the API's routes take: query and path parameters, the receiver's parts (from
``app.state``, set by :class:`~telemetry_service.receiver.Receiver`), role checks and the
documented error answers; and the rules of a range of days and of "active"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from starlette.convertors import Convertor, register_url_convertor

from telemetry_service.common.apikeys import ApiKeyRegistry, Principal
from telemetry_service.common.clock import DAY_MS, Clock, to_ms

from ..analysis import DateRange, date_range, parse_field_path
from ..errors import Rejection
from ..http import require_role
from ..metrics import Metrics
from ..storage import ReportStore
from .models import error_response

__all__ = [
    "CLUSTER_ID_PATH",
    "MAX_RANGE_DAYS",
    "RESPONSES",
    "VIEWER",
    "ActiveDays",
    "ClusterId",
    "Field",
    "From",
    "Keys",
    "Limit",
    "MetricsDep",
    "Now",
    "Offset",
    "Store",
    "To",
    "Viewer",
    "date_span",
    "error_responses",
    "field_path",
    "from_state",
    "not_found",
    "since",
]

MAX_RANGE_DAYS = 3660

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
ActiveDays = Annotated[
    int, Query(ge=1, le=3650, description="A cluster is active if its latest snapshot is newer.")
]
From = Annotated[dt.date | None, Query(alias="from", description="First UTC day (YYYY-MM-DD).")]
To = Annotated[dt.date | None, Query(alias="to", description="Last UTC day, included.")]
ClusterId = Annotated[str, Path(min_length=1, max_length=200)]


class _ClusterIdConvertor(Convertor[str]):
    """A cluster id in a path: any characters, ``/`` and line breaks included (``%2F`` is
    decoded before routing, so an id holding ``/`` spans several path segments)."""

    regex = "(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("cluster_id", _ClusterIdConvertor())
#: The path parameter of the routes of one cluster.
CLUSTER_ID_PATH = "{cluster_uuid:cluster_id}"
Field = Annotated[str, Query(description="A dotted payload path.", max_length=512)]


def from_state(name: str) -> Callable[[Request], Any]:
    """A dependency that answers the receiver's part `name` (``app.state.<name>``)."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


def _now(request: Request) -> dt.datetime:
    clock: Clock = request.app.state.clock
    return clock()


Store = Annotated[ReportStore, Depends(from_state("store"))]
MetricsDep = Annotated[Metrics, Depends(from_state("metrics"))]
Keys = Annotated[ApiKeyRegistry, Depends(from_state("keys"))]
Now = Annotated[dt.datetime, Depends(_now)]
#: The viewer role check (401 / 403); its answer is the caller.
VIEWER = Depends(require_role("viewer"))
Viewer = Annotated[Principal, VIEWER]


def error_responses(role: str) -> dict[int | str, dict[str, Any]]:
    """The documented errors of a route that needs `role`."""
    return {
        400: error_response("A bad parameter."),
        401: error_response("API keys are configured and none was sent."),
        403: error_response(f"The API key lacks the {role} role."),
        503: error_response("The store is unavailable; see Retry-After."),
    }


RESPONSES = error_responses("viewer")


def not_found(what: str) -> dict[int | str, dict[str, Any]]:
    return {404: error_response(f"No {what} of that cluster.")}


def date_span(
    first: dt.date | None, last: dt.date | None, now: dt.datetime, *, max_days: int = MAX_RANGE_DAYS
) -> DateRange:
    """The UTC days from `first` to `last` (default: the 30 days up to today); 400 when
    `last` is before `first` or the range is longer than `max_days`."""
    try:
        return date_range(first, last, today=now.date(), default_days=30, max_days=max_days)
    except (ValueError, OverflowError) as exc:
        raise Rejection(400, "bad_range", str(exc)) from None


def since(now: dt.datetime, active_days: int) -> int:
    """The epoch ms from which a cluster whose latest snapshot is newer counts as active."""
    return to_ms(now) - active_days * DAY_MS


def field_path(field: str) -> tuple[str, ...]:
    """A dotted payload path's keys; 400 when it is not one."""
    try:
        return parse_field_path(field)
    except ValueError as exc:
        raise Rejection(400, "bad_field", str(exc)) from None

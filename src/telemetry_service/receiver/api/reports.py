"""``/api/reports/latest`` and ``/api/export`` (viewer role): reports with their payloads,
embedded as received, and (``kind=event``) events with their context and properties."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..events.export import event_csv_rows, event_ndjson_lines
from ..export import csv_rows, ndjson_lines, reports_array
from .models import LatestReports
from .params import (
    RESPONSES,
    VIEWER,
    ActiveDays,
    From,
    Limit,
    Now,
    Offset,
    Store,
    To,
    date_span,
    since,
)

__all__ = ["router"]

router = APIRouter(tags=["reports"], dependencies=[VIEWER], responses=RESPONSES)


@router.get("/api/reports/latest", response_model=LatestReports, response_class=JSONResponse)
async def latest_reports(
    store: Store, now: Now, active_days: ActiveDays = 30, limit: Limit = 100, offset: Offset = 0
) -> Response:
    """The latest snapshot of each active cluster, newest first."""
    total, reports = await store.latest_reports(
        since_ms=since(now, active_days), limit=limit, offset=offset
    )
    head = f'{{"total":{total},"active_days":{active_days},"reports":'.encode()
    return Response(head + reports_array(reports) + b"}", media_type="application/json")


@router.get(
    "/api/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "NDJSON (one report or event per line) or CSV (a header row first).",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        }
    },
)
async def export(
    store: Store,
    now: Now,
    first: From = None,
    last: To = None,
    format: Annotated[Literal["ndjson", "csv"], Query()] = "ndjson",
    kind: Annotated[Literal["snapshot", "opt-in", "event"] | None, Query()] = None,
) -> StreamingResponse:
    """Every report of a range of days (default: the last 30), by report time; with
    ``kind=event``, every event of the range by event time."""
    span = date_span(first, last, now)
    what = "events" if kind == "event" else "reports"
    name = f"{what}-{span.first.isoformat()}-{span.last.isoformat()}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if kind == "event":
        events = store.events
        if format == "csv":
            rows = event_csv_rows(events, span.from_ms, span.to_ms)
            return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)
        lines = event_ndjson_lines(events, span.from_ms, span.to_ms)
        return StreamingResponse(lines, media_type="application/x-ndjson", headers=headers)
    if format == "csv":
        rows = csv_rows(store, span.from_ms, span.to_ms, kind=kind)
        return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)
    lines = ndjson_lines(store, span.from_ms, span.to_ms, kind=kind)
    return StreamingResponse(lines, media_type="application/x-ndjson", headers=headers)

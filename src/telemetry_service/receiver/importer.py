"""``receiver import FILE``: ingest an air-gapped export exactly as the HTTP path would.

The file (written by the host's ``telemetry export``) is one JSON object, or a JSON list
of them::

    {"format": "telemetry-service-export/1", "url": "https://…/v3/send/<channel>",
     "channel": "<channel>", "headers": {"X-Elastic-Cluster-ID": "…", …},
     "body": "<packed encrypted string>"}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .errors import ReceiverError, Rejection
from .ingest import IngestService

__all__ = ["EXPORT_FORMAT", "ImportFileError", "ImportResult", "import_file", "read_export"]

EXPORT_FORMAT = "telemetry-service-export/1"
_MAX_FILE_BYTES = 1024 * 1024 * 1024


class ImportFileError(ReceiverError):
    """The file is not an export."""


@dataclass(frozen=True)
class ImportResult:
    """One item's outcome: ``stored``, ``duplicate`` or ``rejected`` (with status, message)."""

    index: int
    channel: str
    outcome: str
    status: int
    message: str


def read_export(path: Path) -> list[dict[str, Any]]:
    """The items of an export file; raises :class:`ImportFileError` naming the problem."""
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise ImportFileError(f"{path} is larger than 1 GiB")
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise ImportFileError(f"{path} is not a JSON file") from None
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        where = f"{path} item #{index}"
        if not isinstance(item, dict):
            raise ImportFileError(f"{where} is not a JSON object")
        if item.get("format") != EXPORT_FORMAT:
            raise ImportFileError(f'{where}: "format" must be "{EXPORT_FORMAT}"')
        if not isinstance(item.get("body"), str):
            raise ImportFileError(f'{where}: "body" must be the encrypted string')
        headers = item.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ImportFileError(f'{where}: "headers" must map names to strings')
        if _channel(item) is None:
            raise ImportFileError(f'{where}: "channel" (or a …/v3/send/<channel> url) is missing')
    return items


def _channel(item: dict[str, Any]) -> str | None:
    channel = item.get("channel")
    if isinstance(channel, str) and channel:
        return channel
    url = item.get("url")
    if isinstance(url, str) and "/v3/send/" in url:
        return url.rsplit("/v3/send/", 1)[1].split("?", 1)[0].strip("/") or None
    return None


async def import_file(service: IngestService, path: Path) -> list[ImportResult]:
    """Ingest every item of `path` through `service`; refusals do not stop the others."""
    results = []
    for index, item in enumerate(read_export(path)):
        channel = _channel(item)
        assert channel is not None
        body = item["body"].encode("utf-8")

        async def read_body(limit: int, body: bytes = body) -> bytes:
            if len(body) > limit:
                raise Rejection(413, "too_large", f"the body is larger than {limit} bytes")
            return body

        try:
            outcome = await service.handle(channel, item.get("headers", {}), read_body)
        except Rejection as exc:
            results.append(ImportResult(index, channel, "rejected", exc.status, exc.message))
            continue
        kind = "duplicate" if outcome.duplicate else "stored"
        results.append(ImportResult(index, channel, kind, 200, outcome.id))
    return results

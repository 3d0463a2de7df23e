"""``receiver import FILE``: ingest an air-gapped export exactly as the HTTP path would.

The file (written by the host's ``telemetry export``) is one export document
(``telemetry_service.wire.protocol.export_document``), or a JSON list of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from telemetry_service.wire.protocol import EXPORT_FORMAT, ExportedRequest, read_export_document

from .errors import ReceiverError, Rejection
from .ingest import IngestService

__all__ = ["EXPORT_FORMAT", "ImportFileError", "ImportResult", "import_file", "read_export"]

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


def read_export(path: Path) -> list[ExportedRequest]:
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
    requests = []
    for index, item in enumerate(items):
        try:
            requests.append(read_export_document(item))
        except ValueError as exc:
            raise ImportFileError(f"{path} item #{index}: {exc}") from None
    return requests


async def import_file(service: IngestService, path: Path) -> list[ImportResult]:
    """Ingest every item of `path` through `service`; refusals do not stop the others."""
    results = []
    for index, request in enumerate(read_export(path)):
        channel = request.channel
        body = request.body.encode("utf-8")

        async def read_body(limit: int, body: bytes = body) -> bytes:
            if len(body) > limit:
                raise Rejection(413, "too_large", f"the body is larger than {limit} bytes")
            return body

        try:
            outcome = await service.handle(channel, request.headers, read_body)
        except Rejection as exc:
            results.append(ImportResult(index, channel, "rejected", exc.status, exc.message))
            continue
        kind = "duplicate" if outcome.duplicate else "stored"
        results.append(ImportResult(index, channel, kind, 200, outcome.id))
    return results

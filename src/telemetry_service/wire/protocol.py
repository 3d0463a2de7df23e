"""The telemetry wire protocol, written once for both ends: channels, URLs, headers, framing.

Reports go to ``{base}v3/send/{product}-{kind}`` (Kibana's ``get_telemetry_channel_endpoint``
and ``ebt_v3_endpoint/build_url``). ``snapshot`` and ``opt-in-reports`` carry an encrypted body
with :func:`report_headers`; ``server`` and ``browser`` carry event-based telemetry as NDJSON
with :func:`event_headers` (``build_headers``) and :func:`events_to_ndjson`. An export file
(``telemetry export`` writes it, ``receiver import`` reads it) holds the same request as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .jsonc import compact_json

__all__ = [
    "CHANNEL_KINDS",
    "CONTENT_ENCODING",
    "DEFAULT_PRODUCT",
    "ENCRYPTED_KINDS",
    "EVENT_KINDS",
    "EXPORT_FORMAT",
    "HEADER_BATCH_ID",
    "HEADER_CLUSTER_ID",
    "HEADER_CONTENT_ENCODING",
    "HEADER_LICENSE_ID",
    "HEADER_STACK_VERSION",
    "NDJSON_CONTENT_TYPE",
    "SEND_PATH",
    "UNKNOWN_CLUSTER",
    "ChannelKind",
    "ExportedRequest",
    "channel_name",
    "channel_url",
    "event_headers",
    "events_to_ndjson",
    "export_document",
    "parse_channel",
    "read_export_document",
    "report_headers",
]

DEFAULT_PRODUCT = "telemetry-service"
SEND_PATH = "v3/send/"

ChannelKind = Literal["snapshot", "opt-in-reports", "server", "browser"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = get_args(ChannelKind)
#: Channels whose body is an encrypted report.
ENCRYPTED_KINDS: frozenset[str] = frozenset({"snapshot", "opt-in-reports"})
#: Channels whose body is NDJSON events (EBT).
EVENT_KINDS: frozenset[str] = frozenset({"server", "browser"})

HEADER_STACK_VERSION = "X-Elastic-Stack-Version"
HEADER_CLUSTER_ID = "X-Elastic-Cluster-ID"
HEADER_CONTENT_ENCODING = "X-Elastic-Content-Encoding"
HEADER_LICENSE_ID = "X-Elastic-License-ID"
#: Names one event batch, the same on every retry of it (ours: Kibana sends none), so that
#: the receiver stores a retried batch once.
HEADER_BATCH_ID = "X-Elastic-Batch-ID"
#: Value of ``X-Elastic-Content-Encoding`` on an encrypted body.
CONTENT_ENCODING = "aes256gcm"
NDJSON_CONTENT_TYPE = "application/x-ndjson"
#: ``x-elastic-cluster-id`` of an event batch whose cluster is not known yet.
UNKNOWN_CLUSTER = "UNKNOWN"
EXPORT_FORMAT = "telemetry-service-export/1"


def channel_name(product: str, kind: ChannelKind) -> str:
    """``{product}-{kind}``, e.g. ``telemetry-service-snapshot``."""
    if kind not in CHANNEL_KINDS:
        raise ValueError(f"Unknown telemetry channel {kind}.")
    return f"{product}-{kind}"


def parse_channel(name: str, products: Iterable[str] | str) -> ChannelKind | None:
    """The kind of channel `name` for one of `products`, or None when it is none of ours."""
    for product in (products,) if isinstance(products, str) else products:
        kind = name.removeprefix(product + "-")
        if kind != name and kind in CHANNEL_KINDS:
            return kind
    return None


def channel_url(base: str, product: str, kind: ChannelKind) -> str:
    """``{base}v3/send/{product}-{kind}``; a missing trailing ``/`` on `base` is added."""
    base = base if base.endswith("/") else base + "/"
    return f"{base}{SEND_PATH}{channel_name(product, kind)}"


def report_headers(version: str, cluster_uuid: str) -> dict[str, str]:
    """The four headers of an encrypted report (Kibana's ``sendIfDue``)."""
    return {
        "Content-Type": "application/json",
        HEADER_STACK_VERSION: version,
        HEADER_CLUSTER_ID: cluster_uuid,
        HEADER_CONTENT_ENCODING: CONTENT_ENCODING,
    }


def event_headers(
    cluster_uuid: str | None, version: str, license_id: str | None = None
) -> dict[str, str]:
    """The lower-case headers of an event batch (EBT ``build_headers``); no encoding header."""
    headers = {
        "content-type": NDJSON_CONTENT_TYPE,
        HEADER_CLUSTER_ID.lower(): cluster_uuid or UNKNOWN_CLUSTER,
        HEADER_STACK_VERSION.lower(): version,
    }
    if license_id:
        headers[HEADER_LICENSE_ID.lower()] = license_id
    return headers


def events_to_ndjson(events: Iterable[Mapping[str, object]]) -> bytes:
    """One ``JSON.stringify`` line per event, each ending in ``\\n`` (EBT ``eventsToNDJSON``)."""
    return b"".join(compact_json(dict(event)) + b"\n" for event in events)


@dataclass(frozen=True)
class ExportedRequest:
    """One request read back from an export file."""

    channel: str
    headers: dict[str, str]
    body: str


def export_document(
    url: str, headers: Mapping[str, str], body: str, exported_at: str
) -> dict[str, Any]:
    """One item of an export file: the request to `url` that could not be sent."""
    return {
        "format": EXPORT_FORMAT,
        "exportedAt": exported_at,
        "url": url,
        "channel": _channel_of_url(url),
        "headers": dict(headers),
        "body": body,
    }


def read_export_document(item: object) -> ExportedRequest:
    """The request in one export item; ValueError names what is wrong."""
    if not isinstance(item, dict):
        raise ValueError("the item is not a JSON object")
    if item.get("format") != EXPORT_FORMAT:
        raise ValueError(f'"format" must be "{EXPORT_FORMAT}"')
    body, headers, channel = item.get("body"), item.get("headers", {}), item.get("channel")
    if not isinstance(body, str):
        raise ValueError('"body" must be the encrypted string')
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError('"headers" must map names to strings')
    if not (isinstance(channel, str) and channel):
        url = item.get("url")
        channel = _channel_of_url(url) if isinstance(url, str) else None
    if not channel:
        raise ValueError(f'"channel" (or a …/{SEND_PATH}<channel> url) is missing')
    return ExportedRequest(channel, headers, body)


def _channel_of_url(url: str) -> str | None:
    """The channel at the end of a ``…/v3/send/<channel>`` URL."""
    if "/" + SEND_PATH not in url:
        return None
    return url.rsplit("/" + SEND_PATH, 1)[1].split("?", 1)[0].strip("/") or None

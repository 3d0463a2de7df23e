"""``ElasticV3ServerShipperConfig``: what the Elastic V3 server shipper is given, limits too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from telemetry_service.common.clock import Clock, utc_now
from telemetry_service.wire.protocol import DEFAULT_PRODUCT

from . import send_policy as policy

__all__ = ["ElasticV3ServerShipperConfig"]


def _new_batch_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ElasticV3ServerShipperConfig:
    """``base_url`` is the telemetry cluster (e.g. ``https://telemetry.elastic.co/``);
    ``version`` goes into ``x-elastic-stack-version``."""

    base_url: str
    version: str
    product: str = DEFAULT_PRODUCT
    debug: bool = False
    transport: httpx.AsyncBaseTransport | None = None
    timeout_s: float = 30.0
    """Total deadline of one request (connect, upload, answer), not only of each read."""
    max_response_bytes: int = 65_536
    """At most this much of an answer is read (only its status is used)."""
    flush_wait_s: float = 1.5
    """A flush waits this long at most for a connectivity check, and the last flush at shutdown
    this long in all: a slow endpoint cannot hold a stopping host."""
    clock: Clock = utc_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    new_batch_id: Callable[[], str] = _new_batch_id
    queue_cap: int = policy.MAX_QUEUE
    #: Print each batch's NDJSON with this instead of sending it (no network call at all).
    print_to: Callable[[str], None] | None = None

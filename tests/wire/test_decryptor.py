"""`parse_json`: large documents are parsed with the cycle collector paused."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from telemetry_service.wire import MalformedPayloadError
from telemetry_service.wire.decryptor import parse_json

# About 600 KB of small objects: their allocation triggers many collections.
LARGE = orjson.dumps([{"i": i, "tags": ["a", "b"], "n": {"x": i}} for i in range(20_000)])


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the cycle collections that start while the test runs."""
    started: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(record)
    try:
        yield started
    finally:
        gc.callbacks.remove(record)


def test_a_large_document_is_parsed_without_cycle_collections(collections: list[int]) -> None:
    assert gc.isenabled()
    value = parse_json(LARGE)
    assert gc.isenabled()
    assert len(collections) <= 1  # one may start once the collector is resumed
    assert len(value) == 20_000


def test_the_collector_stays_paused_when_it_was_paused(collections: list[int]) -> None:
    gc.disable()
    try:
        parse_json(LARGE)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_is_resumed_when_the_parse_fails() -> None:
    with pytest.raises(MalformedPayloadError):
        parse_json(b"[" + b"1," * 50_000 + b"x]")
    assert gc.isenabled()

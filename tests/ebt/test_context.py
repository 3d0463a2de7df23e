"""Context providers, ported from ebt's context_service.test.ts (spec 1.6)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from telemetry_service.ebt import ContextService, ContextValue

SCHEMA = {"a": {"type": "boolean", "_meta": {"description": "a", "optional": True}}}


def make() -> tuple[ContextService, list[Mapping[str, Any]]]:
    seen: list[Mapping[str, Any]] = []
    return ContextService(seen.append), seen


def test_merges_all_the_contexts_together() -> None:
    service, _ = make()
    a, b = ContextValue(), ContextValue()
    service.register("A", a, None)
    service.register("B", b, None)
    a.set({"a": True})
    b.set({"b": 1})
    b.set({"a": False, "b": 1})
    a.set({"a": True})
    assert service.context == {"a": False, "b": 1}  # B registered later: it wins
    b.set({"b": 2})
    assert service.context == {"a": True, "b": 2}


def test_dropped_keys_do_not_pollute_and_none_counts_as_empty() -> None:
    service, seen = make()
    source = ContextValue({"a": 1, "b": 2})
    service.register("p", source, None)
    source.set({"a": 1})
    assert service.context == {"a": 1}
    source.set(None)
    assert service.context == {}
    first, second = seen[0], seen[1]
    assert first is not second  # every rebuild is a new object


def test_none_values_are_skipped() -> None:
    service, _ = make()
    service.register("p", {"a": None, "b": 1}, None)
    assert service.context == {"b": 1}


def test_duplicate_name_raises_and_remove_then_re_add_works() -> None:
    service, _ = make()
    service.register("p", {"a": 1}, None)
    with pytest.raises(ValueError, match="Context provider with name 'p' already registered"):
        service.register("p", {"a": 2}, None)
    service.remove("p")
    service.remove("missing")  # no-op
    assert service.context == {}
    service.register("p", {"a": 3}, None)  # ebt 1.4.1: handles adding, removing, and re-adding
    assert service.context == {"a": 3}


def test_removed_provider_stops_updating() -> None:
    service, _ = make()
    source = ContextValue({"a": 1})
    service.register("p", source, None)
    service.remove("p")
    source.set({"a": 2})
    assert service.context == {}


def test_invalid_emission_is_ignored_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    service, _ = make()
    source = ContextValue({"a": True})
    service.register("p", source, SCHEMA)
    with caplog.at_level(logging.ERROR):
        source.set({"a": "not a bool"})
        source.set({"a": 3})
    assert service.context == {"a": True}
    errors = [r.message for r in caplog.records]
    assert len(errors) == 1
    assert errors[0].startswith("Failed to validate payload coming from \"Context Provider 'p'\"")
    source.set({"a": False})  # the subscription stays alive
    assert service.context == {"a": False}

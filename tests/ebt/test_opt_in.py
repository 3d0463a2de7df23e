"""Opt-in config questions, ported from ebt's opt_in_config.test.ts (spec 1.5)."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry_service.ebt import OptInConfig


@pytest.mark.parametrize("enabled", [True, False])
def test_is_opted_in_is_global_enabled(enabled: bool) -> None:
    assert OptInConfig({"global": {"enabled": enabled}}).is_opted_in() is enabled


@pytest.mark.parametrize(
    ("enabled", "types", "expected"),
    [
        (True, None, True),
        (False, None, False),
        (True, {"e2": {"enabled": True}, "e3": {"enabled": False}}, True),
        (False, {"e2": {"enabled": True}, "e3": {"enabled": False}}, False),
        (True, {"e1": {"enabled": True}}, True),
        (False, {"e1": {"enabled": True}}, False),
        (True, {"e1": {"enabled": False}}, False),
        (False, {"e1": {"enabled": False}}, False),
    ],
)
def test_is_event_type_opted_in(enabled: bool, types: Any, expected: bool) -> None:
    config: dict[str, Any] = {"global": {"enabled": enabled}}
    if types is not None:
        config["event_types"] = types
    assert OptInConfig(config).is_event_type_opted_in("e1") is expected


@pytest.mark.parametrize(
    ("enabled", "shippers", "expected"),
    [
        (True, None, True),
        (False, None, False),
        (True, {"s1": True}, True),
        (True, {"s1": False}, False),
        (False, {"s1": True}, False),
        (True, {"s2": False}, True),
    ],
)
def test_is_shipper_opted_in_without_type(enabled: bool, shippers: Any, expected: bool) -> None:
    rule: dict[str, Any] = {"enabled": enabled}
    if shippers is not None:
        rule["shippers"] = shippers
    assert OptInConfig({"global": rule}).is_shipper_opted_in("s1") is expected


@pytest.mark.parametrize(
    ("global_shippers", "type_rule", "expected"),
    [
        ({}, None, True),
        ({"s1": False}, None, False),
        ({}, {"enabled": False}, False),
        ({}, {"enabled": True, "shippers": {"s1": False}}, False),
        ({}, {"enabled": True, "shippers": {"s1": True}}, True),
        ({}, {"enabled": True, "shippers": {"s2": False}}, True),
        ({"s1": False}, {"enabled": True, "shippers": {"s1": True}}, False),
    ],
)
def test_is_shipper_opted_in_for_type(global_shippers: Any, type_rule: Any, expected: bool) -> None:
    config: dict[str, Any] = {"global": {"enabled": True, "shippers": global_shippers}}
    if type_rule is not None:
        config["event_types"] = {"e1": type_rule}
    assert OptInConfig(config).is_shipper_opted_in("s1", "e1") is expected


def test_a_config_without_global_enabled_is_refused() -> None:
    with pytest.raises(ValueError, match="global"):
        OptInConfig({"event_types": {}})

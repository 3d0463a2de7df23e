"""The ``global_session`` hash vectors (ebt: global_session_context_provider.test.ts; spec 3.2)."""

from __future__ import annotations

import datetime as dt

import pytest

from telemetry_service.ebt import compile_schema
from telemetry_service.ebt.global_session import (
    GLOBAL_SESSION_SCHEMA,
    global_session_context,
    global_session_id,
)

DAY = dt.date(2022, 1, 1)


@pytest.mark.parametrize(
    ("organization", "user", "expected"),
    [
        (None, "user1", "e4d3fa408fc9882d6079ec39d09ebe0080a7ef6e44c68b077d702f04c9ea385b"),
        (None, "user2", "57bfd7638f8f4a4dbec7cad7f7c5c5729a1b1c369b80d12f6d9eff8cf21bf8c4"),
        ("org1", "user1", "3de398aba32389db9327d6f2564f1a82e87d8d328264c201b141716e6662d396"),
        ("org1", "user2", "2c08ab456bd3b7d473f431ff9b66940ffb8a3cdd996a0b0513ec61de40723045"),
    ],
)
def test_kibana_vectors(organization: str | None, user: str, expected: str) -> None:
    assert global_session_id(organization, user, DAY) == expected


def test_the_day_is_the_utc_day() -> None:
    """23:30 on 31 December 2021 at UTC-05:00 is already 1 January 2022 in UTC."""
    late = dt.datetime(2021, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert global_session_context("org1", "user1", late) == {
        "global_session": global_session_id("org1", "user1", DAY)
    }
    assert global_session_id("org1", "user1", dt.date(2022, 1, 2)) != global_session_id(
        "org1", "user1", DAY
    )


def test_the_context_value_matches_its_schema() -> None:
    validator = compile_schema(GLOBAL_SESSION_SCHEMA, "Context Provider 'global_session'")
    value = global_session_context(None, "user1", dt.datetime(2022, 1, 1, tzinfo=dt.UTC))
    assert validator.is_valid(value)
    assert not validator.is_valid({"global_session": 1})

"""Opt-in rules: Kibana's test tables (spec 2.2, 2.3) plus our own edge cases."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry_service.plugins.telemetry.rules import (
    OptInDecision,
    OptInSource,
    TelemetryFailureDetails,
    TelemetrySavedObject,
    explain_opt_in,
    get_notify_user_about_opt_in_default,
    get_telemetry_allow_changing_opt_in_status,
    get_telemetry_failure_details,
    get_telemetry_opt_in,
    get_telemetry_send_usage_from,
    parse_node_semver,
    should_stop_reporting,
)

_MISSING = object()

# Kibana's `EnabledFalseVersionChecks` table: (lastVersionChecked, currentKibanaVersion, result).
VERSION_TABLE: list[tuple[object, str, bool | None]] = [
    ("8.0.0", "8.0.0", False),
    ("8.0.0", "8.0.1", False),
    ("8.0.1", "8.0.0", False),
    ("8.0.0", "8.1.0", None),
    ("8.0.0", "9.0.0", None),
    ("8.0.0", "7.0.0", False),
    ("8.1.0", "8.0.0", False),
    ("8.0.0-X", "8.0.0", False),
    ("8.0.0", "8.0.0-X", False),
    (None, "8.0.0", None),
    (_MISSING, "8.0.0", None),
    (5, "8.0.0", None),
    ("8.0.0", "beta", None),
    ("beta", "8.0.0", None),
    ("beta", "beta", False),
    ("BETA", "beta", None),
]


def _saved_object(enabled: object, last_version: object) -> dict[str, object]:
    saved: dict[str, object] = {}
    if enabled is not _MISSING:
        saved["enabled"] = enabled
    if last_version is not _MISSING:
        saved["lastVersionChecked"] = last_version
    return saved


def _opt_in(
    saved: dict[str, Any] | None,
    current: str = "8.0.0",
    *,
    allow_changing: bool = True,
    config: bool | None = None,
) -> bool | None:
    return get_telemetry_opt_in(
        telemetry_saved_object=saved,
        current_version=current,
        allow_changing_opt_in_status=allow_changing,
        config_telemetry_opt_in=config,
    )


def _table(enabled: object, result: object) -> list[Any]:
    rows = []
    for last, current, false_result in VERSION_TABLE:
        expected = false_result if result == "table" else result
        rows.append(pytest.param(enabled, last, current, expected, id=f"{last!r}->{current}"))
    return rows


@pytest.mark.parametrize(
    ("enabled", "last", "current", "expected"),
    [
        *_table(False, "table"),
        *_table(True, True),
        *_table(None, None),
        *_table(_MISSING, None),
    ],
)
def test_kibana_version_table(
    enabled: object, last: object, current: str, expected: bool | None
) -> None:
    assert _opt_in(_saved_object(enabled, last), current) is expected


@pytest.mark.parametrize(("last", "current", "false_result"), VERSION_TABLE)
def test_version_table_with_config_true_and_no_stored_choice(
    last: object, current: str, false_result: bool | None
) -> None:
    # enabled null -> the config value (true) is the stored choice -> rule 3.
    assert _opt_in(_saved_object(None, last), current, config=True) is True


@pytest.mark.parametrize(("last", "current", "false_result"), VERSION_TABLE)
def test_version_table_with_config_false_and_no_stored_choice(
    last: object, current: str, false_result: bool | None
) -> None:
    # `enabled ?? config`: a config `false` behaves like a stored `false`.
    assert _opt_in(_saved_object(None, last), current, config=False) is false_result


def test_missing_saved_object_with_config_null_is_null() -> None:
    assert _opt_in({}) is None
    assert _opt_in(None) is None


def test_defaults_without_saved_object_are_opted_in() -> None:
    assert _opt_in({}, config=True) is True


def test_config_opt_out_without_saved_object_prompts() -> None:
    assert _opt_in({}, config=False) is None


@pytest.mark.parametrize("config", [True, False])
@pytest.mark.parametrize("enabled", [True, False, None])
def test_locked_config_wins_over_everything(config: bool, enabled: bool | None) -> None:
    saved = {"enabled": enabled, "lastVersionChecked": "7.0.0"}
    assert _opt_in(saved, "9.0.0", allow_changing=False, config=config) is config


def test_locked_without_config_value_falls_through() -> None:
    saved = {"enabled": False, "lastVersionChecked": "8.0.0"}
    assert _opt_in(saved, "8.0.0", allow_changing=False, config=None) is False


@pytest.mark.parametrize("enabled", ["yes", 1, 0, [], {"a": 1}])
def test_non_boolean_enabled_never_yields_a_decision(enabled: object) -> None:
    saved = {"enabled": enabled, "lastVersionChecked": "8.0.0"}
    assert _opt_in(saved, "8.0.0", config=True) is None
    assert _opt_in(saved, "8.0.1", config=False) is None


def test_typed_saved_object_is_accepted() -> None:
    saved: TelemetrySavedObject = {"enabled": False, "lastVersionChecked": "8.0.0"}
    assert _opt_in(dict(saved), "8.0.5") is False


# --- explain_opt_in -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("saved", "current", "allow", "config", "expected"),
    [
        ({}, "8.0.0", False, True, OptInDecision(True, OptInSource.CONFIG_LOCKED)),
        ({"enabled": True}, "8.0.0", False, False, (False, OptInSource.CONFIG_LOCKED)),
        ({"enabled": True}, "9.0.0", True, None, (True, OptInSource.SAVED_OBJECT)),
        (
            {"enabled": False, "lastVersionChecked": "8.0.0"},
            "8.0.1",
            True,
            True,
            (False, OptInSource.SAVED_OBJECT),
        ),
        ({}, "8.0.0", True, True, (True, OptInSource.CONFIG_DEFAULT)),
        (
            {"lastVersionChecked": "8.0.0"},
            "8.0.0",
            True,
            False,
            (False, OptInSource.CONFIG_DEFAULT),
        ),
        (
            {"enabled": False, "lastVersionChecked": "8.0.0"},
            "8.1.0",
            True,
            True,
            (None, OptInSource.VERSION_UPGRADE),
        ),
        ({"enabled": False}, "8.0.0", True, True, (None, OptInSource.UNDECIDED)),
        (
            {"enabled": False, "lastVersionChecked": "beta"},
            "8.0.0",
            True,
            None,
            (None, OptInSource.UNDECIDED),
        ),
        ({}, "8.0.0", True, None, (None, OptInSource.UNDECIDED)),
        (
            {"lastVersionChecked": "8.0.0"},
            "8.0.0",
            True,
            None,
            (None, OptInSource.UNDECIDED),
        ),
    ],
)
def test_explain_opt_in_names_the_deciding_source(
    saved: dict[str, Any],
    current: str,
    allow: bool,
    config: bool | None,
    expected: tuple[bool | None, OptInSource],
) -> None:
    decision = explain_opt_in(
        telemetry_saved_object=saved,
        current_version=current,
        allow_changing_opt_in_status=allow,
        config_telemetry_opt_in=config,
    )
    assert decision == expected
    assert decision.source.value == str(decision.source)


_versions = st.sampled_from(
    ["8.0.0", "8.0.1", "8.1.0", "9.0.0", "7.17.3", "8.0.0-X", "v8.1.0", "beta", "BETA", ""]
)
_json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(["", "yes", "8"]),
    _versions,
    st.just(1.5),
)
_saved_objects = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "enabled": _json_values,
            "lastVersionChecked": st.one_of(_versions, _json_values),
        },
    ),
)


@given(
    saved=_saved_objects,
    current=_versions,
    allow=st.booleans(),
    config=st.one_of(st.none(), st.booleans()),
)
def test_explain_value_equals_get_telemetry_opt_in(
    saved: dict[str, Any] | None, current: str, allow: bool, config: bool | None
) -> None:
    kwargs: dict[str, Any] = {
        "telemetry_saved_object": saved,
        "current_version": current,
        "allow_changing_opt_in_status": allow,
        "config_telemetry_opt_in": config,
    }
    decision = explain_opt_in(**kwargs)
    assert decision.value is get_telemetry_opt_in(**kwargs)
    assert decision.value in (True, False, None)
    assert (decision.value is None) == (
        decision.source in (OptInSource.UNDECIDED, OptInSource.VERSION_UPGRADE)
    )


@given(saved=_saved_objects, current=_versions, config=st.one_of(st.none(), st.booleans()))
def test_stored_opt_in_always_wins_when_changing_is_allowed(
    saved: dict[str, Any] | None, current: str, config: bool | None
) -> None:
    stored = {**(saved or {}), "enabled": True}
    assert _opt_in(stored, current, config=config) is True


@given(saved=_saved_objects, current=_versions, enabled=st.one_of(st.none(), st.booleans()))
def test_locked_config_always_wins(
    saved: dict[str, Any] | None, current: str, enabled: bool | None
) -> None:
    stored = {**(saved or {}), "enabled": enabled}
    assert _opt_in(stored, current, allow_changing=False, config=False) is False
    assert _opt_in(stored, current, allow_changing=False, config=True) is True


@given(
    major=st.integers(0, 50),
    minor=st.integers(0, 50),
    patch=st.integers(0, 50),
    new_patch=st.integers(0, 50),
)
def test_patch_changes_keep_an_opt_out(major: int, minor: int, patch: int, new_patch: int) -> None:
    saved = {"enabled": False, "lastVersionChecked": f"{major}.{minor}.{patch}"}
    assert _opt_in(saved, f"{major}.{minor}.{new_patch}") is False
    assert _opt_in(saved, f"{major}.{minor + 1}.0") is None
    assert _opt_in(saved, f"{major + 1}.0.0") is None


# --- node-semver parity -------------------------------------------------------------------

# Each row was checked against node-semver 7.8.6 `semver.parse` (strict mode).
SEMVER_PARITY: list[tuple[object, tuple[int, int, int] | None]] = [
    ("8.0.0", (8, 0, 0)),
    ("8.0.0-X", (8, 0, 0)),
    ("8.1.0-SNAPSHOT", (8, 1, 0)),
    ("8.0.0-alpha.1+build.5", (8, 0, 0)),
    ("v8.0.0", (8, 0, 0)),
    (" 8.0.0 ", (8, 0, 0)),
    ("\ufeff8.0.0", (8, 0, 0)),  # JS trim() removes the BOM
    ("1.0.0\u2028", (1, 0, 0)),
    ("1.0.0\u3000", (1, 0, 0)),
    ("8.0.0\n", (8, 0, 0)),
    ("9007199254740991.0.0", (9007199254740991, 0, 0)),
    ("1.2.3-9007199254740992", (1, 2, 3)),
    ("1.2.3-x" + "a" * 249, (1, 2, 3)),
    (" " * 251 + "1.0.0", (1, 0, 0)),
    ("8.0", None),
    ("beta", None),
    ("BETA", None),
    ("V8.0.0", None),
    ("=8.0.0", None),
    ("vv8.0.0", None),
    ("v 8.0.0", None),
    ("\u00858.0.0", None),  # Python strips NEL, JavaScript does not
    ("\x1c8.0.0", None),
    ("\u180e1.0.0", None),
    ("08.0.0", None),
    ("8.00.0", None),
    ("8.0.0-01", None),
    ("8.0.0-", None),
    ("8.0.0+", None),
    ("1.2.3.4", None),
    ("1.2.3-a..b", None),
    ("\u0668.0.0", None),  # Arabic-Indic digit eight: Python's \d accepts it
    ("8.0.0-\u00fc", None),
    ("9007199254740992.0.0", None),
    ("1.2.3-x" + "a" * 250, None),  # longer than 256 characters
    (" " * 252 + "1.0.0", None),
    ("", None),
    (5, None),
    (None, None),
    (b"8.0.0", None),
]


@pytest.mark.parametrize(("text", "expected"), SEMVER_PARITY, ids=repr)
def test_parse_node_semver_matches_node(
    text: object, expected: tuple[int, int, int] | None
) -> None:
    parsed = parse_node_semver(text)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert (parsed.major, parsed.minor, parsed.patch) == expected


def test_whitespace_padded_versions_compare_as_versions() -> None:
    saved = {"enabled": False, "lastVersionChecked": " v8.0.0 "}
    assert _opt_in(saved, "8.0.3") is False
    assert _opt_in(saved, "8.1.0") is None


# --- spec 2.3 helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("saved", "config", "expected"),
    [
        (None, "browser", "browser"),
        ({}, "browser", "browser"),
        ({"sendUsageFrom": None}, "server", "server"),
        ({"sendUsageFrom": "browser"}, "server", "browser"),
        ({"sendUsageFrom": "server"}, "browser", "server"),
        ({"sendUsageFrom": "elsewhere"}, "browser", "browser"),
        ({"sendUsageFrom": 1}, "server", "server"),
    ],
)
def test_send_usage_from(saved: dict[str, Any] | None, config: str, expected: str) -> None:
    result = get_telemetry_send_usage_from(
        telemetry_saved_object=saved,
        config_telemetry_send_usage_from=config,  # type: ignore[arg-type]
    )
    assert result == expected


@pytest.mark.parametrize(
    ("saved", "config", "expected"),
    [
        (None, True, True),
        ({}, False, False),
        ({"allowChangingOptInStatus": None}, True, True),
        ({"allowChangingOptInStatus": False}, True, False),
        ({"allowChangingOptInStatus": True}, False, True),
        ({"allowChangingOptInStatus": "false"}, True, True),
        ({"allowChangingOptInStatus": 0}, True, True),
    ],
)
def test_allow_changing_opt_in_status(
    saved: dict[str, Any] | None, config: bool, expected: bool
) -> None:
    result = get_telemetry_allow_changing_opt_in_status(
        telemetry_saved_object=saved,
        config_telemetry_allow_changing_opt_in_status=config,
    )
    assert result is expected


@pytest.mark.parametrize(
    ("allow", "saved", "opted_in", "config", "expected"),
    [
        # Kibana's test file, case by case.
        (True, {"userHasSeenNotice": False}, True, True, True),
        (False, {}, False, False, False),
        (False, {}, True, True, False),
        (True, {"userHasSeenNotice": True}, False, False, False),
        (True, {"userHasSeenNotice": True}, True, True, False),
        (True, {"userHasSeenNotice": False}, False, True, False),
        (True, {"userHasSeenNotice": False}, False, False, False),
        (True, {"userHasSeenNotice": False}, True, False, False),
        # Ours: no saved object, unknown opt-in, non-boolean "seen" flag.
        (True, None, True, True, True),
        (True, {}, None, True, False),
        (True, {"userHasSeenNotice": 1}, True, True, True),
        (True, {}, True, None, False),
    ],
)
def test_notify_user_about_opt_in_default(
    allow: bool,
    saved: dict[str, Any] | None,
    opted_in: bool | None,
    config: bool | None,
    expected: bool,
) -> None:
    result = get_notify_user_about_opt_in_default(
        allow_changing_opt_in_status=allow,
        telemetry_saved_object=saved,
        telemetry_opted_in=opted_in,
        config_telemetry_opt_in=config,
    )
    assert result is expected


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        (None, (0, None)),
        ({}, (0, None)),
        ({"reportFailureCount": 12, "reportFailureVersion": "8.0.0"}, (12, "8.0.0")),
        ({"reportFailureCount": None, "reportFailureVersion": "8.0.0"}, (0, "8.0.0")),
        ({"reportFailureVersion": "8.0.0"}, (0, "8.0.0")),
        ({"reportFailureCount": "not_a_number", "reportFailureVersion": "8.0.0"}, (0, "8.0.0")),
        ({"reportFailureVersion": None, "reportFailureCount": 0}, (0, None)),
        ({"reportFailureCount": 0}, (0, None)),
        ({"reportFailureVersion": 123, "reportFailureCount": 0}, (0, None)),
        # Ours: JavaScript-number corner cases.
        ({"reportFailureCount": True}, (0, None)),
        ({"reportFailureCount": 2.5}, (3, None)),
        ({"reportFailureCount": 3.0}, (3, None)),
        ({"reportFailureCount": float("nan")}, (0, None)),
        ({"reportFailureCount": float("inf")}, (0, None)),
    ],
)
def test_failure_details(saved: dict[str, Any] | None, expected: tuple[int, str | None]) -> None:
    details = get_telemetry_failure_details(telemetry_saved_object=saved)
    assert details == TelemetryFailureDetails(*expected)
    assert type(details.failure_count) is int


@pytest.mark.parametrize(
    ("count", "version", "current", "expected"),
    [
        (0, None, "8.0.0", False),
        (2, "8.0.0", "8.0.0", False),
        (3, "8.0.0", "8.0.0", True),
        (12, "8.0.0", "8.0.0", True),
        (3, "8.0.0", "8.0.1", False),
        (3, None, "8.0.0", False),
    ],
)
def test_should_stop_reporting(
    count: int, version: str | None, current: str, expected: bool
) -> None:
    assert should_stop_reporting(count, version, current) is expected


def test_fractional_failure_count_keeps_javascript_comparison() -> None:
    # 2.5 > 2 in JavaScript: Kibana would stop; so do we.
    details = get_telemetry_failure_details(
        telemetry_saved_object={"reportFailureCount": 2.5, "reportFailureVersion": "8.0.0"}
    )
    assert should_stop_reporting(*details, "8.0.0") is True

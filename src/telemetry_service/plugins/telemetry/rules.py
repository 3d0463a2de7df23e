"""Opt-in rules of the telemetry plugin: pure functions over the telemetry saved object.

Ports of Kibana's `server/telemetry_config/*` helpers (spec sections 2.2 and 2.3). The saved
object is read from storage as arbitrary JSON, so every function checks types at run time and
accepts any mapping (a `TelemetrySavedObject` is one) or `None` for "no saved object".
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from typing import Literal, NamedTuple, TypedDict

import semver

__all__ = [
    "FAILURES_BEFORE_STOP",
    "OptInDecision",
    "OptInSource",
    "SavedObjectLike",
    "SendUsageFrom",
    "TelemetryFailureDetails",
    "TelemetrySavedObject",
    "explain_opt_in",
    "get_notify_user_about_opt_in_default",
    "get_telemetry_allow_changing_opt_in_status",
    "get_telemetry_failure_details",
    "get_telemetry_opt_in",
    "get_telemetry_send_usage_from",
    "parse_node_semver",
    "should_stop_reporting",
]

SendUsageFrom = Literal["browser", "server"]

#: Kibana's fetcher gives up when `failureCount > 2` for the current version.
FAILURES_BEFORE_STOP = 3


class TelemetrySavedObject(TypedDict, total=False):
    """Attributes of the `telemetry` saved object (spec 2.1); all optional."""

    enabled: bool | None
    lastVersionChecked: str
    sendUsageFrom: SendUsageFrom
    lastReported: int
    allowChangingOptInStatus: bool
    userHasSeenNotice: bool
    reportFailureCount: int
    reportFailureVersion: str


SavedObjectLike = Mapping[str, object] | None
"""What the rules accept: any mapping read from storage (JSON of any shape), or `None`."""


# --- semver.parse parity -------------------------------------------------------------------

# Characters removed by JavaScript's String.prototype.trim (WhiteSpace + LineTerminator).
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_NODE_SEMVER_MAX_LENGTH = 256
_JS_MAX_SAFE_INTEGER = 2**53 - 1
_ASCII_ONLY = re.compile(r"[\x00-\x7f]*")


def parse_node_semver(version: object) -> semver.Version | None:
    """Parse like node-semver's `parse(version)` (strict mode); `None` where node gives null.

    Adjustments over `semver.Version.parse` so that it accepts exactly what node accepts:
    non-strings are rejected; strings longer than 256 characters are rejected; surrounding
    whitespace is trimmed with JavaScript's `trim()` set; one leading lowercase `v` is allowed
    (not `V`, not `=`); only ASCII digits count (Python's `\\d` would accept e.g. Arabic-Indic
    digits); major, minor and patch above `Number.MAX_SAFE_INTEGER` are rejected.
    """
    if not isinstance(version, str) or len(version) > _NODE_SEMVER_MAX_LENGTH:
        return None
    text = version.strip(_JS_WHITESPACE)
    if text.startswith("v"):
        text = text[1:]
    if not _ASCII_ONLY.fullmatch(text):
        return None
    try:
        parsed = semver.Version.parse(text)
    except ValueError:
        return None
    if max(parsed.major, parsed.minor, parsed.patch) > _JS_MAX_SAFE_INTEGER:
        return None
    return parsed


# --- getTelemetryOptIn ---------------------------------------------------------------------


class OptInSource(enum.StrEnum):
    """Which input decided the effective opt-in value (for `status` output)."""

    CONFIG_LOCKED = "config-locked"
    """`allowChangingOptInStatus` is false: `telemetry.optIn` decides (rule 1)."""
    SAVED_OBJECT = "saved-object"
    """A user's choice stored in the saved object (`enabled`)."""
    CONFIG_DEFAULT = "config-default"
    """No stored choice: the `telemetry.optIn` default applies."""
    VERSION_UPGRADE = "version-upgrade"
    """Opted out on an older minor/major version: undecided until the user chooses again."""
    UNDECIDED = "undecided"
    """No usable choice (no `lastVersionChecked`, an unparsable version, no config value)."""


class OptInDecision(NamedTuple):
    """The result of `explain_opt_in`: Kibana's value and the source that decided it."""

    value: bool | None
    source: OptInSource


def explain_opt_in(
    *,
    telemetry_saved_object: SavedObjectLike,
    current_version: str,
    allow_changing_opt_in_status: bool,
    config_telemetry_opt_in: bool | None,
) -> OptInDecision:
    """Run Kibana's `getTelemetryOptIn` rules 1-8 and say which input decided.

    `value` is exactly `get_telemetry_opt_in`'s result. One deliberate narrowing: Kibana
    returns a non-boolean stored `enabled` value (e.g. the string "yes") as-is; every consumer
    only acts on booleans, so such a value yields `None` here.
    """
    saved_object = telemetry_saved_object or {}
    # Rule 1: a locked config wins.
    if isinstance(config_telemetry_opt_in, bool) and not allow_changing_opt_in_status:
        return OptInDecision(config_telemetry_opt_in, OptInSource.CONFIG_LOCKED)

    # Rule 2: the stored choice, else the config value (`enabled ?? configTelemetryOptIn`).
    enabled = saved_object.get("enabled")
    if enabled is None:
        saved: object = config_telemetry_opt_in
        source = OptInSource.CONFIG_DEFAULT
    else:
        saved = enabled
        source = OptInSource.SAVED_OBJECT
    saved_value = saved if isinstance(saved, bool) else None
    if saved_value is None:
        source = OptInSource.UNDECIDED

    # Rule 3: opted in stays opted in across versions.
    if saved is True:
        return OptInDecision(True, source)

    # Rule 4: without a (string) version of the last choice, ask again.
    last_version = saved_object.get("lastVersionChecked")
    if not isinstance(last_version, str):
        return OptInDecision(None, OptInSource.UNDECIDED)

    # Rule 5: same version string, same answer.
    if last_version == current_version:
        return OptInDecision(saved_value, source)

    # Rule 6: unparsable versions mean "ask again".
    last = parse_node_semver(last_version)
    current = parse_node_semver(current_version)
    if last is None or current is None:
        return OptInDecision(None, OptInSource.UNDECIDED)

    # Rule 7: a minor or major upgrade re-prompts a user who had opted out.
    if current.major > last.major or (current.major == last.major and current.minor > last.minor):
        return OptInDecision(None, OptInSource.VERSION_UPGRADE)

    # Rule 8: a patch change, a downgrade or a prerelease change keeps the answer.
    return OptInDecision(saved_value, source)


def get_telemetry_opt_in(
    *,
    telemetry_saved_object: SavedObjectLike,
    current_version: str,
    allow_changing_opt_in_status: bool,
    config_telemetry_opt_in: bool | None,
) -> bool | None:
    """Kibana's `getTelemetryOptIn`: `True`/`False`, or `None` when the user must be asked."""
    return explain_opt_in(
        telemetry_saved_object=telemetry_saved_object,
        current_version=current_version,
        allow_changing_opt_in_status=allow_changing_opt_in_status,
        config_telemetry_opt_in=config_telemetry_opt_in,
    ).value


# --- other helpers (spec 2.3) --------------------------------------------------------------


def get_telemetry_send_usage_from(
    *,
    telemetry_saved_object: SavedObjectLike,
    config_telemetry_send_usage_from: SendUsageFrom,
) -> SendUsageFrom:
    """The stored legacy `sendUsageFrom` override if present, else the config value.

    Kibana returns any stored value that is not `undefined` (even `null`); here only the two
    valid values override the config, anything else is ignored.
    """
    stored = (telemetry_saved_object or {}).get("sendUsageFrom")
    if stored == "browser":
        return "browser"
    if stored == "server":
        return "server"
    return config_telemetry_send_usage_from


def get_telemetry_allow_changing_opt_in_status(
    *,
    telemetry_saved_object: SavedObjectLike,
    config_telemetry_allow_changing_opt_in_status: bool,
) -> bool:
    """`SO.allowChangingOptInStatus ?? config` (a non-boolean stored value is ignored)."""
    stored = (telemetry_saved_object or {}).get("allowChangingOptInStatus")
    if isinstance(stored, bool):
        return stored
    return config_telemetry_allow_changing_opt_in_status


def get_notify_user_about_opt_in_default(
    *,
    allow_changing_opt_in_status: bool,
    telemetry_saved_object: SavedObjectLike,
    telemetry_opted_in: bool | None,
    config_telemetry_opt_in: bool | None,
) -> bool:
    """Whether to show the "opted in by default" notice (Kibana's notify-user rule)."""
    if allow_changing_opt_in_status is False:
        return False
    if (telemetry_saved_object or {}).get("userHasSeenNotice") is True:
        return False
    return telemetry_opted_in is True and config_telemetry_opt_in is True


class TelemetryFailureDetails(NamedTuple):
    """Failed server sends: how many, and on which version of the host."""

    failure_count: int
    failure_version: str | None


def get_telemetry_failure_details(
    *, telemetry_saved_object: SavedObjectLike
) -> TelemetryFailureDetails:
    """`reportFailureCount` if it is a number (else 0), `reportFailureVersion` if a string.

    JavaScript numbers are mapped to `int`: booleans are not numbers; NaN and infinities count
    as 0; a fractional count is rounded up, which keeps `count > 2` exactly as in JavaScript.
    """
    saved_object = telemetry_saved_object or {}
    raw_count = saved_object.get("reportFailureCount")
    count = 0
    if isinstance(raw_count, int) and not isinstance(raw_count, bool):
        count = raw_count
    elif isinstance(raw_count, float) and math.isfinite(raw_count):
        count = math.ceil(raw_count)
    raw_version = saved_object.get("reportFailureVersion")
    version = raw_version if isinstance(raw_version, str) else None
    return TelemetryFailureDetails(count, version)


def should_stop_reporting(
    failure_count: int, failure_version: str | None, current_version: str
) -> bool:
    """True after 3 failed sends on this same version: stop until the version changes."""
    return failure_count >= FAILURES_BEFORE_STOP and failure_version == current_version

"""The effective opt-in decision: environment opt-outs, the config lock, then Kibana's rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import TelemetryConfig
from .rules import explain_opt_in, get_telemetry_allow_changing_opt_in_status

__all__ = ["ENV_OPT_OUT_VARIABLES", "Consent", "decide_consent", "environment_opt_out"]

#: Variables that force opt-out, in the order they are checked.
ENV_OPT_OUT_VARIABLES = (
    "DO_NOT_TRACK",
    "TELEMETRY_SERVICE_TELEMETRY_ENABLED",
    "TELEMETRY_SERVICE_TELEMETRY_OPTIN",
)
_TRUTHY = frozenset({"1", "true", "yes", "on"})
_FALSY = frozenset({"0", "false", "no", "off"})


def environment_opt_out(env: Mapping[str, str]) -> str | None:
    """The variable that forces opt-out, if any.

    ``DO_NOT_TRACK`` set to 1/true (https://consoledonottrack.com) or
    ``TELEMETRY_SERVICE_TELEMETRY_ENABLED`` / ``_OPTIN`` set to 0/false.
    """
    if env.get("DO_NOT_TRACK", "").strip().lower() in _TRUTHY:
        return "DO_NOT_TRACK"
    for name in ENV_OPT_OUT_VARIABLES[1:]:
        if env.get(name, "").strip().lower() in _FALSY:
            return name
    return None


@dataclass(frozen=True)
class Consent:
    """The effective opt-in and why.

    ``value`` is True/False, or None when the administrator must be asked again (after an
    upgrade when previously opted out, or never asked). ``locked`` means nobody can change it.
    """

    value: bool | None
    source: str
    locked: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "optIn": self.value,
            "source": self.source,
            "locked": self.locked,
            "reason": self.reason,
        }


_REASONS = {
    "config-locked": "telemetry.allowChangingOptInStatus is false: telemetry.optIn decides",
    "saved-object": "the administrator's choice stored in the telemetry saved object",
    "config-default": "no stored choice yet: the telemetry.optIn default applies",
    "version-upgrade": "previously opted out; asked again after a minor or major upgrade",
    "undecided": "no decision yet: the administrator has not chosen",
}


def decide_consent(
    config: TelemetryConfig, saved: Mapping[str, Any], version: str, env: Mapping[str, str]
) -> Consent:
    """Who decides, in order: the environment, ``telemetry.enabled``, then Kibana's rules.

    Kibana's rules run with the *config's* ``allowChangingOptInStatus``, as Kibana's sender and
    its ``getIsOptedIn`` do (``T/server/fetcher.ts``, ``T/server/plugin.ts``): a legacy
    ``allowChangingOptInStatus: false`` stored in the saved object never lets
    ``telemetry.optIn: true`` override a stored opt-out. The stored value still locks the
    choice (Kibana's optIn route refuses changes with it), and so does the config's lock.
    """
    variable = environment_opt_out(env)
    if variable is not None:
        return Consent(False, f"environment:{variable}", True, f"{variable} forces opt-out")
    if not config.enabled:
        return Consent(
            False, "config:telemetry.enabled", True, "telemetry.enabled is false: telemetry is off"
        )
    config_allows = config.allow_changing_opt_in_status
    allow = config_allows and get_telemetry_allow_changing_opt_in_status(
        telemetry_saved_object=saved,
        config_telemetry_allow_changing_opt_in_status=config_allows,
    )
    decision = explain_opt_in(
        telemetry_saved_object=saved,
        current_version=version,
        allow_changing_opt_in_status=config_allows,
        config_telemetry_opt_in=config.opt_in,
    )
    source = decision.source.value
    reason = _REASONS.get(source, source)
    if config_allows and not allow:
        reason += "; locked by a legacy allowChangingOptInStatus: false in the saved object"
    return Consent(decision.value, source, not allow, reason)

"""The EXPECTED consent table, derived from Kibana's rules and this project's documented
additions, without calling any code under test.

Paths are Kibana's (`elastic/kibana`, newest layout; ``T/`` = ``src/platform/plugins/shared/
telemetry/``) and `elastic/ebt`'s; "spec" is /work/shared/reference/kibana-telemetry-spec.md.
Every rule below names the source it restates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Literal

Stored = Literal["none", "in", "out"]
Step = Literal["same", "patch", "minor", "major", "downgrade", "prerelease"]
From = Literal["server", "browser"]

OPT_IN: tuple[bool | None, ...] = (True, False, None)  # None: the key is not in the config
ALLOW = (True, False)
ENABLED = (True, False)
STORED: tuple[Stored, ...] = ("none", "in", "out")
STEPS: tuple[Step, ...] = ("same", "patch", "minor", "major", "downgrade", "prerelease")
DNT: tuple[str | None, ...] = (None, "1", "0")  # None: DO_NOT_TRACK is not set
FROM: tuple[From, ...] = ("server", "browser")
#: Legacy attributes of the saved object (read-only in Kibana, spec 2.1): the stored
#: ``allowChangingOptInStatus`` and ``sendUsageFrom``; ``(None, None)`` is the main matrix.
LEGACY: tuple[tuple[bool | None, From | None], ...] = tuple(
    pair
    for pair in itertools.product((None, False, True), (None, "browser", "server"))
    if any(v is not None for v in pair)
)

#: (version of the stored choice, version of the host now) for each step. The Kibana test
#: table (``T/server/telemetry_config/get_telemetry_opt_in.test.ts``) has each kind: 8.0.0 ->
#: 8.0.1 (patch), 8.0.0 -> 8.1.0 (minor), 8.0.0 -> 9.0.0 (major), 8.1.0 -> 8.0.0 (downgrade),
#: 8.0.0-X -> 8.0.0 (prerelease).
VERSIONS: dict[Step, tuple[str, str]] = {
    "same": ("8.4.2", "8.4.2"),
    "patch": ("8.4.2", "8.4.3"),
    "minor": ("8.4.2", "8.5.0"),
    "major": ("8.4.2", "9.0.0"),
    "downgrade": ("8.4.2", "8.3.1"),
    "prerelease": ("8.4.2-rc.1", "8.4.2"),
}


@dataclass(frozen=True)
class Case:
    opt_in: bool | None
    allow: bool
    enabled: bool
    stored: Stored
    step: Step
    dnt: str | None
    send_from: From
    legacy_allow: bool | None = None
    legacy_from: From | None = None

    @property
    def id(self) -> str:
        def show(value: object) -> str:
            return "unset" if value is None else str(value).lower()

        text = (
            f"optIn={show(self.opt_in)}-allow={show(self.allow)}-enabled={show(self.enabled)}"
            f"-stored={self.stored}-step={self.step}-DNT={show(self.dnt)}-from={self.send_from}"
        )
        if self.legacy_allow is not None or self.legacy_from is not None:
            text += f"-SO.allow={show(self.legacy_allow)}-SO.from={show(self.legacy_from)}"
        return text


def main_matrix() -> list[Case]:
    """The full product: 3 x 2 x 2 x 3 x 6 x 3 x 2 = 1296 combinations."""
    return [
        Case(*values)
        for values in itertools.product(OPT_IN, ALLOW, ENABLED, STORED, STEPS, DNT, FROM)
    ]


def legacy_matrix() -> list[Case]:
    """The legacy stored overrides (8 pairs) with every optIn, lock, stored choice and
    sendUsageFrom; the version is unchanged, DO_NOT_TRACK unset, telemetry enabled: 288."""
    return [
        Case(opt_in, allow, True, stored, "same", None, send_from, legacy_allow, legacy_from)
        for opt_in, allow, stored, send_from, (legacy_allow, legacy_from) in itertools.product(
            OPT_IN, ALLOW, STORED, FROM, LEGACY
        )
    ]


def all_cases() -> list[Case]:
    """The main matrix, then the legacy one; a case's index is its place here."""
    return [*main_matrix(), *legacy_matrix()]


@dataclass(frozen=True)
class Decision:
    """The effective opt-in (True/False/None: ask again), the rule that decided it (the
    ``source`` vocabulary of ``telemetry status``, docs/privacy.md) and whether it is locked."""

    value: bool | None
    source: str
    locked: bool


def _semver(version: str) -> tuple[int, int]:
    """major.minor of the fixed, valid versions above (node-semver would parse all of them)."""
    major, minor = version.split("-")[0].split(".")[:2]
    return int(major), int(minor)


def decide(case: Case) -> Decision:
    """The effective decision for ``case``."""
    # Ours (docs/privacy.md "Who decides" 1): DO_NOT_TRACK=1 forces a locked opt-out; only a
    # truthy value counts (consoledonottrack.com), so DO_NOT_TRACK=0 changes nothing.
    if case.dnt == "1":
        return Decision(False, "environment:DO_NOT_TRACK", True)
    # Kibana's meta setting: telemetry.enabled: false sets optIn=false and
    # allowChangingOptInStatus=false (T/server/config/config.ts, metaSettings; spec 1). Ours
    # names it as the source (docs/privacy.md "Who decides" 2).
    if not case.enabled:
        return Decision(False, "config:telemetry.enabled", True)
    # optIn defaults to true (T/server/config/config.ts: schema.boolean({defaultValue: true})).
    config_opt_in = True if case.opt_in is None else case.opt_in
    # The lock the optIn route applies: getTelemetryAllowChangingOptInStatus = SO ?? config
    # (T/server/telemetry_config/get_telemetry_allow_changing_opt_in_status.ts, used by
    # T/server/routes/telemetry_opt_in.ts to answer 400).
    route_allows = case.allow if case.legacy_allow is None else case.legacy_allow
    locked = not route_allows
    # Rule 1 of getTelemetryOptIn (T/server/telemetry_config/get_telemetry_opt_in.ts), called
    # by the sender and by getIsOptedIn with the *config's* allowChangingOptInStatus
    # (T/server/fetcher.ts getCurrentConfigs; T/server/plugin.ts getOptInStatus): a locked
    # config's optIn decides. A legacy stored lock does not take part (hardrules).
    if not case.allow:
        return Decision(config_opt_in, "config-locked", locked)
    # Rules 2-3: the stored `enabled`, else the config's optIn; true stays true.
    if case.stored == "in":
        return Decision(True, "saved-object", locked)
    if case.stored == "none":
        if config_opt_in:
            return Decision(True, "config-default", locked)
        # Rule 4: no lastVersionChecked -> null (spec 2.2: "config optIn:false with
        # allowChanging true and no SO gives null").
        return Decision(None, "undecided", locked)
    # A stored opt-out. Rule 5: the same version string keeps it. Rules 6-8: a minor or
    # major upgrade asks again (null); a patch, a downgrade or a prerelease-only change keeps
    # it (the test table of T/server/telemetry_config/get_telemetry_opt_in.test.ts).
    last, current = (_semver(v) for v in VERSIONS[case.step])
    if current[0] > last[0] or (current[0] == last[0] and current[1] > last[1]):
        return Decision(None, "version-upgrade", locked)
    return Decision(False, "saved-object", locked)


def server_sends_snapshots(case: Case) -> bool:
    """The server's sender posts only when the opt-in is true and sendUsageFrom (the stored
    legacy value, else the config's: getTelemetrySendUsageFrom) is "server"
    (T/server/fetcher.ts: validateConnectivity's filter and shouldSendReport)."""
    send_from = case.legacy_from or case.send_from
    return decide(case).value is True and send_from == "server"


def events_flow(case: Case) -> bool:
    """The server shipper is registered whatever sendUsageFrom is (T/server/plugin.ts setup:
    analytics.registerShipper(ElasticV3ServerShipper, ...)) and ships, after an OPTIONS
    check, only once analytics.optIn({global: {enabled: true}}) was applied, which happens
    only for a boolean true (T/server/plugin.ts isOptedIn$ filter; ebt
    src/shippers/elastic_v3/server/src/server_shipper.ts: checkConnectivity and the send
    filter require isOptedIn === true)."""
    return decide(case).value is True


@dataclass(frozen=True)
class Change:
    """The administrator records ``choice`` (POST /internal/telemetry/optIn)."""

    choice: bool
    refused: bool
    """Kibana answers 400 when the route's lock holds; ours also while DO_NOT_TRACK or
    telemetry.enabled: false force the opt-out (docs/privacy.md: nobody can opt in)."""
    report: bool
    """An opt-in status report {cluster_uuid, opt_in_status: choice} leaves the server."""
    after: Case
    """The state afterwards: the choice stored with this version."""


def change(case: Case) -> Change:
    """The administrator flips the choice: opts out when opted in, opts in otherwise."""
    before = decide(case)
    choice = before.value is not True
    refused = before.locked
    # T/server/routes/telemetry_opt_in.ts: the report is sent (not awaited) when
    # config.sendUsageFrom === 'server', the config's value only; then the SO is updated with
    # {enabled, lastVersionChecked: currentKibanaVersion}.
    report = not refused and case.send_from == "server"
    after = case if refused else replace(case, stored="in" if choice else "out", step="same")
    return Change(choice, refused, report, after)


def known_differences(case: Case) -> str | None:
    """Where this project differs from Kibana (a strict xfail with this reason), else None.

    1. Kibana's optIn route locks on getTelemetryAllowChangingOptInStatus (SO ?? config), so a
       legacy stored ``allowChangingOptInStatus: true`` lets an administrator record a choice
       under the config's lock (no effect on sending, rule 1; the server still sends the
       opt-in status report); ours refuses with 400 (T/server/routes/telemetry_opt_in.ts).
    2. Kibana's optIn route sends the report when the *config's* sendUsageFrom is 'server';
       ours reads the stored legacy sendUsageFrom first (same file).
    """
    if case.legacy_allow is True and not case.allow:
        return "Kibana: a stored allowChangingOptInStatus:true unlocks the optIn route; ours: 400"
    if not decide(case).locked and case.legacy_from not in (None, case.send_from):
        return "Kibana: opt-in report follows config sendUsageFrom; ours: the stored one"
    return None

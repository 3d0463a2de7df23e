"""Nothing leaves without consent: every combination of the consent inputs, run through the
host's real decision, sender and event shipper against a capture endpoint on 127.0.0.1.

The combinations (``expected.py``): ``telemetry.optIn`` (true, false, unset) x
``allowChangingOptInStatus`` (true, false) x ``telemetry.enabled`` (true, false) x the stored
choice (none, opted in, opted out; stored with a version) x the version step since then
(same, patch, minor, major, downgrade, prerelease) x ``DO_NOT_TRACK`` (unset, 1, 0) x
``sendUsageFrom`` (server, browser): 1296, none collapsed (a version step with nothing
stored still runs; it must change nothing). Then 288 with the legacy attributes a saved
object may carry (``allowChangingOptInStatus``, ``sendUsageFrom``).

For each, two phases (``harness.py`` says exactly what is real):

1. a host starts on that state: its decision (value, source, lock) and ``get_is_opted_in()``
   must equal the EXPECTED table; for 15 simulated minutes the sender runs (its first
   connectivity check is due at 5) and two events are reported, one before and one after the
   first decision. The endpoint must see a snapshot (after its OPTIONS check) only when the
   opt-in is true and usage is sent from the server, events (after the shipper's OPTIONS
   check) only when the opt-in is true, no opt-in status report, and nothing else;
2. the administrator flips the choice (opts out when opted in, else opts in): refused when
   locked, otherwise exactly one opt-in status report with the new choice, only when usage is
   sent from the server (Kibana's route), then snapshots and events only if now opted in.

Run it: ``python -m pytest -q -p no:cacheprovider tests/consent``; the summary line counts
the combinations. Known differences from Kibana are strict xfails naming the Kibana source.
"""

from __future__ import annotations

from collections import Counter

import pytest

from telemetry_service.testing import CaptureServer

from .expected import (
    Case,
    all_cases,
    change,
    decide,
    events_flow,
    known_differences,
    legacy_matrix,
    main_matrix,
    server_sends_snapshots,
)
from .harness import Host, Observed, Phase

pytestmark = pytest.mark.anyio

MAIN = main_matrix()
LEGACY = legacy_matrix()
CASES = all_cases()
#: Requests each combination's prefix received when it was checked.
CHECKED: dict[str, int] = {}


def _param(index: int, case: Case) -> object:
    reason = known_differences(case)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(index, case, id=case.id, marks=marks)


def expected_phase(snapshot: bool, events: bool, *, probe_online: bool) -> Counter[tuple[str, str]]:
    """Kibana's sender checks with OPTIONS before its first POST (T/server/fetcher.ts
    validateConnectivity); so does the server shipper (ebt server_shipper.ts
    checkConnectivity), unless it is already known to be online."""
    traffic: Counter[tuple[str, str]] = Counter()
    if snapshot:
        traffic.update({("OPTIONS", "snapshot"): 1, ("POST", "snapshot"): 1})
    if events:
        traffic[("POST", "server")] = 1
        if not probe_online:
            traffic[("OPTIONS", "server")] = 1
    return traffic


def check_first_phase(case: Case, seen: Observed) -> None:
    want = decide(case)
    assert (seen.value, seen.source, seen.locked) == (want.value, want.source, want.locked)
    # getIsOptedIn resolves isOptedIn === true (T/server/plugin.ts start contract).
    assert seen.is_opted_in is (want.value is True)
    phase = seen.before
    assert phase.strays == []
    snapshot, events = server_sends_snapshots(case), events_flow(case)
    assert phase.traffic == expected_phase(snapshot, events, probe_online=False)
    if events:
        assert sorted(phase.events) == ["after-decision", "before-decision"]


def check_second_phase(host: Host, case: Case, seen: Observed) -> None:
    flip = change(case)
    assert seen.refused is flip.refused
    want = decide(flip.after)
    assert (seen.after_value, seen.after_source) == (want.value, want.source)
    phase: Phase = seen.after
    assert phase.strays == []
    snapshot = server_sends_snapshots(flip.after) and not server_sends_snapshots(case)
    events = events_flow(flip.after)
    expected = expected_phase(snapshot, events, probe_online=events_flow(case))
    if flip.report:
        expected[("POST", "opt-in-reports")] = 1
        [report] = [host.decryptor.decrypt_json(body) for body in phase.reports]
        assert report == {"cluster_uuid": host.cluster_uuid, "opt_in_status": flip.choice}
    assert phase.traffic == expected
    if events:
        assert "after-change" in phase.events


@pytest.mark.parametrize(("index", "case"), [_param(i, c) for i, c in enumerate(CASES)])
async def test_combination(
    host: Host, observed: dict[int, Observed | Exception], index: int, case: Case
) -> None:
    seen = observed[index]
    if isinstance(seen, Exception):
        raise seen
    CHECKED[f"/c{index}/"] = seen.before.requests + seen.after.requests
    check_first_phase(case, seen)
    check_second_phase(host, case, seen)


def test_the_matrix_is_the_full_product() -> None:
    assert len(MAIN) == 3 * 2 * 2 * 3 * 6 * 3 * 2 == 1296
    assert len(set(MAIN)) == len(MAIN)
    assert len(LEGACY) == len(set(LEGACY)) == 3 * 2 * 3 * 2 * 8 == 288
    assert not set(MAIN) & set(LEGACY)


async def test_nothing_reached_the_endpoint_outside_a_combination(
    host: Host, capture: CaptureServer
) -> None:
    """Runs after the matrix: every request belongs to a combination and arrived while it was
    checked (none later, none from the platform itself)."""
    per_prefix: Counter[str] = Counter()
    for request in capture.requests:
        prefix = "/" + request.path.split("/")[1] + "/"
        per_prefix[prefix] += 1
    assert set(per_prefix) <= set(CHECKED), "a request outside any combination"
    assert dict(per_prefix) == {p: n for p, n in CHECKED.items() if n}

"""Fixtures of the chaos suite: a PostgreSQL cluster of its own (the run stops and starts
it), and the invariants of each run printed at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import IN_CI
from tests.support.postgres import PostgresUnavailable, private_cluster

from .checks import Check
from .processes import libfaketime

_summaries: list[tuple[str, list[Check]]] = []


def record(title: str, checks: list[Check]) -> None:
    """Keep a run's checks for the summary at the end of the session."""
    _summaries.append((title, checks))


@pytest.fixture(scope="module")
def chaos_postgres() -> Iterator[str]:
    """A private cluster for this module alone: restarting it disturbs no other test."""
    try:
        libfaketime()
    except FileNotFoundError as exc:
        if IN_CI:
            pytest.fail(f"the chaos suite cannot run in CI: {exc}")
        pytest.skip(f"!! chaos suite SKIPPED: {exc} (run scripts/provision as root)")
    try:
        with private_cluster() as base_url:
            yield base_url
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"the chaos suite cannot run in CI: {exc}")
        pytest.skip(f"!! chaos suite SKIPPED: {exc} (run scripts/provision as root)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, checks in _summaries:
        terminalreporter.write_sep("=", "chaos invariants")
        terminalreporter.write_line(title)
        for name, passed, detail in checks:
            terminalreporter.write_line(f"  [{'ok' if passed else 'FAILED'}] {name}: {detail}")

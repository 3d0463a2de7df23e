"""Browser fixtures: Debian's Chromium driven by Playwright, real host servers, screenshots.

The browser is shared by every test of this package (``scope="package"``) rather than the whole
session: Playwright's sync API keeps its event loop marked as running in the main thread, which
would break every anyio test that runs after it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from telemetry_service.wire import KeyPair, generate_key_pair
from tests.browser.cors_capture import CorsCaptureServer
from tests.conftest import IN_CI
from tests.support.processes import run_cli

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
KID = "vendor-browser-tests"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"browser suite cannot run in CI: {message}")
        pytest.skip(f"!! browser suite SKIPPED: {message}")
    with sync_playwright() as playwright:
        # A plain launch gets a fresh temporary profile, removed when the browser closes.
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh context per test: its own localStorage, sessionStorage and cookies."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, accept_downloads=True)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page whose scripts must not throw: an uncaught error fails the test."""
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    yield new_page
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="package")
def keys() -> KeyPair:
    return generate_key_pair(KID)


@pytest.fixture
def capture() -> Iterator[CorsCaptureServer]:
    server = CorsCaptureServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Host:
    """A running ``telemetry-service serve`` process."""

    url: str
    config_path: Path
    env: dict[str, str]
    output: list[str] = field(default_factory=list)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``telemetry-service ARGS --config <this host's file>`` with the host's env."""
        return subprocess.run(
            [sys.executable, "-m", "telemetry_service.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **self.env},
            check=False,
        )

    def status_json(self) -> dict[str, Any]:
        result = self.cli("telemetry", "status", "--json", "--config", str(self.config_path))
        assert result.returncode == 0, result.stderr
        status: dict[str, Any] = json.loads(result.stdout)
        return status


HostFactory = Callable[..., Host]


@pytest.fixture
def start_host(tmp_path: Path) -> Iterator[HostFactory]:
    """``start_host(telemetry={...}, server={...}, env={...})`` starts a real host on a free
    loopback port with a config file in ``tmp_path``; every host is stopped after the test."""
    stack = contextlib.ExitStack()
    counter = iter(range(1000))

    def start(
        *,
        telemetry: dict[str, Any] | None = None,
        server: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        name: str = "Acme Analytics",
    ) -> Host:
        folder = tmp_path / f"host-{next(counter)}"
        folder.mkdir()
        config = {
            "path": {"data": str(folder / "data")},
            "server": {"name": name, "host": "127.0.0.1", "port": 0, **(server or {})},
            "telemetry": telemetry or {},
        }
        config_path = folder / "telemetry_service.yml"
        config_path.write_text(yaml.safe_dump(config))
        # A developer's own DO_NOT_TRACK must not leak into tests that expect consent.
        full_env = {"DO_NOT_TRACK": "", **(env or {})}
        process = stack.enter_context(
            run_cli(["serve", "--config", str(config_path)], env=full_env, cwd=folder)
        )
        host = Host(process.url, config_path, full_env)
        drain = threading.Thread(target=_drain, args=(process.proc, host.output), daemon=True)
        drain.start()
        stack.callback(_stop, process.proc)
        return host

    try:
        yield start
    finally:
        stack.close()


def _drain(proc: subprocess.Popen[str], lines: list[str]) -> None:
    """Keep reading the server's output so that a full pipe never blocks it."""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(page: Page) -> None:
    """The page scripts set ``<body data-ready>`` once they have loaded the state."""
    page.wait_for_selector("body[data-ready='true']")


def save_screenshot(page: Page, name: str) -> Path:
    """Always to test-artifacts/screenshots/host-NAME.png; with UPDATE_SCREENSHOTS=1 also to
    docs/screenshots/host-NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(full_page=True, animations="disabled")
    target = ARTIFACTS / f"host-{name}.png"
    target.write_bytes(png)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (DOCS_SCREENSHOTS / f"host-{name}.png").write_bytes(png)
    return target


def receiver_config(capture: CorsCaptureServer, keys: KeyPair, **telemetry: Any) -> dict[str, Any]:
    """``telemetry.*`` that reports to the capture server, encrypted for ``keys``."""
    return {
        "endpoints": {"prod": capture.url, "staging": capture.url},
        "encryption": {"jwks": json.dumps(keys.public_jwks), "kid": KID},
        **telemetry,
    }

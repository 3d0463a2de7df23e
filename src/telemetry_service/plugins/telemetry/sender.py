"""Posting encrypted reports: the HTTP client, retries within an attempt, and the outcome.

Unlike Kibana (which ignores the status), a 2xx is success; 429, 5xx and network errors are
retried with exponential backoff and jitter, honouring ``Retry-After`` (a connection failure
only :data:`CONNECTION_ATTEMPTS` times in all: a refused port or a bad name does not heal in
seconds, and the fetcher's 12 h connectivity check tries again); any other status is a failure
that is not retried. ``telemetry.timeouts.send`` is a hard deadline for the whole send,
retries and answers included, and at most ``telemetry.maxResponseBytes`` of any answer is read
(:func:`~telemetry_service.ebt.shippers.bounded_request.bounded_request`).
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# httpx imports httpcore (and h11) only when it makes its first transport, which would be on
# the event loop at the first send, blocking it for tens of milliseconds: import it here.
import httpcore  # noqa: F401
import httpx

from telemetry_service.ebt.shippers.bounded_request import DeadlineExceeded, bounded_request

from .config import TelemetryConfig

__all__ = [
    "CONNECTION_ATTEMPTS",
    "SendOutcome",
    "TelemetrySender",
    "build_client",
    "is_retryable_status",
    "parse_retry_after",
    "retry_delay",
]

_DELTA_SECONDS = re.compile(r"[0-9]+")
#: Attempts of one send that end without an answer (refused, reset, DNS, TLS, timeout).
CONNECTION_ATTEMPTS = 3


def is_retryable_status(status: int) -> bool:
    """429 and 5xx responses are worth retrying; any other status is not."""
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now_ms: int) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); `None`
    when absent or unparsable. A date in the past gives 0."""
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        return None
    return max(0.0, when.timestamp() - now_ms / 1000)


def retry_delay(
    attempt: int,
    retry_after_s: float | None = None,
    *,
    base: float = 1.0,
    cap: float = 60.0,
    jitter_fraction: float = 0.0,
) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...).

    Exponential backoff `base * 2**(attempt-1)` capped at `cap`, with "equal jitter":
    `jitter_fraction` is a random draw in [0, 1] that shortens the wait by up to half, so the
    result lies in [backoff/2, backoff]. A valid `retry_after_s` (a server's `Retry-After`) is
    a floor: the result is never shorter. `cap` does not limit it; callers that will not wait
    that long should give up instead.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    if not (base > 0 and cap > 0 and math.isfinite(base) and math.isfinite(cap)):
        raise ValueError("base and cap must be positive, finite numbers")
    if not 0.0 <= jitter_fraction <= 1.0:
        raise ValueError(f"jitter_fraction must be within [0, 1], got {jitter_fraction!r}")
    try:
        backoff = min(cap, base * 2.0 ** (attempt - 1))
    except OverflowError:
        backoff = cap
    delay = backoff * (1.0 - jitter_fraction / 2.0)
    if retry_after_s is not None and math.isfinite(retry_after_s) and retry_after_s >= 0:
        return max(delay, float(retry_after_s))
    return delay


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    status: int | None
    attempts: int
    error: str | None = None

    @property
    def answered(self) -> bool:
        """The endpoint answered, with any status; False for a connection failure (refused,
        reset, DNS, TLS, no answer before the deadline)."""
        return self.status is not None

    def describe(self) -> str:
        if self.ok:
            return f"HTTP {self.status}"
        return self.error or f"HTTP {self.status}"


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """httpx's verifying context for ``trust_env=False`` (the certifi bundle), made once:
    loading the bundle takes tens of milliseconds (`TelemetrySender.post` makes it off the loop).
    """
    return httpx.create_ssl_context(trust_env=False)


def build_client(config: TelemetryConfig) -> httpx.AsyncClient:
    """An HTTP client with the configured proxy, CA files and timeouts."""
    verify = default_tls_context()
    if config.ssl.certificate_authorities:
        context = ssl.create_default_context()
        for path in config.ssl.certificate_authorities:
            context.load_verify_locations(cafile=path)
        verify = context
    timeout = httpx.Timeout(
        connect=config.timeouts.connect,
        read=config.timeouts.read,
        write=config.timeouts.read,
        pool=config.timeouts.connect,
    )
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    proxy = config.proxy.url
    if proxy:
        transport = httpx.AsyncHTTPTransport(proxy=proxy, verify=verify)
        mounts = {"all://": transport}
        for host in config.proxy.no_proxy:
            mounts[f"all://{host}"] = None
    # trust_env=False: only the configured proxy applies, never an inherited HTTP(S)_PROXY.
    return httpx.AsyncClient(verify=verify, timeout=timeout, mounts=mounts, trust_env=False)


class TelemetrySender:
    """Posts one report, retrying transient failures until the send deadline has passed.

    The deadline is ``telemetry.timeouts.send`` (``deadline_s`` overrides it, for tests)."""

    def __init__(
        self,
        client: Callable[[], httpx.AsyncClient],
        *,
        config: Callable[[], TelemetryConfig],
        deadline_s: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._client = client
        self._config = config
        self._deadline_s = deadline_s
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self._wall_ms = wall_ms

    async def post(self, url: str, body: str | bytes, headers: dict[str, str]) -> SendOutcome:
        """POST `body` (bytes are sent as they are: encode a large body off the loop)."""
        content = body if isinstance(body, bytes) else body.encode()
        config = self._config()
        deadline_s = config.timeouts.send if self._deadline_s is None else self._deadline_s
        started = self._monotonic()
        slept = 0.0  # an injected sleep may not advance the monotonic clock
        attempt = 0
        await _tls_ready()
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                answer = await bounded_request(
                    self._client(),
                    "POST",
                    url,
                    content=content,
                    headers=headers,
                    deadline_s=deadline_s - max(self._monotonic() - started, slept),
                    max_bytes=config.max_response_bytes,
                )
            except httpx.HTTPError as exc:
                outcome = SendOutcome(False, None, attempt, _describe(exc))
                if attempt >= CONNECTION_ATTEMPTS:
                    return outcome
            else:
                status = answer.status_code
                if 200 <= status < 300:
                    return SendOutcome(True, status, attempt)
                outcome = SendOutcome(False, status, attempt, f"HTTP {status}")
                if not is_retryable_status(status):
                    return outcome
                retry_after = parse_retry_after(answer.headers.get("retry-after"), self._wall_ms())
            delay = retry_delay(
                attempt, retry_after, base=1.0, cap=60.0, jitter_fraction=self._rng.random()
            )
            if max(self._monotonic() - started, slept) + delay >= deadline_s:
                return outcome
            await self._sleep(delay)
            slept += delay

    async def options(self, url: str) -> str | None:
        """Kibana's connectivity check: an OPTIONS request; None when it got any answer."""
        config = self._config()
        deadline_s = config.timeouts.send if self._deadline_s is None else self._deadline_s
        await _tls_ready()
        try:
            await bounded_request(
                self._client(),
                "OPTIONS",
                url,
                deadline_s=deadline_s,
                max_bytes=config.max_response_bytes,
            )
        except httpx.HTTPError as exc:
            return _describe(exc)
        return None


async def _tls_ready() -> None:
    """Make `default_tls_context` in a worker thread (a client built after it finds it made)."""
    await asyncio.to_thread(default_tls_context)


def _describe(exc: httpx.HTTPError) -> str:
    """One line for the logs: the kind of failure, never a URL with credentials or a body."""
    kinds = {
        DeadlineExceeded: "no answer before the send deadline (telemetry.timeouts.send)",
        httpx.ConnectError: "connection failed",
        httpx.ConnectTimeout: "connection timed out",
        httpx.ReadTimeout: "no answer before the read timeout",
        httpx.WriteTimeout: "write timed out",
        httpx.PoolTimeout: "connection pool timed out",
        httpx.ProxyError: "the proxy refused the request",
        httpx.RemoteProtocolError: "the endpoint closed the connection",
    }
    for kind, text in kinds.items():
        if type(exc) is kind:
            if kind is DeadlineExceeded:
                return text
            detail = next(iter(_root_cause(exc).splitlines()), "")[:160]
            if "CERTIFICATE" in detail.upper() or "SSL" in detail.upper():
                return f"TLS error: {detail}"
            return f"{text}" + (f" ({detail})" if detail else "")
    return f"{type(exc).__name__}: {str(exc)[:160]}"


def _root_cause(exc: BaseException) -> str:
    """The innermost operating-system reason (``Connection refused``), else the message."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):  # its errno says nothing; its text names the problem
            return str(cause)
        if isinstance(cause, OSError) and isinstance(cause.errno, int) and cause.errno > 0:
            return os.strerror(cause.errno)
        if isinstance(cause, OSError) and cause.strerror:  # e.g. socket.gaierror
            return str(cause.strerror)
        cause = cause.__cause__ or cause.__context__
    return str(exc)

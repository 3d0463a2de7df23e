"""The `telemetry.*` config section: Kibana's keys and defaults (spec section 1) plus ours.

Keys keep Kibana's camelCase names (pydantic aliases, so validation errors name them, e.g.
`('sendUsageFrom',)`); Python code reads the snake_case attributes. Snake_case keys are also
accepted on input. The model is frozen: derive a changed config with
`TelemetryConfig.model_validate({**old.model_dump(by_alias=True), "optIn": False})`, not with
`model_copy(update=...)`, which skips validation and so the `enabled: false` meta rule.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from telemetry_service.common.config_file import Section
from telemetry_service.core.config import Duration

__all__ = [
    "DEFAULT_PROD_ENDPOINT",
    "DEFAULT_STAGING_ENDPOINT",
    "TelemetryConfig",
    "TelemetryEncryption",
    "TelemetryEndpoints",
    "TelemetryFetcher",
    "TelemetryLabels",
    "TelemetryProxy",
    "TelemetrySsl",
    "TelemetryTimeouts",
]

#: Placeholders: a vendor must point these at its own telemetry cluster.
DEFAULT_PROD_ENDPOINT = "https://telemetry.invalid/"
DEFAULT_STAGING_ENDPOINT = "https://telemetry-staging.invalid/"

_PRODUCT_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
_PROXY_SCHEMES = frozenset({"http", "https", "socks5", "socks5h"})


def _js_number(value: float) -> float:
    """Keep whole numbers as `int` (12 stays 12, not 12.0), like a JavaScript number prints."""
    return int(value) if value.is_integer() else value


_Number = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_js_number)]


def _check_url(value: str, schemes: frozenset[str], what: str) -> str:
    """Validate an absolute URL with one of `schemes`, a host, no query and no fragment."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid URL: {exc}") from exc
    allowed = "/".join(sorted(schemes))
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"{what} must be an absolute {allowed} URL")
    if not parts.hostname:
        raise ValueError(f"{what} must name a host")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(f"{what} must not have a query or a fragment")
    return value


class TelemetryLabels(Section):
    """`telemetry.labels`: context labels (exposed to the browser, even unauthenticated)."""

    branch: str | None = None
    ci_build_job_id: str | None = Field(default=None, alias="ciBuildJobId")
    ci_build_id: str | None = Field(default=None, alias="ciBuildId")
    ci_build_number: _Number | None = Field(default=None, alias="ciBuildNumber")
    environment: str | None = None
    ftr_config: str | None = Field(default=None, alias="ftrConfig")
    git_rev: str | None = Field(default=None, alias="gitRev")
    is_pr: bool | None = Field(default=None, alias="isPr")
    pr_id: _Number | None = Field(default=None, alias="prId")
    journey_name: str | None = Field(default=None, alias="journeyName")
    test_build_id: str | None = Field(default=None, alias="testBuildId")
    test_job_id: str | None = Field(default=None, alias="testJobId")
    ci_build_name: str | None = Field(default=None, alias="ciBuildName")
    performance_phase: str | None = Field(default=None, alias="performancePhase")
    serverless: str | None = None


class TelemetryEndpoints(Section):
    """`telemetry.endpoints`: base URLs of the telemetry cluster (normalised to end in `/`).

    The defaults are placeholders under the reserved `.invalid` domain (they never resolve):
    a vendor must set both, and nothing is sent while they are placeholders.
    """

    prod: str = DEFAULT_PROD_ENDPOINT
    staging: str = DEFAULT_STAGING_ENDPOINT

    @field_validator("prod", "staging")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = _check_url(value.strip(), frozenset({"http", "https"}), "endpoint")
        return value if value.endswith("/") else value + "/"


class TelemetryEncryption(Section):
    """`telemetry.encryption`: the vendor's public key set and the key id to use."""

    jwks: str | dict[str, Any] | None = None
    """A path to a JWKS file, the JWKS as inline JSON text, or the JWKS as a mapping."""
    kid: str | None = Field(default=None, min_length=1)

    @field_validator("jwks", mode="before")
    @classmethod
    def _jwks(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, str):
            text = value.strip()
            if not text:
                raise ValueError("jwks must be a file path or a JSON key set, not empty")
            if not text.startswith("{"):
                return value  # a path; it is read when the keys are loaded
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"inline jwks is not valid JSON: {exc.msg}") from exc
        if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
            raise ValueError('jwks must be a file path or a key set: an object with a "keys" list')
        return value


class TelemetryProxy(Section):
    """`telemetry.proxy`: outgoing proxy for sends.

    `noProxy` lists hosts reached directly: a list, or one comma-separated string.
    """

    url: str | None = None
    no_proxy: tuple[str, ...] = Field(default=(), alias="noProxy")

    @field_validator("no_proxy", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(host.strip() for host in value.split(",") if host.strip())
        return value

    @field_validator("url")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value.strip(), _PROXY_SCHEMES, "proxy url")


class TelemetrySsl(Section):
    """`telemetry.ssl`: extra CA certificate files (PEM paths) trusted for sends."""

    certificate_authorities: tuple[str, ...] = Field(default=(), alias="certificateAuthorities")

    @field_validator("certificate_authorities", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class TelemetryTimeouts(Section):
    """`telemetry.timeouts`: HTTP timeouts for sends, in seconds (`"500ms"`, `"30s"` work too)."""

    connect: Duration = Field(default=10.0, gt=0, allow_inf_nan=False)
    read: Duration = Field(default=30.0, gt=0, allow_inf_nan=False)
    send: Duration = Field(default=25.0, gt=0, le=3600, allow_inf_nan=False)
    """The whole of one send, retries and the answer included: a hard deadline."""


class TelemetryFetcher(Section):
    """`telemetry.fetcher`: whether this instance runs the server-side sender."""

    enabled: bool = True


class TelemetryConfig(Section):
    """The `telemetry.*` section.

    `enabled: false` is Kibana's meta setting: it forces `optIn` and
    `allowChangingOptInStatus` to false, whatever they were set to.
    """

    enabled: bool = True
    opt_in: bool = Field(default=True, alias="optIn")
    allow_changing_opt_in_status: bool = Field(default=True, alias="allowChangingOptInStatus")
    send_usage_from: Literal["server", "browser"] = Field(default="server", alias="sendUsageFrom")
    send_usage_to: Literal["prod", "staging"] = Field(default="prod", alias="sendUsageTo")
    banner: bool = True
    hide_privacy_statement: bool = Field(default=False, alias="hidePrivacyStatement")
    labels: TelemetryLabels = Field(default_factory=TelemetryLabels)
    product: str = Field(default="telemetry-service", pattern=_PRODUCT_PATTERN)
    """Channel prefix: `{product}-snapshot`, `{product}-opt-in-reports`."""
    endpoints: TelemetryEndpoints = Field(default_factory=TelemetryEndpoints)
    encryption: TelemetryEncryption = Field(default_factory=TelemetryEncryption)
    debug: bool = False
    proxy: TelemetryProxy = Field(default_factory=TelemetryProxy)
    ssl: TelemetrySsl = Field(default_factory=TelemetrySsl)
    timeouts: TelemetryTimeouts = Field(default_factory=TelemetryTimeouts)
    fetcher: TelemetryFetcher = Field(default_factory=TelemetryFetcher)
    max_response_bytes: int = Field(
        default=65_536, ge=0, le=16 * 1024 * 1024, alias="maxResponseBytes"
    )
    """At most this much of an endpoint's answer is read (only its status is used)."""

    @model_validator(mode="after")
    def _apply_enabled_meta_setting(self) -> TelemetryConfig:
        if not self.enabled:
            # The model is frozen; this runs during validation, before anyone sees it.
            object.__setattr__(self, "opt_in", False)
            object.__setattr__(self, "allow_changing_opt_in_status", False)
        return self

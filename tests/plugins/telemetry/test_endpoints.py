"""Channel URLs of the config: Kibana's `get_telemetry_channel_endpoint` tests, our prefix."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.endpoints import (
    get_base_url,
    get_opt_in_status_url,
    get_telemetry_channel_endpoint,
    get_telemetry_url,
    is_placeholder_endpoint,
)

PROD = "https://telemetry.elastic.co/"
STAGING = "https://telemetry-staging.elastic.co/"


def _config(**overrides: Any) -> TelemetryConfig:
    return TelemetryConfig.model_validate(
        {"endpoints": {"prod": PROD, "staging": STAGING}, **overrides}
    )


def test_unknown_env_raises_kibanas_message() -> None:
    with pytest.raises(ValueError, match=r"^Unknown telemetry endpoint env ANY\.$"):
        get_base_url(_config(), "ANY")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^Unknown telemetry endpoint env ANY\.$"):
        get_telemetry_channel_endpoint(_config(), "snapshot", "ANY")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "channel", "expected"),
    [
        ("prod", "snapshot", "https://telemetry.elastic.co/v3/send/kibana-snapshot"),
        ("staging", "snapshot", "https://telemetry-staging.elastic.co/v3/send/kibana-snapshot"),
        ("prod", "opt-in-reports", "https://telemetry.elastic.co/v3/send/kibana-opt-in-reports"),
        (
            "staging",
            "opt-in-reports",
            "https://telemetry-staging.elastic.co/v3/send/kibana-opt-in-reports",
        ),
    ],
)
def test_kibana_endpoint_table(env: Any, channel: Any, expected: str) -> None:
    config = _config(product="kibana")
    url = get_telemetry_channel_endpoint(config, channel, env)
    assert isinstance(url, httpx.URL)
    assert str(url) == expected


def test_get_telemetry_url_follows_send_usage_to() -> None:
    assert str(get_telemetry_url(_config())) == f"{PROD}v3/send/telemetry-service-snapshot"
    staging = _config(sendUsageTo="staging", product="acme")
    assert str(get_telemetry_url(staging)) == f"{STAGING}v3/send/acme-snapshot"


def test_get_opt_in_status_url_follows_send_usage_to() -> None:
    config = _config(sendUsageTo="staging")
    assert str(get_opt_in_status_url(config)) == (
        f"{STAGING}v3/send/telemetry-service-opt-in-reports"
    )


def test_default_url_is_the_placeholder() -> None:
    config = TelemetryConfig()
    assert str(get_telemetry_url(config)) == (
        "https://telemetry.invalid/v3/send/telemetry-service-snapshot"
    )
    assert is_placeholder_endpoint(config) is True
    assert is_placeholder_endpoint(config, "staging") is True


def test_configured_endpoints_are_not_placeholders() -> None:
    config = _config()
    assert is_placeholder_endpoint(config) is False
    half = TelemetryConfig.model_validate({"endpoints": {"prod": PROD}})
    assert is_placeholder_endpoint(half, "prod") is False
    assert is_placeholder_endpoint(half, "staging") is True

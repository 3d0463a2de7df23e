"""Channel URLs: Kibana's `get_telemetry_channel_endpoint` tests, with our product prefix."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.endpoints import (
    get_base_url,
    get_channel,
    get_channel_url,
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


@pytest.mark.parametrize(
    ("channel", "serverless", "expected"),
    [
        ("snapshot", False, "kibana-snapshot"),
        ("optInStatus", False, "kibana-opt-in-reports"),
        ("snapshot", True, "kibana-snapshot-serverless"),
        ("optInStatus", True, "kibana-opt-in-reports-serverless"),
    ],
)
def test_channel_names_match_kibana(channel: Any, serverless: bool, expected: str) -> None:
    assert get_channel("kibana", channel, serverless) == expected


@pytest.mark.parametrize("serverless", [False, True])
def test_unknown_channel_raises_kibanas_message(serverless: bool) -> None:
    with pytest.raises(ValueError, match=r"^Unknown telemetry channel ANY\.$"):
        get_channel("kibana", "ANY", serverless)  # type: ignore[arg-type]


def test_unknown_env_raises_kibanas_message() -> None:
    with pytest.raises(ValueError, match=r"^Unknown telemetry endpoint env ANY\.$"):
        get_base_url(_config(), "ANY")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^Unknown telemetry endpoint env ANY\.$"):
        get_telemetry_channel_endpoint(_config(), "snapshot", "ANY")  # type: ignore[arg-type]


def test_unknown_channel_through_the_config_helper() -> None:
    with pytest.raises(ValueError, match=r"^Unknown telemetry channel ANY\.$"):
        get_telemetry_channel_endpoint(_config(), "ANY")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "channel", "serverless", "expected"),
    [
        ("prod", "snapshot", False, "https://telemetry.elastic.co/v3/send/kibana-snapshot"),
        (
            "staging",
            "snapshot",
            False,
            "https://telemetry-staging.elastic.co/v3/send/kibana-snapshot",
        ),
        (
            "prod",
            "optInStatus",
            False,
            "https://telemetry.elastic.co/v3/send/kibana-opt-in-reports",
        ),
        (
            "staging",
            "optInStatus",
            False,
            "https://telemetry-staging.elastic.co/v3/send/kibana-opt-in-reports",
        ),
        (
            "prod",
            "snapshot",
            True,
            "https://telemetry.elastic.co/v3/send/kibana-snapshot-serverless",
        ),
        (
            "staging",
            "optInStatus",
            True,
            "https://telemetry-staging.elastic.co/v3/send/kibana-opt-in-reports-serverless",
        ),
    ],
)
def test_kibana_endpoint_table(env: Any, channel: Any, serverless: bool, expected: str) -> None:
    config = _config(product="kibana")
    url = get_telemetry_channel_endpoint(config, channel, env, serverless)
    assert isinstance(url, httpx.URL)
    assert str(url) == expected


def test_get_channel_url_builds_from_any_base() -> None:
    url = get_channel_url("http://127.0.0.1:5602", "acme", "snapshot")
    assert str(url) == "http://127.0.0.1:5602/v3/send/acme-snapshot"
    url = get_channel_url("https://vendor.test/telemetry/", "acme", "optInStatus", True)
    assert str(url) == "https://vendor.test/telemetry/v3/send/acme-opt-in-reports-serverless"


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

"""The privacy rules of the public statistics (receiver/public/privacy.py), tested directly."""

from __future__ import annotations

import pytest

from telemetry_service.receiver.public.privacy import (
    check_field,
    check_word,
    count,
    fold,
    is_version,
    quantiles,
    share,
)


def test_a_bucket_under_k_is_folded_into_other() -> None:
    folded = fold([("8.1.0", 50), ("8.2.0", 9), ("8.3.0", 12)], 10, named=is_version)
    assert folded == {
        "buckets": [{"value": "8.1.0", "deployments": 50}, {"value": "8.3.0", "deployments": 12}],
        "other": None,  # 9 deployments: fewer than k, so not even the count is published
    }
    assert "8.2.0" not in str(folded)


def test_other_is_published_from_k_deployments_or_when_empty() -> None:
    assert fold([("a", 10), ("b", 6), ("c", 4)], 10, named=str.isalpha)["other"] == 10
    assert fold([("a", 10)], 10, named=str.isalpha)["other"] == 0
    assert fold([("a", 10), ("b", 1)], 10, named=str.isalpha)["other"] is None


def test_values_that_may_not_be_named_go_to_other_however_many() -> None:
    folded = fold([("en", 30), ("secret-team", 40), (None, 12)], 10, named={"en"}.__contains__)
    assert folded == {"buckets": [{"value": "en", "deployments": 30}], "other": 52}


def test_buckets_are_ordered_by_deployments_then_value() -> None:
    folded = fold([("b", 10), ("a", 10), ("c", 30)], 10, named=str.isalpha)
    assert [bucket["value"] for bucket in folded["buckets"]] == ["c", "a", "b"]


def test_counts_under_k_are_not_published() -> None:
    assert count(9, 10) is None
    assert count(10, 10) == 10
    assert count(0, 10) is None


def test_quantiles_need_k_deployments_and_never_give_extremes() -> None:
    assert quantiles([1.0] * 9, 10) is None
    assert quantiles([float("nan")] * 5 + [1.0] * 9, 10) is None  # only finite values count
    summary = quantiles([float(v) for v in range(1, 12)] + [1e9], 10)
    assert summary is not None
    assert summary["deployments"] == 12
    assert set(summary["quantiles"]) == {"25", "50", "75", "90"}
    assert summary["quantiles"]["50"] == 6.5
    assert 1e9 not in summary["quantiles"].values()
    assert "min" not in summary
    assert "max" not in summary


def test_a_share_needs_k_on_each_side() -> None:
    assert share(40, 10, 10) == {"yes": 40, "no": 10, "share": 0.8}
    assert share(400, 9, 10) == {"yes": None, "no": None, "share": None}
    assert share(9, 400, 10)["share"] is None


@pytest.mark.parametrize(
    "version", ["8.1.0", "8.14", "9.0.0-rc1", "8.1.0-SNAPSHOT", "10.2.3-beta.2"]
)
def test_versions_that_may_be_named(version: str) -> None:
    assert is_version(version)


@pytest.mark.parametrize(
    "version",
    [
        None,
        "10.0.0.1",  # an IP address
        "8.1.0-acme-corp",  # free text in a suffix
        "3f1b2c4d-1111-2222-3333-444455556666",
        "prod-eu-west-1",
        "8",
        "8.1.0 ",
    ],
)
def test_versions_that_are_never_named(version: str | None) -> None:
    assert not is_version(version)


@pytest.mark.parametrize(
    ("path", "kind", "values", "message"),
    [
        ("cluster_uuid", "keyword", ["x"], "names an identity"),
        ("cluster_name", "keyword", ["x"], "names an identity"),
        ("stack_stats.kibana.plugins.dashboards.dashboardId", "number", [], "names an identity"),
        ("stack_stats.labels", "keyword", ["x"], "names an identity"),
        ("stack_stats.kibana.server.ip", "keyword", ["x"], "names an identity"),
        ("stack_stats.kibana.plugins.localization.locale", "keyword", [], "free text"),
        ("license.type", "keyword", ["gold", "10.0.0.1"], "looks like an identifier"),
        ("license.type", "keyword", ["gold", "0123456789abcdef0123"], "looks like an identifier"),
        ("license.type", "keyword", ["gold", "Acme Corp"], "must be 1 to 64"),
        ("license.type", "keyword", ["gold", "gold"], "unique"),
        ("a.b", "number", ["1"], "`values` is for keyword fields"),
        ("a..b", "number", [], "empty segments"),
    ],
)
def test_fields_whose_values_could_be_free_text_are_refused(
    path: str, kind: str, values: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_field(path, kind, values)


def test_fields_that_may_be_published() -> None:
    check_field("stack_stats.kibana.plugins.dashboards.total", "number", [])
    check_field("stack_stats.kibana.plugins.maps.enabled", "boolean", [])
    check_field("license.type", "keyword", ["basic", "gold", "platinum", "enterprise"])


@pytest.mark.parametrize(
    "word", ["3F1B2C4D-1111-2222-3333-444455556666", "192.168.1.20", "a b", "", "x" * 65, "é"]
)
def test_words_that_could_identify_are_refused(word: str) -> None:
    with pytest.raises(ValueError):
        check_word(word, "event type")

"""``public.*`` in the receiver's config: defaults, environment, and the refusal of fields whose
values are free text, with an error that names the key."""

from __future__ import annotations

import pytest

from telemetry_service.receiver import ConfigError, load_config


def test_defaults_publish_nothing() -> None:
    public = load_config({}, env={}).public
    assert public.enabled is False
    assert (public.fields, public.events) == ((), ())
    assert public.min_clusters == 10
    assert public.refresh == 3600.0


def test_every_key_from_the_environment() -> None:
    env = {
        "TELEMETRY_RECEIVER_PUBLIC_ENABLED": "true",
        "TELEMETRY_RECEIVER_PUBLIC_MINCLUSTERS": "25",
        "TELEMETRY_RECEIVER_PUBLIC_REFRESH": "15m",
        "TELEMETRY_RECEIVER_PUBLIC_EVENTS": '["dashboard_opened"]',
        "TELEMETRY_RECEIVER_PUBLIC_FIELDS": '[{"path": "license.type", "kind": "keyword",'
        ' "values": ["basic", "gold"], "title": "License"}]',
    }
    public = load_config({}, env=env).public
    assert public.enabled
    assert public.min_clusters == 25
    assert public.refresh == 900.0
    assert public.events == ("dashboard_opened",)
    assert public.fields[0].values == ("basic", "gold")
    assert public.fields[0].title == "License"


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        (
            [{"path": "stack_stats.kibana.plugins.localization.locale", "kind": "keyword"}],
            "public.fields.0",
            "is a keyword field: its values are free text",
        ),
        (
            [
                {"path": "a.b", "kind": "number"},
                {"path": "cluster_name", "kind": "keyword", "values": ["prod"]},
            ],
            "public.fields.1",
            "'cluster_name' names an identity or free text",
        ),
        ([{"path": "cluster_uuid", "kind": "number"}], "public.fields.0", "names an identity"),
        ([{"path": "a.b", "kind": "text"}], "public.fields.0.kind", "'keyword', 'boolean'"),
        ([{"path": "a.b", "kind": "number"}] * 2, "public.fields", "each path may be listed once"),
    ],
)
def test_free_text_fields_are_refused_at_load(
    fields: list[dict[str, object]], key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"public": {"enabled": True, "fields": fields}}, env={})
    text = str(caught.value)
    assert text.startswith(f"invalid receiver config [{key}]"), text
    assert message in text


@pytest.mark.parametrize(
    ("public", "key"),
    [
        ({"events": ["0a1b2c3d-0000-4000-8000-00000000000f"]}, "public.events"),
        ({"minClusters": 1}, "public.minClusters"),
        ({"refresh": "10s"}, "public.refresh"),
        ({"refresh": "soon"}, "public.refresh"),
    ],
)
def test_other_bad_values_name_their_key(public: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^invalid receiver config \[{key}\]"):
        load_config({"public": public}, env={})

"""The schema of the payload's root (Kibana's ``oss_root.json``); plugins' schemas go under
``stack_stats.kibana.plugins``."""

from __future__ import annotations

from typing import Any

from telemetry_service.plugins.usage_collection import leaf

__all__ = ["ROOT_SCHEMA", "payload_schema"]


def _counted(key: str, description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {key: leaf("keyword", description), "count": leaf("long", "Number of instances.")},
    }


ROOT_SCHEMA: dict[str, Any] = {
    "collectionSource": leaf("keyword", "The collection strategy that built the payload."),
    "cacheDetails": {
        "updatedAt": leaf("date", "When the payload was generated."),
        "fetchedAt": leaf("date", "When the payload was read from the 4 h cache."),
    },
    "timestamp": leaf("date", "When the payload was generated."),
    "cluster_uuid": leaf("keyword", "The deployment's UUID, shared by its instances."),
    "cluster_name": leaf("keyword", "The deployment's name (server.name)."),
    "version": leaf("keyword", "The host application's version."),
    "collection": leaf("keyword", "Always 'local'."),
    "cluster_stats": {
        "type": "pass_through",
        "_meta": {"description": "Cluster statistics (empty for this platform)."},
    },
    "stack_stats": {
        "kibana": {
            "count": leaf("long", "Number of instances reporting (always 1)."),
            "indices": leaf("long", "Kept for Kibana compatibility (always 1)."),
            "os": {
                "platforms": _counted("platform", "Operating system (linux, darwin, windows)."),
                "platformReleases": _counted("platformRelease", "Operating system release."),
                "distros": _counted("distro", "Linux distribution id."),
                "distroReleases": _counted("distroRelease", "Linux distribution and version."),
            },
            "versions": _counted("version", "Version without -snapshot."),
            "plugins": {
                "type": "pass_through",
                "_meta": {"description": "Every collector's output, by collector type."},
            },
        }
    },
}


def payload_schema(plugins: dict[str, Any]) -> dict[str, Any]:
    """The whole payload's schema: the root with ``plugins`` replaced by the collectors'."""
    kibana = {**ROOT_SCHEMA["stack_stats"]["kibana"], "plugins": plugins}
    return {**ROOT_SCHEMA, "stack_stats": {**ROOT_SCHEMA["stack_stats"], "kibana": kibana}}

"""The schema of the payload's root (Kibana's ``oss_root.json``); plugins' schemas go under
``stack_stats.kibana.plugins``."""

from __future__ import annotations

from typing import Any

__all__ = ["ROOT_SCHEMA", "payload_schema"]


def _d(type_: str, description: str) -> dict[str, Any]:
    return {"type": type_, "_meta": {"description": description}}


def _counted(key: str, description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {key: _d("keyword", description), "count": _d("long", "Number of instances.")},
    }


ROOT_SCHEMA: dict[str, Any] = {
    "collectionSource": _d("keyword", "The collection strategy that built the payload."),
    "cacheDetails": {
        "updatedAt": _d("date", "When the payload was generated."),
        "fetchedAt": _d("date", "When the payload was read from the 4 h cache."),
    },
    "timestamp": _d("date", "When the payload was generated."),
    "cluster_uuid": _d("keyword", "The deployment's UUID, shared by its instances."),
    "cluster_name": _d("keyword", "The deployment's name (server.name)."),
    "version": _d("keyword", "The host application's version."),
    "collection": _d("keyword", "Always 'local'."),
    "cluster_stats": {
        "type": "pass_through",
        "_meta": {"description": "Cluster statistics (empty for this platform)."},
    },
    "stack_stats": {
        "kibana": {
            "count": _d("long", "Number of instances reporting (always 1)."),
            "indices": _d("long", "Kept for Kibana compatibility (always 1)."),
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

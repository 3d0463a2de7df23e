"""Identity: the deployment's UUID (shared by every instance on one store) and this instance's.

The deployment is what the telemetry payload calls the "cluster": its UUID is created once, in
the store, so every instance that shares the store reports the same ``cluster_uuid``. The
instance UUID is kept in ``path.data`` (as Kibana keeps its ``uuid`` file).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from .private_files import narrow_file, write_private
from .store import SavedObjectConflictError, SavedObjectNotFoundError, SavedObjectStore

__all__ = ["ensure_deployment_uuid", "ensure_instance_uuid"]

DEPLOYMENT_TYPE = "deployment"
DEPLOYMENT_ID = "deployment"


async def ensure_deployment_uuid(store: SavedObjectStore) -> str:
    """The deployment UUID, created on first use; concurrent first uses agree on one value."""
    try:
        stored = await store.get(DEPLOYMENT_TYPE, DEPLOYMENT_ID)
    except SavedObjectNotFoundError:
        try:
            stored = await store.create(
                DEPLOYMENT_TYPE, {"uuid": str(uuid.uuid4())}, id_=DEPLOYMENT_ID, overwrite=False
            )
        except SavedObjectConflictError:  # another instance created it first
            stored = await store.get(DEPLOYMENT_TYPE, DEPLOYMENT_ID)
    return str(stored.attributes["uuid"])


def ensure_instance_uuid(data_path: Path) -> str:
    """This instance's UUID, kept in ``<path.data>/uuid`` (a 0600 file in a 0700 folder)."""
    path = data_path / "uuid"
    try:
        value = str(uuid.UUID(path.read_text(encoding="utf-8").strip()))
        narrow_file(path)
        return value
    except (OSError, ValueError):
        pass
    value = str(uuid.uuid4())
    write_private(path, value + "\n")
    return value

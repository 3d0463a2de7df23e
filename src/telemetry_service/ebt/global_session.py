"""The ``global_session`` helper of ``@kbn/ebt`` (ebt 1.3.0, PR #70).

A pseudonymous id that groups one user's events of one UTC day across tabs and deployments of
an organization, without sending the user name:
``sha256("<organizationId>:<username>:<YYYY-MM-DD UTC>")`` in hex, with a missing organization
id written as the literal ``undefined`` (JavaScript's template string of an absent value).
Source: ``ebt:src/helpers/global_session/global_session_context_provider.ts`` and its test.
"""

from __future__ import annotations

import datetime as dt
import hashlib

__all__ = ["GLOBAL_SESSION_SCHEMA", "global_session_context", "global_session_id"]

GLOBAL_SESSION_SCHEMA = {
    "global_session": {
        "type": "keyword",
        "_meta": {"description": "Hash of the organization, the user and the UTC day."},
    }
}


def global_session_id(organization_id: str | None, username: str, day: dt.date) -> str:
    """The day's session id of ``username`` in ``organization_id``."""
    organization = "undefined" if organization_id is None else organization_id
    text = f"{organization}:{username}:{day.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def global_session_context(
    organization_id: str | None, username: str, now: dt.datetime
) -> dict[str, str]:
    """The ``global_session`` context value at ``now`` (its UTC day), for
    ``register_context_provider("global_session", ..., GLOBAL_SESSION_SCHEMA)``."""
    day = now.astimezone(dt.UTC).date()
    return {"global_session": global_session_id(organization_id, username, day)}

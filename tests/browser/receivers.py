"""A real ``receiver serve`` process with an admin and a viewer key, for the browser tests of
the Events page and of sign-in links."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from telemetry_service.receiver import hash_api_key
from telemetry_service.wire.protocol import (
    DEFAULT_PRODUCT,
    ChannelKind,
    channel_url,
    event_headers,
    events_to_ndjson,
)
from tests.receiver.processes import serve_receiver
from tests.receiver.support import write_private_keys

ADMIN_KEY, VIEWER_KEY = "events-admin-key-for-the-browser", "events-viewer-key-for-the-browser"


@dataclass
class LiveReceiver:
    url: str

    def api(self, path: str, key: str = VIEWER_KEY, **params: Any) -> Any:
        response = httpx.get(
            self.url + path, params=params, headers={"Authorization": f"ApiKey {key}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()

    def post_events(
        self,
        events: Sequence[Mapping[str, object]],
        *,
        cluster_uuid: str | None,
        kind: ChannelKind = "server",
        version: str = "8.14.0",
    ) -> httpx.Response:
        """A batch as the host's shipper sends it: its NDJSON framing and headers."""
        return httpx.post(
            channel_url(self.url, DEFAULT_PRODUCT, kind),
            content=events_to_ndjson(events),
            headers=event_headers(cluster_uuid, version),
            timeout=10,
        )

    def signin_link(self, **body: Any) -> str:
        response = httpx.post(
            self.url + "/api/signin-links",
            json=body,
            headers={"Authorization": f"ApiKey {ADMIN_KEY}", "kbn-xsrf": "true"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        url: str = response.json()["url"]
        return url


@contextmanager
def live_receiver(folder: Path) -> Iterator[LiveReceiver]:
    """``receiver serve`` on a free port with a SQLite store in `folder`; stopped after."""
    config = folder / "receiver.yml"
    keys = [
        {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN_KEY)},
        {"name": "analyst", "role": "viewer", "hash": hash_api_key(VIEWER_KEY)},
    ]
    config.write_text(yaml.safe_dump({"auth": {"apiKeys": keys}}))
    private = write_private_keys(folder / "receiver.private.jwks.json")
    store = f"sqlite:///{folder / 'receiver.db'}"
    args = ["--config", str(config), "--keys", str(private), "--store", store, "--port", "0"]
    with serve_receiver(args, cwd=folder) as server:
        yield LiveReceiver(server.url)
        assert server.terminate() == 0

"""A capture server that answers CORS like a telemetry cluster must for browser reports.

Reports from the browser are cross-origin requests with custom headers, so the browser first
sends a preflight (OPTIONS) and then needs ``Access-Control-Allow-Origin`` on the answer.
"""

from __future__ import annotations

from typing import Any

from tests.support.capture import Captured, CaptureServer

__all__ = ["CorsCaptureServer"]

_ALLOW_HEADERS = (
    "content-type, x-elastic-stack-version, x-elastic-cluster-id, x-elastic-content-encoding"
)


class CorsCaptureServer(CaptureServer):
    """Records every request; answers preflights with 204 and adds the CORS headers."""

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "OPTIONS":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            with self._lock:
                self.requests.append(Captured("OPTIONS", scope["path"], headers, b""))
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", b"POST, OPTIONS"),
                        (b"access-control-allow-headers", _ALLOW_HEADERS.encode()),
                        (b"access-control-max-age", b"600"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message["headers"], (b"access-control-allow-origin", b"*")],
                }
            await send(message)

        await super()._app(scope, receive, send_with_cors)

    def preflights(self, path_suffix: str = "") -> list[Captured]:
        with self._lock:
            return [
                r for r in self.requests if r.method == "OPTIONS" and r.path.endswith(path_suffix)
            ]

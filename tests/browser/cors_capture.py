"""A capture server that answers CORS like a telemetry cluster must for browser reports.

Reports from the browser are cross-origin requests with custom headers, so the browser first
sends a preflight (OPTIONS) and then needs ``Access-Control-Allow-Origin`` on the answer.
"""

from __future__ import annotations

import dataclasses

from telemetry_service.testing import Captured, CaptureServer, Reply

__all__ = ["CorsCaptureServer"]

_PREFLIGHT = Reply(
    204,
    headers={
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "POST, OPTIONS",
        "access-control-allow-headers": "content-type, x-elastic-stack-version, "
        "x-elastic-cluster-id, x-elastic-content-encoding",
        "access-control-max-age": "600",
    },
    body=b"",
)


class CorsCaptureServer(CaptureServer):
    """Records every request; answers preflights with 204 and adds the CORS headers."""

    def reply_to(self, request: Captured) -> Reply:
        if request.method == "OPTIONS":
            return _PREFLIGHT
        reply = super().reply_to(request)
        return dataclasses.replace(
            reply, headers={**reply.headers, "access-control-allow-origin": "*"}
        )

    def preflights(self, path_suffix: str = "") -> list[Captured]:
        return self.received("OPTIONS", path_suffix)

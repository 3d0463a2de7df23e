"""Hostile telemetry endpoints on 127.0.0.1 (security review findings 2 and 7), each on its own
event loop in a thread, so that in-process tests and child processes can both be pointed at one.

- ``flood``: ``200`` and then a chunked body of ``flood_bytes`` (endless when ``None``) as fast as
  the client reads it;
- ``trickle``: ``200`` and then one chunk byte every ``trickle_s`` seconds, for ever;
- ``drip``: the status line, then one header line every ``trickle_s`` seconds, for ever (the
  answer never starts, yet no read waits long enough for a read timeout);
- ``hang``: reads the request and never answers;
- ``close``: closes each connection as soon as it is accepted (a connection failure).
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Literal

__all__ = ["HostileServer", "Mode"]

Mode = Literal["flood", "trickle", "drip", "hang", "close"]
_CHUNK = b"x" * 65536


class HostileServer:
    def __init__(
        self, mode: Mode, *, flood_bytes: int | None = None, trickle_s: float = 0.5
    ) -> None:
        self.mode = mode
        self.flood_bytes = flood_bytes
        self.trickle_s = trickle_s
        self.connections = 0
        self.bytes_written = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> HostileServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(timeout=10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.mode == "close":
                return
            await reader.readuntil(b"\r\n\r\n")  # the body may follow; it is never read
            if self.mode == "hang":
                await asyncio.sleep(3600)
            if self.mode == "drip":
                writer.write(b"HTTP/1.1 200 OK\r\n")
                while True:
                    writer.write(b"X-Drip: 1\r\n")
                    await writer.drain()
                    self.bytes_written += 11
                    await asyncio.sleep(self.trickle_s)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            if self.mode == "trickle":
                while True:
                    writer.write(b"1\r\n \r\n")
                    await writer.drain()
                    self.bytes_written += 1
                    await asyncio.sleep(self.trickle_s)
            sent = 0
            while self.flood_bytes is None or sent < self.flood_bytes:
                writer.write(b"%x\r\n%s\r\n" % (len(_CHUNK), _CHUNK))
                await writer.drain()
                sent += len(_CHUNK)
                self.bytes_written += len(_CHUNK)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away (that is the point), or the server stops
        finally:
            writer.close()

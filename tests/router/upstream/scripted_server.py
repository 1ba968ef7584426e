"""A real HTTP/1.1 server on loopback that answers each request with the next scripted raw response.

It records what it was sent and how many connections it accepted, so tests can check the wire: the
body, the headers, keep-alive. The last response repeats. An empty response closes the connection
without answering; with `close_after`, the server closes each connection after its first answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def http_response(status: int, body: bytes | dict[str, Any], *, headers: tuple[tuple[str, str], ...] = (),
                  content_type: str = "application/json") -> bytes:
    payload = orjson.dumps(body) if isinstance(body, dict) else body
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", f"Content-Length: {len(payload)}",
             *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def sse_response(events: bytes) -> bytes:
    return http_response(200, events, content_type="text/event-stream")


@dataclass
class ScriptedServer:
    responses: list[bytes]
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    close_after: bool = False
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def start(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                request_line, *lines = head.strip().split("\r\n")
                method, path, _ = request_line.split(" ")
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.seen.append(Seen(method, path, headers, body))
                response = self.responses[min(len(self.seen), len(self.responses)) - 1]
                writer.write(response)
                await writer.drain()
                if not response or self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

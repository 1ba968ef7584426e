"""Raw ASGI plumbing: read a JSON body, answer JSON or a server-sent event stream, stall, and drop
the connection (closed, or reset with no response at all)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Protocol, runtime_checkable

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = Sequence[tuple[bytes, bytes]]

_JSON = (b"content-type", b"application/json")
_SSE = ((b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"))


@runtime_checkable
class _Transport(Protocol):
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def abort(self) -> None: ...
    def close(self) -> None: ...


class TransportUnavailableError(RuntimeError):
    """The server does not expose its transport, so the connection cannot be dropped on purpose."""


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class Responder:
    """The response side of one request."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send

    async def json(self, status: int, body: object, headers: Headers = ()) -> None:
        payload = orjson.dumps(body)
        await self._send({"type": "http.response.start", "status": status,
                          "headers": [_JSON, (b"content-length", str(len(payload)).encode()), *headers]})
        await self._send({"type": "http.response.body", "body": payload})

    async def raw(self, status: int, payload: bytes, content_type: bytes, *, length: int | None = None) -> None:
        """Send `payload` as the body; `length` may announce more than is sent (a body cut short)."""
        size = str(len(payload) if length is None else length).encode()
        await self._send({"type": "http.response.start", "status": status,
                          "headers": [(b"content-type", content_type), (b"content-length", size)]})
        await self._send({"type": "http.response.body", "body": payload, "more_body": length is not None})

    async def start_stream(self) -> None:
        await self._send({"type": "http.response.start", "status": 200, "headers": list(_SSE)})

    async def write(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self) -> None:
        await self._send({"type": "http.response.body", "body": b""})

    async def hang(self, seconds: float) -> bool:
        """Wait `seconds`, or less if the client goes away; True when it went away."""
        try:
            async with asyncio.timeout(seconds):
                while (await self._receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            return False
        return True

    async def drop(self, *, reset: bool) -> None:
        """Drop the TCP connection: a RST (SO_LINGER 0, then abort) when `reset`, else a plain close
        after whatever was already written.

        ASGI has no message for this, so it reaches the transport through the server's `send`, which
        under uvicorn (h11 and httptools alike) is a bound method of a cycle holding `transport`."""
        transport = getattr(getattr(self._send, "__self__", None), "transport", None)
        if not isinstance(transport, _Transport):  # uvloop's transports are not asyncio subclasses
            raise TransportUnavailableError("this server does not expose its transport")
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
        for _ in range(3):  # let connection_lost run, so the server sees a client that went away
            await asyncio.sleep(0)

"""The hot endpoints as plain ASGI, in front of FastAPI's router.

`POST /v1/chat/completions` and `POST /v1/embeddings` are served here, with the same service calls,
errors and headers as the FastAPI routes (which stay declared: they make the OpenAPI document and
answer every other method). FastAPI's request object, dependency solving, exception middleware and
Starlette's streaming response (a task group per stream to watch for disconnects) cost about a
fifth of a request's CPU; here a request is read, served and written directly. Everything else, and
every path not listed, goes on to FastAPI unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import schemas
from gateway.errors import (
    INTERNAL,
    ErrorShape,
    PayloadTooLarge,
    PermissionDenied,
    error_headers,
    openai_body,
    send_error,
)
from router.errors import TurnoutError

if TYPE_CHECKING:
    from gateway.answer import Answer
    from gateway.service import GatewayService

log = logging.getLogger("turnout.gateway")

_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_WATCH_AFTER_S = 0.05
"""A request still running after this long starts watching for its client's disconnect."""


class ClientGone(Exception):
    """The client disconnected before its request body was in."""


class RequestIds:
    """Request ids: a random prefix per process and a counter (32 hex digits, like a uuid4's hex,
    for a tenth of its cost). A client's own sane `x-request-id` is kept."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count(1)

    def __call__(self, headers: Mapping[str, str]) -> str:
        given = headers.get("x-request-id", "")
        return given if 0 < len(given) <= 128 and given.isprintable() else f"{self._prefix}{next(self._count):016x}"


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes (413) before reading it all."""
    declared = headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_open_mode(service: GatewayService, scope: Scope) -> None:
    """Without any key configured, the gateway serves localhost only (unless the operator says
    otherwise with TURNOUT_ALLOW_OPEN_NETWORK=1, e.g. for a demo container)."""
    services = service.services
    if not service.holder.current.tenancy.keys.open_mode or services.settings.allow_open_network:
        return
    client = scope.get("client")
    with contextlib.suppress(ValueError, TypeError):
        if client and ipaddress.ip_address(client[0]).is_loopback:
            return
    raise PermissionDenied("this gateway has no API keys configured and serves localhost only; "
                           "configure keys (auth.keys or TURNOUT_MASTER_KEY)")


def _raw(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_json(send: Send, status: int, body: bytes, headers: Mapping[str, str]) -> None:
    raw = [_JSON, (b"content-length", str(len(body)).encode()), *_raw(headers)]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_answer(send: Send, receive: Receive, answer: Answer) -> None:
    if answer.stream is None:
        await send_json(send, 200, orjson.dumps(answer.body), answer.headers)
        return
    async with contextlib.aclosing(answer.stream) as stream:  # closed on a disconnect too
        await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *_raw(answer.headers)]})
        async with _CancelledOnDisconnect(receive) as watch:
            try:
                async for chunk in stream:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:  # the client went away (ASGI 2.4 `send` raises): stop reading upstream
                watch.gone = True


class _CancelledOnDisconnect:
    """While inside, a client disconnect cancels the current task at once (a stream waiting on a slow
    upstream would otherwise notice only at its next write; a plain request would go on retrying and
    falling back for nobody). One watcher task, started after `after_s`: a plain request that ends
    sooner, the common case, costs a timer instead of a task."""

    __slots__ = ("_after_s", "_receive", "_task", "_timer", "_watcher", "gone")

    def __init__(self, receive: Receive, *, after_s: float = 0.0) -> None:
        self._receive, self._after_s = receive, after_s
        self._timer: asyncio.TimerHandle | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.gone = False
        """The client went away (set by the watcher, or by a writer whose `send` failed)."""

    async def __aenter__(self) -> _CancelledOnDisconnect:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        if self._after_s > 0:
            self._timer = asyncio.get_running_loop().call_later(self._after_s, self._begin)
        else:
            self._begin()
        return self

    def _begin(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.gone = True
        self._task.cancel()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if self._timer is not None:
            self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
        if kind is asyncio.CancelledError and self.gone:  # ours: swallowed; any other cancel passes on
            self._task.uncancel()
            return True
        return False


Handler = Callable[["GatewayService", dict[str, Any], Mapping[str, str], str], Awaitable["Answer"]]


async def _chat(service: GatewayService, body: dict[str, Any], headers: Mapping[str, str], rid: str) -> Answer:
    return await service.chat(body, headers, rid)


async def _embeddings(service: GatewayService, body: dict[str, Any], headers: Mapping[str, str],
                      rid: str) -> Answer:
    return await service.embeddings(body, headers, rid)


ROUTES: dict[str, Handler] = {"/v1/chat/completions": _chat, "/v1/embeddings": _embeddings}

_RID = b"x-request-id"


class FastPath:
    def __init__(self, app: ASGIApp, *, ids: RequestIds | None = None, routes: Mapping[str, Handler] = ROUTES,
                 shapes: Mapping[str, ErrorShape] | None = None) -> None:
        self.app = app
        self.routes = dict(routes)
        self.ids = ids or RequestIds()
        self.shapes = dict(shapes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        service: GatewayService | None = getattr(scope["app"].state, "service", None) if handler else None
        if handler is None or service is None:
            await self._elsewhere(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rid = self.ids(headers)
        try:
            check_open_mode(service, scope)
            limit = service.holder.current.policy.server.max_body_bytes
            body = await schemas.read_json_object(await read_body(receive, headers, limit))
            answer: Answer | None = None
            async with _CancelledOnDisconnect(receive, after_s=_WATCH_AFTER_S):  # a client that hangs up
                answer = await handler(service, body, headers, rid)
            if answer is None:
                return
        except TurnoutError as exc:
            shape = self.shapes.get(scope["path"], openai_body)
            await send_error(send, exc.status, shape(exc), {"x-request-id": rid, **error_headers(exc)})
            return
        except ClientGone:
            return
        except Exception:
            log.exception("unhandled error", extra={"path": scope["path"]})
            other = self.shapes.get(scope["path"])
            await send_error(send, 500, other(TurnoutError("internal error")) if other is not None else INTERNAL,
                             {"x-request-id": rid})
            return
        await send_answer(send, receive, answer)

    async def _elsewhere(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Any other request goes on to FastAPI with its request id in `request.state.request_id`,
        and every response it gets carries it: errors (401, 404, 500, ...) included."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = self.ids(Headers(scope=scope))
        scope.setdefault("state", {})["request_id"] = rid
        raw_rid = rid.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(k.lower() == _RID for k, _ in headers):
                    message = {**message, "headers": [*headers, (_RID, raw_rid)]}
            await send(message)

        await self.app(scope, receive, send_with_id)

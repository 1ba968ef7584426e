"""The FastAPI application: thin handlers over `GatewayService`, everything built in the lifespan."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response, StreamingResponse

from gateway import errors, schemas
from gateway.runtime import Runtime, build_runtime
from gateway.service import Answer, GatewayService
from gateway.settings import Settings
from router.errors import PayloadTooLarge
from router.upstream.base import Upstream


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes (413) before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    rid = given if 0 < len(given) <= 128 and given.isprintable() else uuid.uuid4().hex
    request.state.request_id = rid
    return rid


def _respond(answer: Answer) -> Response:
    if answer.stream is not None:
        return StreamingResponse(answer.stream, media_type="text/event-stream",
                                 headers={**answer.headers, "cache-control": "no-cache"})
    return Response(orjson.dumps(answer.body), media_type="application/json", headers=answer.headers)


def create_app(settings: Settings | None = None, *, upstream: Upstream | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if upstream is None:
            from router.upstream.litellm_adapter import LiteLLMUpstream

            chosen: Upstream = LiteLLMUpstream()
        else:
            chosen = upstream
        runtime = build_runtime(settings, chosen)
        app.state.runtime = runtime
        app.state.service = GatewayService(runtime)
        yield

    app = FastAPI(title="Turnout", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    errors.install(app)

    def service(request: Request) -> GatewayService:
        svc: GatewayService = request.app.state.service
        return svc

    def limit(request: Request) -> int:
        runtime: Runtime = request.app.state.runtime
        return runtime.policy.server.max_body_bytes

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        rid = _request_id(request)
        body = schemas.parse_json_object(await read_body(request, limit(request)))
        return _respond(await service(request).chat(body, rid))

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        rid = _request_id(request)
        body = schemas.parse_json_object(await read_body(request, limit(request)))
        return _respond(await service(request).embeddings(body, rid))

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        return service(request).models()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> Response:
        checks = await service(request).readiness()
        ok = all(c["ok"] for c in checks.values())
        return Response(orjson.dumps({"status": "ready" if ok else "not_ready", "checks": checks}),
                        status_code=200 if ok else 503, media_type="application/json")

    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (used with several workers): settings from TURNOUT_* variables."""
    return create_app(Settings.from_env())

"""The FastAPI application: thin handlers over `GatewayService`, everything built in the lifespan."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp

from gateway import fastpath, handlers, schemas, shedding
from gateway.admin import add_admin_routes
from gateway.debug import add_debug_routes
from gateway.fastpath import FastPath, RequestIds, check_open_mode, read_body
from gateway.learning.http import add_learning_routes
from gateway.lifespan import lifespan
from gateway.protocols.handlers import ERROR_SHAPES, ROUTES
from gateway.service import GatewayService
from gateway.settings import Settings
from router.upstream.base import Upstream

log = logging.getLogger("turnout.gateway")


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _body_schema(*required: str) -> dict[str, Any]:
    """The request body in the OpenAPI spec: a JSON object (the handler validates it in full)."""
    schema = {"type": "object", "required": list(required), "additionalProperties": True}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


PROTOCOL_BODIES = {"/v1/messages": ("model", "messages", "max_tokens"),
                   "/v1/messages/count_tokens": ("model", "messages"), "/v1/responses": ("model", "input")}


async def _starting() -> Response:
    raise HTTPException(503, "the gateway is starting; retry shortly")


class TurnoutApp(FastAPI):
    """FastAPI with two layers in front of its whole middleware stack: the load-shedding gate, then
    the hot endpoints as plain ASGI. Each layer a request passes costs on every resumption of its
    coroutine; the hot path skips FastAPI's error, telemetry and body-limit layers (it renders its
    own errors the same way)."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        routes = {**fastpath.ROUTES, **ROUTES}
        front = FastPath(stack, ids=self.state.request_ids, routes=routes, shapes=ERROR_SHAPES)
        return shedding.SheddingMiddleware(front, gate=self.state.gate, ids=self.state.request_ids)


def create_app(settings: Settings | None = None, *, upstream: Upstream | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    app = TurnoutApp(title="Turnout", version="0.1.0", lifespan=lifespan(settings, upstream), docs_url=None,
                     redoc_url=None)
    handlers.install(app)
    app.state.request_ids = RequestIds()
    app.state.gate = shedding.Gate()

    def _request_id(request: Request) -> str:
        """Given to every request by `FastPath` in front of FastAPI (the client's own, if sane)."""
        rid: str = request.state.request_id
        return rid

    def service(request: Request) -> GatewayService:
        svc: GatewayService = request.app.state.service
        return svc

    async def json_body(request: Request) -> dict[str, Any]:
        check_open_mode(service(request), request.scope)
        limit = request.app.state.holder.current.policy.server.max_body_bytes
        return await schemas.read_json_object(await read_body(request.receive, request.headers, limit))

    # Served by `FastPath` in front of FastAPI; declared here for the OpenAPI document. A request
    # reaches these handlers only before the lifespan has built the service.
    @app.post("/v1/chat/completions", openapi_extra=_body_schema("model", "messages"))
    async def chat_completions() -> Response:
        raise HTTPException(503, "the gateway is starting; retry shortly")

    @app.post("/v1/embeddings", openapi_extra=_body_schema("model", "input"))
    async def embeddings() -> Response:
        raise HTTPException(503, "the gateway is starting; retry shortly")

    for path, required in PROTOCOL_BODIES.items():  # other clients' APIs (`gateway.protocols`), also on FastPath
        app.add_api_route(path, _starting, methods=["POST"], openapi_extra=_body_schema(*required))

    @app.post("/v1/route")
    async def route(request: Request) -> Response:
        rid = _request_id(request)
        answer = _json(await service(request).route(await json_body(request), request.headers, rid))
        answer.headers["x-request-id"] = rid
        return answer

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz")
    async def readyz(request: Request) -> Response:
        checks = await service(request).readiness()
        ok = all(c["ok"] for c in checks.values())
        return _json({"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        body, content_type = request.app.state.metrics.render()
        return Response(body, media_type=content_type)

    _add_model_routes(app)
    add_admin_routes(app)
    add_learning_routes(app, json_body)
    add_debug_routes(app)
    return app


def _add_model_routes(app: FastAPI) -> None:
    """`GET /v1/models` and `GET /v1/models/{name}` (the openai SDK's `models.list` and `retrieve`)."""

    def service(request: Request) -> GatewayService:
        svc: GatewayService = request.app.state.service
        check_open_mode(svc, request.scope)
        return svc

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        return _json(await service(request).models(request.headers))

    @app.get("/v1/models/{name:path}")
    async def model(request: Request, name: str) -> Response:
        return _json(await service(request).model(request.headers, name))


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (`turnout serve` with several workers): settings from TURNOUT_*
    variables; a serving worker, so its collector is tuned (`gateway.gctune`)."""
    settings = dataclasses.replace(Settings.from_env(), tune_gc=True)
    if not logging.getLogger().handlers:  # a worker process spawned by uvicorn: set up its own logs
        from gateway import logs

        logs.configure(settings.log_level)
    return create_app(settings)

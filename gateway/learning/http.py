"""`POST /v1/feedback` and `GET /admin/learning`: thin handlers over the learner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from gateway.access import authenticate
from gateway.admin import require_admin
from gateway.learning.learner import Learner
from router.errors import ModelNotFound


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _learner(request: Request) -> Learner:
    learner: Learner | None = request.app.state.service.services.learning
    if learner is None:
        raise ModelNotFound("learning is off in this gateway's policy (learning.enabled)", code="learning_disabled")
    return learner


def add_learning_routes(app: FastAPI, json_body: Callable[[Request], Awaitable[dict[str, Any]]]) -> None:
    """`json_body` reads the request's JSON object under the gateway's checks (open mode, size limit)."""

    @app.post("/v1/feedback")
    async def feedback(request: Request) -> Response:
        body = await json_body(request)
        principal = await authenticate(request.app.state.service.holder.current.tenancy, request.headers)
        return _json(await _learner(request).feedback(principal.tenant, body))

    @app.get("/admin/learning")
    async def admin_learning(request: Request) -> Response:
        require_admin(request)
        return _json(_learner(request).report())

"""FastAPI's exception handlers: every error of a FastAPI route, rendered by `gateway.errors`.

This is one of the two places where `except Exception` renders an unexpected failure for the
client (the fast path is the other): the client sees a generic 500 message, the log gets the
traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gateway.errors import INTERNAL, error_body, error_headers, openai_body
from router.errors import TurnoutError

log = logging.getLogger("turnout.gateway")

_HTTP_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error",
               405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error"}


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def render(exc: TurnoutError, headers: dict[str, str] | None = None) -> Response:
    return json_error(exc.status, openai_body(exc), {**(headers or {}), **error_headers(exc)})


async def _turnout_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TurnoutError)
    return render(exc, {"x-request-id": getattr(request.state, "request_id", "")})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    type_ = _HTTP_TYPES.get(exc.status_code, "invalid_request_error" if exc.status_code < 500 else "server_error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404:
        message = f"no route for {request.method} {request.url.path}"
    return json_error(exc.status_code, error_body(message, type_, code), dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    param = ".".join(str(p) for p in first["loc"] if p != "body") or None
    return json_error(400, error_body(f"{param or 'request'}: {first['msg']}", "invalid_request_error",
                                      "invalid_request", param))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path})
    return json_error(500, INTERNAL)


def install(app: FastAPI) -> None:
    app.add_exception_handler(TurnoutError, _turnout_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)

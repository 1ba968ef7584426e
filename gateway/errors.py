"""The gateway's HTTP errors, and the one renderer of every error a client reads.

The upstream errors and the base class live in `router.errors`; the errors of the HTTP edge
(keys, payloads, guardrails, the shared store) live here, on the same base:

    TurnoutError                                       (router.errors)
    ├── RequestError (400)                             (router.errors)
    │   ├── ForbiddenParameter (400)                   api_base, api_key, ... set by a client
    │   └── GuardrailViolation (400)                   a blocking guardrail matched
    ├── AuthenticationError (401)
    ├── PermissionDenied (403)
    ├── BodyTimeout (408)                              the body did not arrive in time
    ├── PayloadTooLarge (413)
    └── StoreUnavailable (503)                         Redis down and the policy fails closed

Every error leaves as OpenAI-shaped JSON, `{"error": {"message", "type", "param", "code"}}`, built
by `error_body` (`openai_body` for a `TurnoutError`) and nowhere else: FastAPI's exception handlers
(`gateway.handlers`), the fast path and the load shedder (`send_error`, plain ASGI) and the SSE
writer's error event (`gateway.sse`) all call it. `/v1/messages` has its own shape (`ErrorShape`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import orjson
from starlette.types import Send

from router.errors import RequestError, TurnoutError

ErrorShape = Callable[[TurnoutError], dict[str, Any]]
"""How a path renders an error body, for the protocols that are not OpenAI's (`gateway.protocols`)."""


class ForbiddenParameter(RequestError):
    code = "forbidden_parameter"


class GuardrailViolation(RequestError):
    """A guardrail with action `block` matched the request or the answer (400, guardrail_violation)."""

    code = "guardrail_violation"

    def __init__(self, message: str, *, guardrail: str, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.guardrail = guardrail


class AuthenticationError(TurnoutError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(TurnoutError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class BodyTimeout(TurnoutError):
    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class PayloadTooLarge(TurnoutError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class StoreUnavailable(TurnoutError):
    """A shared store the request needs (Redis: keys, rate limits, budgets) is unreachable and the
    policy says fail closed (503)."""

    status = 503
    type = "server_error"
    code = "store_unavailable"
    retryable = True


def error_body(message: str, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    """The OpenAI error object: every error a client reads is one of these."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def openai_body(exc: TurnoutError) -> dict[str, Any]:
    return error_body(exc.message, exc.type, exc.code, exc.param)


INTERNAL = error_body("internal error", "server_error", "internal_error")
"""What a client reads for a failure we did not expect (the log gets the traceback)."""


@runtime_checkable
class WithHeaders(Protocol):
    """An error of the gateway's that sets its own response headers (a key's rate limit: `x-ratelimit-*`)."""

    def headers(self) -> dict[str, str]: ...


def error_headers(exc: TurnoutError) -> dict[str, str]:
    """The error's own headers, else `Retry-After` (whole seconds, at least 1) when it says when to retry."""
    if isinstance(exc, WithHeaders):
        return exc.headers()
    return {} if exc.retry_after is None else {"retry-after": str(max(1, round(exc.retry_after)))}


async def send_error(send: Send, status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
    """An error response written straight to ASGI (the fast path and the shedder)."""
    data = orjson.dumps(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
           *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})

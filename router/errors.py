"""Turnout's error tree. Every error knows its HTTP status, OpenAI error `type` and `code`.

    TurnoutError
    ├── RequestError (400, invalid_request_error)          the caller's fault: never retried
    │   ├── ForbiddenParameter (400)                       api_base, api_key, ... set by a client
    │   ├── ContextWindowExceeded (400)                    the prompt does not fit the model
    │   ├── ContentPolicyViolation (400)                   the upstream refused the content
    │   └── GuardrailViolation (400)                       a blocking guardrail matched
    ├── PayloadTooLarge (413)
    ├── AuthenticationError (401)
    ├── PermissionDenied (403)
    ├── ModelNotFound (404)
    ├── RateLimited (429)                                  carries retry_after
    ├── StoreUnavailable (503)                             Redis down and the policy fails closed
    └── UpstreamError (502, upstream_error)                the model failed us
        ├── UpstreamUnavailable (503)
        │   ├── CircuitOpen (503)                          the model's breaker is open: not called
        │   └── AtCapacity (503)                           the model is at max_concurrency: not called
        ├── UpstreamTimeout (504)
        │   └── DeadlineExceeded (504)                     the request's overall deadline ran out
        └── AllAttemptsFailed (429/502/503/504)           every model in the chain failed

Third-party exceptions become these at one boundary per adapter: `router.upstream.litellm_adapter`
(litellm) and `router.upstream.http_errors` (the direct OpenAI-compatible adapter).
Messages never contain upstream URLs or keys.
"""

from __future__ import annotations

from typing import Any


class TurnoutError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"
    retryable: bool = False

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def headers(self) -> dict[str, str]:
        return {}


class RequestError(TurnoutError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class ForbiddenParameter(RequestError):
    code = "forbidden_parameter"


class ContextWindowExceeded(RequestError):
    code = "context_length_exceeded"


class ContentPolicyViolation(RequestError):
    code = "content_policy_violation"


class PayloadTooLarge(TurnoutError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class AuthenticationError(TurnoutError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(TurnoutError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class ModelNotFound(TurnoutError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class RateLimited(TurnoutError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"retry-after": str(max(1, round(self.retry_after)))}


class UpstreamError(TurnoutError):
    status = 502
    type = "upstream_error"
    code = "bad_gateway"
    retryable = True
    suspect = False
    """The request itself may have caused it (an upstream 500, an adapter that could not translate
    the request): a breaker counts it only once another model has answered the same request, or
    the models failed it differently (see `router.breakers`)."""

    def as_suspect(self) -> UpstreamError:
        self.suspect = True
        return self


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "service_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class CircuitOpen(UpstreamUnavailable):
    code = "circuit_open"
    retryable = False


class AtCapacity(UpstreamUnavailable):
    code = "model_at_capacity"
    retryable = False


class DeadlineExceeded(UpstreamTimeout):
    code = "deadline_exceeded"
    retryable = False


class AllAttemptsFailed(UpstreamError):
    """Every model in the chain failed. Status 429 when every attempt was rate-limited."""

    code = "all_attempts_failed"
    retryable = False

    def __init__(self, message: str, *, errors: list[TurnoutError]) -> None:
        super().__init__(message)
        self.errors = errors
        if errors and all(isinstance(e, RateLimited) for e in errors):
            self.status, self.type, self.code = 429, RateLimited.type, RateLimited.code
        elif errors and all(isinstance(e, UpstreamTimeout) for e in errors):
            self.status, self.code = 504, UpstreamTimeout.code
        elif errors and all(isinstance(e, UpstreamUnavailable) for e in errors):
            self.status, self.code = 503, UpstreamUnavailable.code
        last = errors[-1] if errors else None
        if isinstance(last, RequestError):
            self.status, self.type, self.code = last.status, last.type, last.code

    def headers(self) -> dict[str, str]:
        waits = [e.retry_after for e in self.errors if isinstance(e, RateLimited) and e.retry_after]
        return {"retry-after": str(max(1, round(min(waits))))} if self.status == 429 and waits else {}


class GuardrailViolation(RequestError):
    """A guardrail with action `block` matched the request or the answer (400, guardrail_violation)."""

    code = "guardrail_violation"

    def __init__(self, message: str, *, guardrail: str, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.guardrail = guardrail


class StoreUnavailable(TurnoutError):
    """A shared store the request needs (Redis: keys, rate limits, budgets) is unreachable and the
    policy says fail closed (503)."""

    status = 503
    type = "server_error"
    code = "store_unavailable"
    retryable = True

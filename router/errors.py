"""Turnout's error tree. Every error knows its HTTP status, OpenAI error `type` and `code`.

    TurnoutError
    ├── RequestError (400, invalid_request_error)          the caller's fault: never retried
    │   ├── ContextWindowExceeded (400)                    the prompt does not fit the model
    │   └── ContentPolicyViolation (400)                   the upstream refused the content
    ├── ModelNotFound (404)
    ├── RateLimited (429)                                  carries retry_after
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

The errors of the HTTP edge (keys, payloads, guardrails, the shared store) are the gateway's
(`gateway.errors`), on the same base class; so is the rendering of any of them for a client.
"""

from __future__ import annotations


class TurnoutError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"
    retryable: bool = False
    retry_after: float | None = None
    """Seconds the caller should wait before trying again, when known (rendered as `Retry-After`)."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class RequestError(TurnoutError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class ContextWindowExceeded(RequestError):
    code = "context_length_exceeded"


class ContentPolicyViolation(RequestError):
    code = "content_policy_violation"


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
        waits = [e.retry_after for e in errors if isinstance(e, RateLimited) and e.retry_after]
        self.retry_after = min(waits) if self.status == 429 and waits else None



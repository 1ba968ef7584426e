"""Simulated errors and their two wire shapes.

`SimError` carries an HTTP status, message, optional code and headers; an `ErrorStyle` renders it
as OpenAI (`{"error": {"message", "type", "param", "code"}}`) or Anthropic
(`{"type": "error", "error": {"type", "message"}}`) would.
"""

from __future__ import annotations

from typing import Protocol

from simulator.asgi import Headers


class SimError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 headers: Headers = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers


class ErrorStyle(Protocol):
    def body(self, error: SimError) -> dict[str, object]: ...


class OpenAIErrors:
    _TYPES = {400: "invalid_request_error", 404: "invalid_request_error", 405: "invalid_request_error",
              429: "rate_limit_exceeded", 503: "server_error"}

    def body(self, error: SimError) -> dict[str, object]:
        kind = self._TYPES.get(error.status, "server_error")
        return {"error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}}


class AnthropicErrors:
    _TYPES = {400: "invalid_request_error", 404: "not_found_error", 405: "invalid_request_error",
              429: "rate_limit_error", 503: "overloaded_error"}

    def body(self, error: SimError) -> dict[str, object]:
        kind = self._TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}


ERROR_STYLES: dict[str, ErrorStyle] = {"openai": OpenAIErrors(), "anthropic": AnthropicErrors()}


def unknown_model(name: str) -> SimError:
    return SimError(404, f"The model `{name}` does not exist or you do not have access to it.",
                    code="model_not_found", param="model")


def bad_request(message: str, param: str | None = None) -> SimError:
    return SimError(400, message, code="invalid_request_error", param=param)


def context_exceeded(limit: int, used: int) -> SimError:
    message = (f"This model's maximum context length is {limit} tokens. However, your messages resulted "
               f"in {used} tokens. Please reduce the length of the messages. (prompt is too long: "
               f"{used} tokens > {limit} maximum)")
    return SimError(400, message, code="context_length_exceeded", param="messages")

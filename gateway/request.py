"""A chat request, parsed once where the request path begins, then passed down as it is.

    request = ChatRequest.parse(body, headers)   # 400 on anything malformed: body, hints, cache headers
    request.model, request.stream, request.hints, request.prompt_tokens, request.cache
    request.upstream_body                        # what goes upstream: our routing hints taken out

Everything the request path needs of the body and the headers is read here, once: the validated
model, the stream flag, the routing hints (`gateway.hints`), the prompt's token estimate (limits,
routing and a stream's usage all read it), the cache directives. Nothing downstream re-reads the
raw body for them. No pydantic on the way: `gateway.schemas` validates the dict in place.
Input guardrails may redact the messages: `redacted` gives the request as it continues.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway import schemas
from gateway.cache.directives import CacheDirectives, parse_cache_control
from gateway.hints import parse_hints, without_hints
from router.errors import RequestError
from router.hints import Hints
from router.upstream.tokens import estimate_tokens


@dataclass(frozen=True, slots=True)
class ChatRequest:
    body: dict[str, Any]
    """The validated body, as the client sent it (with its `turnout` hints)."""
    headers: Mapping[str, str]
    model: str
    """The requested alias or model id."""
    stream: bool
    hints: Hints
    prompt_tokens: int
    """The prompt's estimated tokens (`estimate_tokens`), counted once."""
    cache: CacheDirectives
    cache_threshold: float | None
    """`x-turnout-cache-threshold`: a per-request similarity threshold for the semantic cache."""

    @classmethod
    def parse(cls, body: dict[str, Any], headers: Mapping[str, str]) -> ChatRequest:
        model = schemas.validate_chat(body)
        return cls(body=body, headers=headers, model=model, stream=bool(body.get("stream")),
                   hints=parse_hints(headers, body), prompt_tokens=estimate_tokens(body["messages"]),
                   cache=parse_cache_control(headers.get("cache-control")),
                   cache_threshold=_threshold(headers.get("x-turnout-cache-threshold")))

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.body["messages"]
        return messages

    @property
    def upstream_body(self) -> dict[str, Any]:
        """The body as it goes upstream: routing hints are ours."""
        return without_hints(self.body)

    def redacted(self, messages: list[dict[str, Any]]) -> ChatRequest:
        """The request with its messages as input guardrails left them (the estimate is kept: what
        was admitted is what is settled)."""
        if messages is self.messages:
            return self
        return dataclasses.replace(self, body={**self.body, "messages": messages})


def _threshold(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        raise RequestError("x-turnout-cache-threshold: must be a number", param="x-turnout-cache-threshold") from None

"""The one interface every upstream adapter implements.

An adapter takes an OpenAI-shaped request body for one model and returns either the whole OpenAI
response body or, for streams, an async iterator of OpenAI `chat.completion.chunk` dicts. It raises
only errors from `router.errors`; third-party exceptions never leave an adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from registry import ModelSpec

Chunk = dict[str, Any]


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    spec: ModelSpec
    body: dict[str, Any]
    """OpenAI request body, already validated; `model` is rewritten by the adapter."""
    kind: Literal["chat", "embeddings"] = "chat"
    stream: bool = False
    timeout: float | None = None
    """Seconds for the whole call (plain requests) or until the first chunk (streams)."""
    api_key: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] | None = None
    """Extra request headers for OpenAI-compatible upstreams (trace context)."""


@dataclass(slots=True)
class UpstreamResponse:
    body: dict[str, Any] | None = None
    stream: AsyncIterator[Chunk] | None = None


class Upstream(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Call the model. For `stream=True`, returns once the stream is open (first chunk not yet read)."""
        ...


class TokenCounter(Protocol):
    def count(self, spec: ModelSpec, messages: Any) -> int:
        """Prompt tokens of `messages` with `spec`'s tokenizer. CPU-bound: call it in a thread."""
        ...


@runtime_checkable
class Closeable(Protocol):
    async def aclose(self) -> None:
        """Release pooled connections; called once, at shutdown."""
        ...

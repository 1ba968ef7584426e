"""From an OpenAI request to cache keys: the hard partition, the exact key and the semantic query.

The partition is never part of the embedded text. It is a hash of the tenant, the resolved route,
every output-affecting parameter, the system prompt and the earlier turns; only the last user
message is compared semantically, so a follow-up question can hit only inside its own conversation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from embedding import RequestEmbedding
from gateway.cache.config import CachePolicy
from gateway.cache.directives import CacheDirectives

# Request fields that do not change the answer; everything else is part of the partition.
_NOT_OUTPUT: frozenset[str] = frozenset(
    {"model", "messages", "stream", "stream_options", "user", "metadata", "store", "service_tier"})
# Present and truthy: no semantic lookup (the exact layer still applies).
_NOT_SEMANTIC: tuple[str, ...] = ("tools", "functions", "logprobs", "top_logprobs", "audio", "prediction")


@dataclass(frozen=True, slots=True)
class CacheRequest:
    tenant: str
    route: str
    """The resolved route: the alias or model id the request was routed by."""
    body: Mapping[str, Any]
    """The OpenAI chat completion request body."""
    directives: CacheDirectives = field(default_factory=CacheDirectives)
    threshold: float | None = None
    """A per-request similarity threshold; never honoured below the operator's floor."""
    embedding: RequestEmbedding | None = None
    """The request embedding the gateway computed once (used when its text is the semantic query)."""


@dataclass(frozen=True, slots=True)
class CacheKeys:
    partition: str
    exact: str
    query: str | None
    """The last user message, when the request may be looked up semantically."""
    threshold: float | None
    """The effective similarity threshold, when semantic lookup applies."""
    storable: bool
    """False for requests whose answers are never stored (n > 1)."""


def _digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _text_of(content: object) -> str | None:
    """Plain text of a message's content; None when it holds anything but text (images, audio)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        if len(texts) == len(content) and all(isinstance(t, str) for t in texts):
            return "\n".join(t for t in texts if isinstance(t, str))
    return None


def _semantic_query(request: CacheRequest, policy: CachePolicy, last: Mapping[str, Any]) -> str | None:
    body = request.body
    if policy.semantic.route_threshold(request.route) is None or last.get("role") != "user":
        return None
    if any(body.get(name) for name in _NOT_SEMANTIC):
        return None
    temperature = body.get("temperature")
    temperature = 1.0 if temperature is None else temperature
    if not isinstance(temperature, int | float) or temperature > policy.semantic.max_temperature:
        return None
    text = _text_of(last.get("content"))
    if text is None or not text.strip() or len(text) > policy.semantic.max_prompt_chars:
        return None
    return text


def _threshold(request: CacheRequest, policy: CachePolicy) -> float | None:
    route = policy.semantic.route_threshold(request.route)
    if route is None:
        return None
    wanted = route if request.threshold is None else request.threshold
    return max(policy.semantic.min_threshold, wanted)


def cache_keys(request: CacheRequest, policy: CachePolicy) -> CacheKeys | None:
    """Keys for a request, or None when it cannot be cached at all (no messages)."""
    body = request.body
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], Mapping):
        return None
    system: list[object] = []
    earlier: list[object] = []
    for message in messages[:-1]:
        is_system = isinstance(message, Mapping) and message.get("role") in ("system", "developer")
        (system if is_system else earlier).append(message)
    params = {k: v for k, v in body.items() if k not in _NOT_OUTPUT}
    partition = _digest([request.tenant, request.route, params, _digest(system), _digest(earlier)])
    last = messages[-1]
    exact = _digest([partition, last])
    n = body.get("n")
    single = n is None or n == 1
    query = _semantic_query(request, policy, last) if single else None
    return CacheKeys(partition=partition, exact=exact, query=query,
                     threshold=_threshold(request, policy) if query is not None else None,
                     storable=single)

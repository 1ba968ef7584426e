"""Cache fixtures: the real Redis under a per-test key prefix, the real MiniLM encoder, answer bodies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from embedding.minilm import MiniLM
from gateway.cache import CacheDirectives, CachePolicy, CacheRequest
from gateway.cache.config import SemanticPolicy, SemanticRoute

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def minilm() -> MiniLM:
    return MiniLM.load()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of our own on the real Redis; every key under it is deleted afterwards."""
    name = f"test:cache:{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def policy(prefix: str = "turnout:cache", *, semantic: bool = True, **overrides: Any) -> CachePolicy:
    routes = {"auto": SemanticRoute()} if semantic else {}
    # these tests hand the cache MiniLM itself as its embedder: one stage, no verifier (test_two_stage
    # covers the shipped pipeline: the request embedding, then MiniLM on its candidates)
    sem = SemanticPolicy(routes=routes, **{"verifier": None, **overrides.pop("semantic_overrides", {})})
    # Generous budgets: a busy CI machine must not turn a slow answer into a bypass (tests of the
    # budgets set their own).
    overrides.setdefault("lookup_timeout_ms", 2000)
    overrides.setdefault("write_timeout_ms", 2000)
    overrides.setdefault("enabled", True)
    return CachePolicy(key_prefix=prefix, semantic=sem, **overrides)


def chat(text: str, *, tenant: str = "default", route: str = "auto", history: tuple[str, ...] = (),
         system: str | None = None, directives: CacheDirectives | None = None, **params: Any) -> CacheRequest:
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for i, turn in enumerate(history):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": turn})
    messages.append({"role": "user", "content": text})
    body = {"model": route, "messages": messages, **params}
    return CacheRequest(tenant=tenant, route=route, body=body, directives=directives or CacheDirectives())


def answer(text: str, *, finish: str = "stop", **message: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "local-small",
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": text, **message}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}}

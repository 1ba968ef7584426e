"""The shipped semantic pipeline: the request embedding proposes, MiniLM confirms, the guard vetoes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from embedding import StaticEmbedder, embed_request
from embedding.minilm import MiniLM
from gateway.cache import CacheRequest, ResponseCache, build_cache
from gateway.cache.embedding.base import Matrix
from gateway.cache.embedding.batching import BatchingEmbedder
from gateway.cache.verify import EncoderVerifier

from .conftest import answer, policy


class Counting:
    """The static embedder as the cache's own, counting the texts it is asked to embed."""

    def __init__(self, static: StaticEmbedder) -> None:
        self.static = static
        self.texts: list[str] = []

    async def embed(self, texts: Sequence[str]) -> Matrix:
        self.texts.extend(texts)
        return self.static.encode(texts)


class CountingEncoder:
    def __init__(self, minilm: MiniLM) -> None:
        self.calls = 0
        self._inner = BatchingEmbedder(minilm.encode)

    async def embed(self, texts: Sequence[str]) -> Matrix:
        self.calls += 1
        return await self._inner.embed(texts)


@pytest.fixture(scope="module")
def static() -> StaticEmbedder:
    return StaticEmbedder.load()


@pytest.fixture
async def parts(static: StaticEmbedder,
                minilm: MiniLM) -> AsyncIterator[tuple[ResponseCache, Counting, CountingEncoder]]:
    own, encoder = Counting(static), CountingEncoder(minilm)
    cache = await build_cache(policy(semantic_overrides={"verifier": "minilm"}), embedder=own,
                              verifier=EncoderVerifier(encoder))
    yield cache, own, encoder
    await cache.aclose()


def ask(static: StaticEmbedder, text: str) -> CacheRequest:
    messages = [{"role": "user", "content": text}]
    return CacheRequest(tenant="t", route="auto", body={"model": "auto", "messages": messages},
                        embedding=embed_request(static, messages))


async def test_a_paraphrase_hits_on_the_verifiers_similarity(
        parts: tuple[ResponseCache, Counting, CountingEncoder], static: StaticEmbedder, minilm: MiniLM) -> None:
    cache, own, _ = parts
    stored, asked = "How do I reverse a list in Python?", "How can I reverse a list in Python?"
    await cache.store(await cache.lookup(ask(static, stored)), answer("Use reversed()."))
    hit = await cache.lookup(ask(static, asked))
    assert hit.status == "hit-semantic"
    full = minilm.encode([stored, asked])
    assert hit.similarity == pytest.approx(float(full[0] @ full[1]), abs=1e-4)
    assert own.texts == []  # the request's own embedding was used, never a second one


async def test_the_verifier_turns_down_what_the_static_table_proposes(
        parts: tuple[ResponseCache, Counting, CountingEncoder], static: StaticEmbedder) -> None:
    cache, _, encoder = parts
    stored, asked = "Can dogs eat grapes?", "Can cats eat grapes?"
    assert float(static.embed(stored) @ static.embed(asked)) >= cache.policy.semantic.candidate_threshold
    await cache.store(await cache.lookup(ask(static, stored)), answer("No."))
    got = await cache.lookup(ask(static, asked))
    assert got.status == "miss" and got.reason == "verifier"
    assert encoder.calls == 1 and cache.stats.verifier_rejections == 1


async def test_no_candidate_no_encoder(parts: tuple[ResponseCache, Counting, CountingEncoder],
                                       static: StaticEmbedder) -> None:
    cache, _, encoder = parts
    await cache.store(await cache.lookup(ask(static, "How do I reverse a list in Python?")), answer("x"))
    got = await cache.lookup(ask(static, "What is the tallest mountain in Africa?"))
    assert got.status == "miss" and got.searched_semantic
    assert encoder.calls == 0 and cache.stats.verifications == 0
    assert np.allclose(got.vector, static.embed("What is the tallest mountain in Africa?"))

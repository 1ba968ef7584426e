"""The embedders: the numpy MiniLM against known figures, batching, and a registry model via an upstream."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from embedding.minilm import MiniLM
from gateway.cache.embedding.base import FunctionEmbedder, Matrix
from gateway.cache.embedding.batching import BatchingEmbedder
from gateway.cache.embedding.upstream import UpstreamEmbedder
from registry import ModelSpec
from router.upstream.base import UpstreamRequest, UpstreamResponse


def cosine(model: MiniLM, a: str, b: str) -> float:
    e = model.encode([a, b])
    return float(e[0] @ e[1])


def test_minilm_matches_known_behaviour(minilm: MiniLM) -> None:
    vectors = minilm.encode(["hello world", "a longer sentence that is padded differently in the batch"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # The figures in ../shared/data/cache/README.md, measured with sentence-transformers:
    reversed_ = cosine(minilm, "How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?")
    assert reversed_ == pytest.approx(0.995, abs=0.002)
    assert cosine(minilm, "17x23", "17x24") == pytest.approx(0.91, abs=0.01)
    assert cosine(minilm, "A man is playing a guitar.", "A person plays the guitar.") > 0.8
    assert cosine(minilm, "The cat sits on the mat", "Quantum chromodynamics is hard") < 0.2


def test_padding_does_not_change_an_embedding(minilm: MiniLM) -> None:
    alone = minilm.encode(["hello world"])[0]
    padded = minilm.encode(["hello world", "one two three four five six seven eight nine ten eleven"])[0]
    assert float(alone @ padded) > 0.99999


async def test_concurrent_requests_are_batched(minilm: MiniLM) -> None:
    calls: list[int] = []

    def encode(texts: Sequence[str]) -> Matrix:
        calls.append(len(texts))
        return minilm.encode(texts)

    embedder = BatchingEmbedder(encode)
    texts = [f"question number {i}" for i in range(12)]
    results = await asyncio.gather(*(embedder.embed([t]) for t in texts))
    assert sum(calls) == 12 and len(calls) < 12
    for text, got in zip(texts, results, strict=True):
        assert float(got[0] @ minilm.encode([text])[0]) > 0.99999
    await embedder.aclose()


async def test_an_encoder_error_reaches_every_waiting_caller() -> None:
    def broken(texts: Sequence[str]) -> Matrix:
        raise RuntimeError("no weights")

    embedder = BatchingEmbedder(broken)
    results = await asyncio.gather(*(embedder.embed(["x"]) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


class EmbeddingUpstream:
    """A fake at our Upstream interface, answering like an OpenAI embeddings endpoint."""

    def __init__(self) -> None:
        self.requests: list[UpstreamRequest] = []

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        self.requests.append(request)
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(request.body["input"])]
        return UpstreamResponse(body={"object": "list", "data": list(reversed(data))})


async def test_registry_model_through_an_upstream() -> None:
    upstream = EmbeddingUpstream()
    spec = ModelSpec(id="embed-small", litellm_model="openai/text-embedding-3-small")
    embedder = UpstreamEmbedder(upstream=upstream, spec=spec)
    got = await embedder.embed(["ab", "abcd"])
    assert upstream.requests[0].kind == "embeddings" and upstream.requests[0].spec.id == "embed-small"
    expected = np.array([[2, 1, 0], [4, 1, 0]], dtype=np.float32)
    assert np.allclose(got, expected / np.linalg.norm(expected, axis=1, keepdims=True))


async def test_function_embedder_normalises_and_checks_counts() -> None:
    async def embed(texts: Sequence[str]) -> list[list[float]]:
        return [[3.0, 4.0] for _ in texts][:1]

    embedder = FunctionEmbedder(embed)
    assert np.allclose(await embedder.embed(["one"]), [[0.6, 0.8]])
    with pytest.raises(ValueError, match="2 texts"):
        await embedder.embed(["one", "two"])

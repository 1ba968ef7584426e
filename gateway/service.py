"""The request path, top to bottom: validate, resolve the route, call the model, answer.

Handlers in `gateway.app` parse the HTTP request and call one method here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from gateway import schemas, sse
from gateway.runtime import Runtime
from registry import ModelSpec
from router.errors import ModelNotFound, RequestError, TurnoutError, UpstreamUnavailable
from router.upstream.base import Chunk, UpstreamRequest

log = logging.getLogger("turnout.requests")


async def redis_check(url: str | None) -> dict[str, Any]:
    if not url:
        return {"ok": False, "error": "no Redis URL in the configured environment variable"}
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        await client.ping()
        return {"ok": True}
    except (RedisError, OSError):
        return {"ok": False, "error": "Redis unreachable"}
    finally:
        await client.aclose()


@dataclass(slots=True)
class Answer:
    """A non-streaming JSON body or an SSE byte stream, plus response headers."""

    body: dict[str, Any] | None = None
    stream: AsyncIterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class GatewayService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def _route(self, name: str, *, embeddings: bool = False) -> tuple[str, ModelSpec]:
        resolved = self.runtime.resolve(name)
        if resolved is None:
            raise ModelNotFound(f"model {name!r} does not exist; GET /v1/models lists the models and aliases",
                                param="model")
        route, spec = resolved
        state = self.runtime.registry.get(spec.id)
        if state is not None and not state.available:
            raise UpstreamUnavailable(f"model {spec.id!r} is unavailable: {state.unavailable_reason}")
        if embeddings and not spec.capabilities.embeddings:
            raise RequestError(f"model {spec.id!r} does not serve embeddings", param="model")
        if not embeddings and not spec.capabilities.chat:
            raise RequestError(f"model {spec.id!r} is an embeddings model", param="model")
        return route, spec

    def _headers(self, spec: ModelSpec, request_id: str) -> dict[str, str]:
        return {"x-turnout-model": spec.id, "x-turnout-policy-version": self.runtime.policy.version or "",
                "x-turnout-attempts": "1", "x-request-id": request_id}

    async def chat(self, body: dict[str, Any], request_id: str) -> Answer:
        started = time.perf_counter()
        requested = schemas.validate_chat(body)
        route, spec = self._route(requested)
        stream = bool(body.get("stream"))
        call = UpstreamRequest(spec=spec, body=body, stream=stream, api_key=self.runtime.api_keys.get(spec.id),
                               timeout=spec.timeouts.first_token if stream else spec.timeouts.total)
        state = self.runtime.registry.get(spec.id)
        assert state is not None
        state.in_flight += 1
        try:
            response = await self.runtime.upstream.send(call)
            if stream:
                assert response.stream is not None
                first = await anext(response.stream)
        except StopAsyncIteration:
            state.in_flight -= 1
            raise UpstreamUnavailable(f"model {spec.id!r}: the stream ended before any data") from None
        except TurnoutError:
            state.in_flight -= 1
            state.record(latency_ms=(time.perf_counter() - started) * 1000, ok=False)
            raise
        headers = self._headers(spec, request_id)
        if not stream:
            state.in_flight -= 1
            assert response.body is not None
            answer = response.body
            answer["model"] = spec.id
            usage = answer.get("usage") or {}
            latency = (time.perf_counter() - started) * 1000
            state.record(latency_ms=latency, ok=True, completion_tokens=usage.get("completion_tokens", 0))
            self._log(request_id, route, spec, latency, usage, stream=False)
            return Answer(body=answer, headers=headers)
        assert response.stream is not None
        return Answer(stream=self._relay(first, response.stream, spec, route, request_id, started),
                      headers=headers)

    async def _relay(self, first: Chunk, rest: AsyncIterator[Chunk], spec: ModelSpec, route: str,
                     request_id: str, started: float) -> AsyncIterator[bytes]:
        state = self.runtime.registry.get(spec.id)
        assert state is not None
        ttft = (time.perf_counter() - started) * 1000
        usage: dict[str, Any] = {}
        ok = False
        try:
            first["model"] = spec.id
            yield sse.event(first)
            async for chunk in rest:
                chunk["model"] = spec.id
                if chunk.get("usage"):
                    usage = chunk["usage"]
                yield sse.event(chunk)
            yield sse.DONE
            ok = True
        except TurnoutError as exc:
            log.warning("stream from %s failed after the first byte: %s", spec.id, exc.code)
            yield sse.error_event(exc.body())
        finally:
            state.in_flight -= 1
            latency = (time.perf_counter() - started) * 1000
            state.record(latency_ms=latency, ok=ok, ttft_ms=ttft,
                         completion_tokens=usage.get("completion_tokens", 0))
            self._log(request_id, route, spec, latency, usage, stream=True, ttft_ms=ttft)

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Answer:
        requested = schemas.validate_embeddings(body)
        _, spec = self._route(requested, embeddings=True)
        call = UpstreamRequest(spec=spec, body=body, kind="embeddings", api_key=self.runtime.api_keys.get(spec.id))
        response = await self.runtime.upstream.send(call)
        assert response.body is not None
        response.body["model"] = spec.id
        return Answer(body=response.body, headers=self._headers(spec, request_id))

    async def readiness(self) -> dict[str, dict[str, Any]]:
        runtime = self.runtime
        chat_models = [m for m in runtime.registry.available_ids() if runtime.registry.spec(m).capabilities.chat]
        checks: dict[str, dict[str, Any]] = {
            "policy": {"ok": True, "version": runtime.policy.version},
            "upstreams": {"ok": bool(chat_models), "available": len(chat_models)},
        }
        if runtime.policy.redis is not None:
            checks["redis"] = await redis_check(runtime.settings.environ.get(runtime.policy.redis.url_env))
        return checks

    def models(self) -> dict[str, Any]:
        policy = self.runtime.policy
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "turnout-router"}
                for name in policy.router.aliases]
        data += [{"id": s.id, "object": "model", "created": 0, "owned_by": s.provider}
                 for s in policy.models if s.id in self.runtime.registry.available_ids()]
        return {"object": "list", "data": data}

    def _log(self, request_id: str, route: str, spec: ModelSpec, latency_ms: float, usage: dict[str, Any],
             *, stream: bool, ttft_ms: float | None = None) -> None:
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        log.info("request", extra={"turnout": {
            "request_id": request_id, "alias": route, "model": spec.id, "stream": stream,
            "tokens_in": prompt, "tokens_out": completion,
            "cost_usd": round(spec.price.cost(prompt, completion), 8),
            "latency_ms": round(latency_ms, 2), "ttft_ms": None if ttft_ms is None else round(ttft_ms, 2)}})

"""The request path, top to bottom. Handlers in `gateway.app` parse HTTP and call one method here.

    chat:  validate -> decide (classify, choose the chain) -> call down the chain -> answer
           -> one RequestRecord to every observer (metrics, decision log) when the request ends
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from embedding import RequestEmbedding, embed_request
from gateway import catalog, route_api, sse
from gateway.access import Access, admit, authenticate
from gateway.answer import Answer
from gateway.auth.principal import Principal
from gateway.cache.keys import CacheRequest
from gateway.decide import decide, may_serve_cached
from gateway.guarded import complete
from gateway.record import RequestRecord, route_headers
from gateway.reload import PolicyHolder
from gateway.request import ChatRequest
from gateway.runtime import Runtime, Services
from router.errors import TurnoutError
from router.record import RouteRecord
from router.streaming import ChunkStream

if TYPE_CHECKING:
    from gateway.cache import CacheLookup

log = logging.getLogger("turnout.requests")
Judge = Callable[[Mapping[str, Any]], None]
"""Judges a whole answer of the cheaper model against the stronger one's, off the response path."""


class GatewayService:
    def __init__(self, services: Services, holder: PolicyHolder) -> None:
        self.services = services
        self.holder = holder

    # ------------------------------------------------------------------ chat completions
    async def chat(self, body: dict[str, Any], headers: Mapping[str, str], request_id: str) -> Answer:
        """The body is parsed here, once, into a `ChatRequest` that the rest of the path reads."""
        runtime = self.holder.current  # pinned for the whole request, whatever reloads meanwhile
        started = time.perf_counter()
        record = RequestRecord(request_id=request_id, endpoint="chat", route="unknown",
                               policy_version=runtime.version)
        route: RouteRecord | None = None
        access: Access | None = None
        if self.services.tracing is not None:
            record.trace = self.services.tracing.begin(headers, body)
        try:
            request = ChatRequest.parse(body, headers)
            name = request.model
            if name in runtime.specs or name in runtime.policy.router.aliases:
                record.route = name
            record.stream = request.stream
            principal = await authenticate(runtime.tenancy, headers)
            record.tenant = principal.tenant
            access, request, lookup, embedding = await self._admit(record, runtime, principal, request)
            if lookup is not None and lookup.hit:
                if may_serve_cached(runtime, access, lookup.response):
                    return self._cached(lookup, record, access, started, request_id)
                lookup = dataclasses.replace(lookup, status="miss", response=None, similarity=None)
                record.cache, record.cache_similarity = "miss", None
            decision, record.classifier_ms = await decide(
                self.services, runtime, request, tier_cap=access.max_tier,
                allows=principal.allows_model if principal.allowed_models is not None else None, embedding=embedding)
            route = record.routed = RouteRecord(decision, prompt_estimate=request.prompt_tokens)
            if record.trace is not None:
                route.trace_headers = record.trace.outbound
            called = time.perf_counter()
            body = request.upstream_body  # routing hints are ours: never sent upstream
            if record.stream:
                stream = await runtime.executor.stream(decision, body, route, prompt_tokens=request.prompt_tokens)
                judge = self.remember(request_id, record.tenant, route.model, runtime, body)
                return Answer(stream=self._relay(stream, record, route, access, lookup, started, called, runtime,
                                                 judge),
                              headers=self.headers_for(route, request_id, access, lookup))
            result = await self._complete_once(runtime, body, route, access, lookup, record)
        except TurnoutError as exc:
            record.status, record.error_class = exc.status, type(exc).__name__
            self._finish(record, access, started, upstream_ms=_attempts_ms(route))
            raise
        except asyncio.CancelledError:  # the client hung up: no more attempts, nothing stored
            record.status, record.error_class = 499, "ClientGone"
            self._finish(record, access, started, upstream_ms=_attempts_ms(route))
            raise
        result["model"] = result.get("model") if record.cache == "hit-exact" else route.model
        judge = self.remember(request_id, record.tenant, route.model, runtime, body)
        if judge is not None:
            judge(result)
        if record.trace is not None:
            record.trace.answered(result)
        # metrics, spend and the decision log right after the answer is written, off its latency
        asyncio.get_running_loop().call_soon(self._finish, record, access, started,
                                             (time.perf_counter() - called) * 1000)
        return Answer(body=result, headers=self.headers_for(route, request_id, access, lookup))

    async def _admit(self, record: RequestRecord, runtime: Runtime, principal: Principal, request: ChatRequest
                     ) -> tuple[Access, ChatRequest, CacheLookup | None, RequestEmbedding | None]:
        """Limits and input guardrails, the request embedding, and the cache lookup: at once when nothing
        may rewrite the prompt. Returns the request as it goes on (guardrails may redact it)."""
        admitting = admit(runtime.tenancy, principal, request, alias=request.model in runtime.policy.router.aliases,
                          specs=runtime.specs)
        if runtime.tenancy.guardrails.for_request(tenant=principal.tenant, route=request.model) is None:
            embedding = self.embedding_for(runtime, request)
            # side by side: both Redis commands leave in one pipeline (`CommandBatch`)
            looking = asyncio.get_running_loop().create_task(
                self._lookup(record, runtime, principal, request, embedding))
            try:
                access, request = await admitting
            except BaseException:
                looking.cancel()
                raise
            return access, request, await looking, embedding
        access, request = await admitting  # input guardrails may redact the prompt: embed and look up what is sent
        embedding = self.embedding_for(runtime, request)
        return access, request, await self._lookup(record, runtime, principal, request, embedding), embedding

    def embedding_for(self, runtime: Runtime, request: ChatRequest) -> RequestEmbedding | None:
        """The request embedding, once, when the router or the semantic cache will use it."""
        embedder = self.services.embedder
        if embedder is None:
            return None
        cache, name = runtime.cache, request.model
        if name in runtime.policy.router.aliases or (
                cache is not None and cache.policy.semantic.route_threshold(name) is not None):
            return embed_request(embedder, request.messages)
        return None

    async def _lookup(self, record: RequestRecord, runtime: Runtime, principal: Principal, request: ChatRequest,
                      embedding: RequestEmbedding | None) -> CacheLookup | None:
        cache = runtime.cache
        if cache is None:
            return None
        lookup = await cache.lookup(CacheRequest(principal.tenant, request.model, request.body, request.cache,
                                                 request.cache_threshold, embedding))
        record.cache, record.cache_similarity = lookup.status, lookup.similarity
        if lookup.reason == "store-error":  # Redis failed under the cache: bypassed, and counted
            for observer in self.services.observers:
                redis_error = getattr(observer, "redis_error", None)
                if redis_error is not None:
                    redis_error("cache")
        return lookup

    def _cached(self, lookup: CacheLookup, record: RequestRecord, access: Access, started: float,
                request_id: str) -> Answer:
        """A cache hit: the stored answer, as JSON or replayed as a stream."""
        assert lookup.response is not None
        record.cached_model = lookup.response.get("model")
        headers = {**access.headers, "x-request-id": request_id, "x-turnout-cache": lookup.header(),
                   "x-turnout-attempts": "0", "x-turnout-policy-version": record.policy_version}
        if record.model:
            headers["x-turnout-model"] = record.model
        self._finish(record, access, started, upstream_ms=0.0)
        if record.stream:
            from gateway.cache import replay_sse

            options = lookup.request.body.get("stream_options") or {}
            return Answer(stream=replay_sse(lookup.response, include_usage=bool(options.get("include_usage"))),
                          headers=headers)
        return Answer(body=lookup.response, headers=headers)

    async def _complete_once(self, runtime: Runtime, body: dict[str, Any], route: RouteRecord, access: Access,
                             lookup: CacheLookup | None, record: RequestRecord) -> dict[str, Any]:
        """The upstream call of a cache miss, once for identical concurrent misses (single flight)."""
        cache = runtime.cache
        if cache is None or lookup is None:
            return await complete(runtime, body, route, access)
        async with cache.single_flight(lookup) as flight:
            if flight.hit and flight.response is not None and may_serve_cached(runtime, access, flight.response):
                record.cache = "hit-exact"
                return dict(flight.response)
            result = await complete(runtime, body, route, access)
            result["model"] = route.model  # the policy's id: what a later hit is permitted by
            await cache.store(flight, result)
            return result

    async def _relay(self, stream: ChunkStream, record: RequestRecord, route: RouteRecord, access: Access,
                     lookup: CacheLookup | None, started: float, called: float,
                     runtime: Runtime, judge: Judge | None) -> AsyncGenerator[bytes, None]:
        model = route.model
        chunks = access.guards.output_stream(stream) if access.guards is not None else stream
        storing = lookup is not None and lookup.keys is not None
        kept: list[dict[str, Any]] | None = [] if storing or judge is not None else None
        trace = record.trace
        try:
            async for chunk in chunks:
                chunk["model"] = model
                if trace is not None:
                    trace.chunk(chunk)
                if kept is not None:
                    kept.append(chunk)
                yield sse.data(chunk)
            yield sse.DONE
            if kept is not None:
                await self._after_stream(runtime, lookup if storing else None, kept, judge)
        except TurnoutError as exc:
            record.status, record.error_class = 502, type(exc).__name__
            log.warning("stream from %s failed after the first byte: %s", model, exc.code)
            yield sse.error_event(exc)
        finally:
            await stream.aclose()
            self._finish(record, access, started, upstream_ms=(time.perf_counter() - called) * 1000)

    async def _after_stream(self, runtime: Runtime, lookup: CacheLookup | None, chunks: list[dict[str, Any]],
                            judge: Judge | None) -> None:
        """A stream that finished whole is stored and may be judged (never a partial one, cut or
        abandoned: this runs only after [DONE])."""
        from gateway.cache.assemble import response_from_chunks

        response = response_from_chunks(chunks)
        if response is None:
            return
        if judge is not None:
            judge(response)
        if lookup is not None and runtime.cache is not None:
            await runtime.cache.store(lookup, response)

    def remember(self, request_id: str, tenant: str | None, model: str | None, runtime: Runtime | None = None,
                 body: Mapping[str, Any] | None = None) -> Judge | None:
        """What feedback about this request will need, kept when its alias learns. Given the request,
        returns what may judge the whole answer against the stronger model's (off the response path)
        when its alias samples shadows and the cheaper model served it; else None."""
        learning = self.services.learning
        if learning is None:
            return None
        context = learning.remember(request_id, tenant or "", model)
        if context is None or runtime is None or body is None or not learning.may_shadow(runtime, context):
            return None
        return functools.partial(learning.shadow, runtime, context, body)

    def headers_for(self, route: RouteRecord, request_id: str, access: Access | None = None,
                 lookup: CacheLookup | None = None) -> dict[str, str]:
        extra = access.headers if access is not None else {}
        headers = {**route_headers(route), **extra, "x-request-id": request_id}
        if lookup is not None:
            headers["x-turnout-cache"] = lookup.header()
        return headers

    def _finish(self, record: RequestRecord, access: Access | None, started: float, upstream_ms: float) -> None:
        """The request has ended: spend, every observer and the decision log read its one record."""
        record.latency_ms = (time.perf_counter() - started) * 1000
        record.upstream_ms = min(upstream_ms, record.latency_ms)
        route = record.routed
        if access is not None:  # what was reserved is replaced by what was used (nothing: failed, cached)
            self.services.spend.settle(access, self.holder.current, route.model if route is not None else None,
                                       record.usage)
        for observer in self.services.observers:
            observer.observe(record)
        log.info("request", extra={"turnout": record.to_log()})

    # ------------------------------------------------------------------ the other endpoints
    async def route(self, body: dict[str, Any], headers: Mapping[str, str], request_id: str = "") -> dict[str, Any]:
        """`POST /v1/route`: the decision alone (`gateway.route_api`)."""
        return await route_api.route(self, body, headers, request_id)

    async def embeddings(self, body: dict[str, Any], headers: Mapping[str, str], request_id: str) -> Answer:
        return await catalog.embeddings(self, body, headers, request_id)

    async def models(self, headers: Mapping[str, str]) -> dict[str, Any]:
        return await catalog.models(self.holder.current, headers)

    async def model(self, headers: Mapping[str, str], name: str) -> dict[str, Any]:
        return await catalog.model(self.holder.current, headers, name)

    async def readiness(self) -> dict[str, dict[str, Any]]:
        return await catalog.readiness(self.services, self.holder.current)


def _attempts_ms(route: RouteRecord | None) -> float:
    return sum(a.latency_ms for a in route.attempts) if route is not None else 0.0

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from embedding import RequestEmbedding, embed_request
from gateway import schemas
from gateway.access import Access, admit, authenticate
from gateway.auth.principal import Principal
from gateway.cache.directives import parse_cache_control
from gateway.cache.keys import CacheRequest
from gateway.decide import decide, estimate_tokens, model_tier
from gateway.readiness import readiness_checks, redis_check
from gateway.record import RequestRecord, attempts_ms, note_decision, note_route
from gateway.reload import PolicyHolder
from gateway.runtime import Runtime, Services
from registry import Tier
from router.errors import PayloadTooLarge, RequestError, TurnoutError, UpstreamUnavailable
from router.record import RouteRecord
from router.select import pinned
from router.sse import SSE_DONE, sse_error_event
from router.streaming import ChunkStream

if TYPE_CHECKING:
    from gateway.cache import CacheLookup

log = logging.getLogger("turnout.requests")
ROUTE_MAX_TOKENS = 16384
Judge = Callable[[Mapping[str, Any]], None]
"""Judges a whole answer of the cheaper model against the stronger one's, off the response path."""


@dataclass(slots=True)
class Answer:
    """A non-streaming JSON body or an SSE byte stream, plus response headers."""

    body: dict[str, Any] | None = None
    stream: AsyncGenerator[bytes, None] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _event(chunk: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class GatewayService:
    def __init__(self, services: Services, holder: PolicyHolder) -> None:
        self.services = services
        self.holder = holder

    # ------------------------------------------------------------------ chat completions
    async def chat(self, body: dict[str, Any], headers: Mapping[str, str], request_id: str) -> Answer:
        runtime = self.holder.current  # pinned for the whole request, whatever reloads meanwhile
        started = time.perf_counter()
        record = RequestRecord(request_id=request_id, endpoint="chat", route="unknown",
                               policy_version=runtime.version)
        route: RouteRecord | None = None
        access: Access | None = None
        if self.services.tracing is not None:
            record.trace = self.services.tracing.begin(headers, body)
        try:
            name = schemas.validate_chat(body)
            if name in runtime.specs or name in runtime.policy.router.aliases:
                record.route = name
            record.stream = bool(body.get("stream"))
            principal = await authenticate(runtime.tenancy, headers)
            record.tenant = principal.tenant
            access, lookup, embedding = await self._admit(record, runtime, principal, name, body, headers)
            if lookup is not None and lookup.hit:
                if may_serve_cached(runtime, access, lookup.response):
                    return self._cached(lookup, record, access, started, request_id)
                lookup = dataclasses.replace(lookup, status="miss", response=None, similarity=None)
                record.cache, record.cache_similarity = "miss", None
            decision, record.classifier_ms = await decide(
                self.services, runtime, name, body, headers, tier_cap=access.max_tier,
                allows=principal.allows_model if principal.allowed_models is not None else None, embedding=embedding)
            note_decision(record, decision)
            route = RouteRecord(decision)
            if record.trace is not None:
                route.trace_headers = record.trace.outbound
            called = time.perf_counter()
            if record.stream:
                stream = await runtime.executor.stream(decision, body, route,
                                                       prompt_tokens=estimate_tokens(body["messages"]))
                judge = self._learn(request_id, record.tenant, route.model, runtime, body)
                return Answer(stream=self._relay(stream, record, route, access, lookup, started, called, runtime,
                                                 judge),
                              headers=self._headers(route, request_id, access, lookup))
            result = await self._complete_once(runtime, body, route, access, lookup, record)
        except TurnoutError as exc:
            record.status, record.error_class = exc.status, type(exc).__name__
            self._finish(record, route, access, started, upstream_ms=attempts_ms(route))
            raise
        except asyncio.CancelledError:  # the client hung up: no more attempts, nothing stored
            record.status, record.error_class = 499, "ClientGone"
            self._finish(record, route, access, started, upstream_ms=attempts_ms(route))
            raise
        result["model"] = result.get("model") if record.cache == "hit-exact" else route.model
        judge = self._learn(request_id, record.tenant, route.model, runtime, body)
        if judge is not None:
            judge(result)
        if record.trace is not None:
            record.trace.answered(result)
        # metrics, spend and the decision log right after the answer is written, off its latency
        asyncio.get_running_loop().call_soon(self._finish, record, route, access, started,
                                             (time.perf_counter() - called) * 1000)
        return Answer(body=result, headers=self._headers(route, request_id, access, lookup))

    async def _admit(self, record: RequestRecord, runtime: Runtime, principal: Principal, name: str,
                     body: dict[str, Any], headers: Mapping[str, str]
                     ) -> tuple[Access, CacheLookup | None, RequestEmbedding | None]:
        """Limits and input guardrails, the request embedding, and the cache lookup: at once when nothing
        may rewrite the prompt."""
        admitting = admit(runtime.tenancy, principal, name, body, estimate_tokens(body["messages"]),
                          alias=name in runtime.policy.router.aliases, specs=runtime.specs)
        if runtime.tenancy.guardrails.for_request(tenant=principal.tenant, route=name) is None:
            embedding = self._embedding(runtime, name, body)
            # side by side: both Redis commands leave in one pipeline (`CommandBatch`)
            looking = asyncio.get_running_loop().create_task(
                self._lookup(record, runtime, principal, name, body, headers, embedding))
            try:
                access = await admitting
            except BaseException:
                looking.cancel()
                raise
            return access, await looking, embedding
        access = await admitting  # input guardrails may redact the prompt: embed and look up what would be sent
        embedding = self._embedding(runtime, name, body)
        return access, await self._lookup(record, runtime, principal, name, body, headers, embedding), embedding

    def _embedding(self, runtime: Runtime, name: str, body: Mapping[str, Any]) -> RequestEmbedding | None:
        """The request embedding, once, when the router or the semantic cache will use it."""
        embedder = self.services.embedder
        if embedder is None:
            return None
        cache = runtime.cache
        if name in runtime.policy.router.aliases or (
                cache is not None and cache.policy.semantic.route_threshold(name) is not None):
            return embed_request(embedder, body["messages"])
        return None

    async def _lookup(self, record: RequestRecord, runtime: Runtime, principal: Principal, name: str,
                      body: dict[str, Any], headers: Mapping[str, str],
                      embedding: RequestEmbedding | None) -> CacheLookup | None:
        cache = runtime.cache
        if cache is None:
            return None
        threshold = _float(headers.get("x-turnout-cache-threshold"))
        lookup = await cache.lookup(CacheRequest(principal.tenant, name, body,
                                                 parse_cache_control(headers.get("cache-control")), threshold,
                                                 embedding))
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
        record.model = lookup.response.get("model")
        headers = {**access.headers, "x-request-id": request_id, "x-turnout-cache": lookup.header(),
                   "x-turnout-attempts": "0", "x-turnout-policy-version": record.policy_version}
        if record.model:
            headers["x-turnout-model"] = record.model
        self._finish(record, None, access, started, upstream_ms=0.0)
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
            return await self._complete(runtime, body, route, access)
        async with cache.single_flight(lookup) as flight:
            if flight.hit and flight.response is not None and may_serve_cached(runtime, access, flight.response):
                record.cache = "hit-exact"
                return dict(flight.response)
            result = await self._complete(runtime, body, route, access)
            result["model"] = route.model  # the policy's id: what a later hit is permitted by
            await cache.store(flight, result)
            return result

    async def _complete(self, runtime: Runtime, body: dict[str, Any], route: RouteRecord,
                        access: Access) -> dict[str, Any]:
        """A plain answer, through the output guardrails; a JSON answer that misses its schema is
        asked for once more with a corrective message."""
        result = await runtime.executor.complete(route.decision, body, route)
        guards = access.guards
        if guards is None:
            return result
        await guards.check_body(result)
        response_format = body.get("response_format")
        text = _text(result)
        verdict = guards.check_structured(text, response_format) if response_format and text is not None else None
        if verdict is None:
            return result
        retry = {**body, "messages": [*body["messages"], {"role": "assistant", "content": text},
                                      verdict.corrective_message()]}
        result = await runtime.executor.complete(route.decision, retry, route)
        await guards.check_body(result)
        text = _text(result)
        if text is None or guards.check_structured(text, response_format) is not None:
            raise verdict.error()
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
                yield _event(chunk)
            yield SSE_DONE
            if kept is not None:
                await self._after_stream(runtime, lookup if storing else None, kept, judge)
        except TurnoutError as exc:
            record.status, record.error_class = 502, type(exc).__name__
            log.warning("stream from %s failed after the first byte: %s", model, exc.code)
            yield sse_error_event(exc)
        finally:
            await stream.aclose()
            self._finish(record, route, access, started, upstream_ms=(time.perf_counter() - called) * 1000)

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

    def _learn(self, request_id: str, tenant: str | None, model: str | None, runtime: Runtime,
               body: Mapping[str, Any]) -> Judge | None:
        """What feedback about this request will need, kept when its alias learns. Returns what may judge
        the whole answer against the stronger model's (off the response path) when its alias samples
        shadows and the cheaper model served it; else None."""
        learning = self.services.learning
        if learning is None:
            return None
        context = learning.remember(request_id, tenant or "", model)
        if context is None or not learning.may_shadow(runtime, context):
            return None
        return functools.partial(learning.shadow, runtime, context, body)

    def _headers(self, route: RouteRecord, request_id: str, access: Access | None = None,
                 lookup: CacheLookup | None = None) -> dict[str, str]:
        extra = access.headers if access is not None else {}
        headers = {**route.headers(), **extra, "x-request-id": request_id}
        if lookup is not None:
            headers["x-turnout-cache"] = lookup.header()
        return headers

    def _finish(self, record: RequestRecord, route: RouteRecord | None, access: Access | None, started: float,
                upstream_ms: float) -> None:
        record.latency_ms = (time.perf_counter() - started) * 1000
        record.upstream_ms = min(upstream_ms, record.latency_ms)
        if route is not None:
            note_route(record, route)
        if access is not None:  # what was reserved is replaced by what was used (nothing: failed, cached)
            model = route.model if route is not None else None
            self.services.spend.settle(access, self.holder.current, model, route.usage if route is not None else {})
        for observer in self.services.observers:
            observer.observe(record)
        payload: dict[str, Any] = route.to_log() if route is not None else {"alias": record.route}
        payload.update(request_id=record.request_id, tenant=record.tenant, status=record.status,
                       error=record.error_class, stream=record.stream, cache=record.cache,
                       tokens_in=record.tokens_in, tokens_out=record.tokens_out,
                       latency_ms=round(record.latency_ms, 2), overhead_ms=round(record.overhead_ms, 3),
                       classifier_ms=record.classifier_ms)
        log.info("request", extra={"turnout": payload})

    # ------------------------------------------------------------------ the decision alone
    async def route(self, body: dict[str, Any], headers: Mapping[str, str], request_id: str = "") -> dict[str, Any]:
        """The decision alone: rate-limited like chat (one request, no tokens), and only for prompts
        up to `ROUTE_MAX_TOKENS` (classifying costs CPU in proportion to the text)."""
        runtime = self.holder.current
        name = schemas.validate_chat(body)
        principal = await authenticate(runtime.tenancy, headers)
        principal.check_route(name, alias=name in runtime.policy.router.aliases)
        if estimate_tokens(body["messages"]) > ROUTE_MAX_TOKENS:
            raise PayloadTooLarge(f"messages: the route API classifies prompts of up to about {ROUTE_MAX_TOKENS} "
                                  f"tokens; send longer ones to /v1/chat/completions")
        if runtime.tenancy.limits is not None:
            await runtime.tenancy.limits.admit(principal, tokens=0)
        embedding = self._embedding(runtime, name, body)
        decision, _ = await decide(self.services, runtime, name, body, headers, tier_cap=principal.max_tier,
                                   allows=principal.allows_model if principal.allowed_models is not None else None,
                                   embedding=embedding)
        answer = decision.to_dict()
        explainer = self.services.explainer
        if explainer is not None and not decision.pinned:  # why: score, length prior, nearest training prompts
            # the first call embeds the training prompts (about a second): never on the event loop
            why = await asyncio.to_thread(explainer.explain, body["messages"], embedding=embedding)
            answer["why"] = why.to_dict()
        if self.services.learning is not None and request_id:  # a client that calls the model itself can rate it
            answer.update(request_id=request_id, learned=self.services.learning.explain())
            self._learn(request_id, principal.tenant, decision.chain[0] if decision.chain else None, runtime, body)
        return answer

    # ------------------------------------------------------------------ embeddings
    async def embeddings(self, body: dict[str, Any], headers: Mapping[str, str], request_id: str) -> Answer:
        runtime = self.holder.current
        name = schemas.validate_embeddings(body)
        principal = await authenticate(runtime.tenancy, headers)
        principal.check_route(name, alias=name in runtime.policy.router.aliases)
        alias = runtime.policy.router.aliases.get(name)
        if alias is not None:  # an alias serves embeddings from the first embeddings model it routes to
            name = next((m for chain in alias.tiers.values() for m in chain
                         if runtime.specs[m].capabilities.embeddings), name)
        spec = runtime.specs.get(name)
        if spec is None:
            from router.errors import ModelNotFound

            raise ModelNotFound(f"model {name!r} does not exist; GET /v1/models lists the models", param="model")
        if not spec.capabilities.embeddings:
            raise RequestError(f"model {name!r} does not serve embeddings", param="model")
        state = runtime.registry.get(name)
        if state is not None and not state.available:
            raise UpstreamUnavailable(f"model {name!r} is unavailable: {state.unavailable_reason}")
        route = RouteRecord(pinned(runtime.policy.router, name, policy_version=runtime.version))
        admission = None
        if runtime.tenancy.limits is not None:
            admission = await runtime.tenancy.limits.admit(principal, tokens=0)
        result = await runtime.executor.complete(route.decision, body, route, kind="embeddings")
        result["model"] = name
        access = Access(principal=principal, admission=admission, headers=admission.headers if admission else {})
        self.services.spend.settle(access, runtime, name, route.usage)
        return Answer(body=result, headers=self._headers(route, request_id, access))

    # ------------------------------------------------------------------ models, readiness
    async def models(self, headers: Mapping[str, str]) -> dict[str, Any]:
        runtime = self.holder.current
        principal = await authenticate(runtime.tenancy, headers)
        available = set(runtime.registry.available_ids())
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "turnout-router"}
                for name in runtime.policy.router.aliases if principal.allows_alias(name)]
        data += [{"id": s.id, "object": "model", "created": 0, "owned_by": s.provider}
                 for s in runtime.policy.models if s.id in available and principal.allows_model(s.id)]
        return {"object": "list", "data": data}

    async def readiness(self) -> dict[str, dict[str, Any]]:
        runtime = self.holder.current
        checks = readiness_checks(runtime)
        if self.services.redis is not None:
            checks["redis"] = await redis_check(self.services.redis)
        return checks


def may_serve_cached(runtime: Runtime, access: Access, response: Mapping[str, Any] | None) -> bool:
    """A cached answer is served only to a key that could have called the model that produced it:
    within its `allowed_models` and its tier cap (its `max_tier`, or a spent budget's downgrade)."""
    model = response.get("model") if response is not None else None
    principal = access.principal
    if not isinstance(model, str) or model not in runtime.specs:  # unknown origin: unrestricted keys only
        return principal.allowed_models is None and access.max_tier >= Tier.COMPLEX
    return principal.allows_model(model) and model_tier(runtime, model) <= access.max_tier


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        raise RequestError("x-turnout-cache-threshold: must be a number", param="x-turnout-cache-threshold") from None


def _text(result: Mapping[str, Any]) -> str | None:
    choices = result.get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else None

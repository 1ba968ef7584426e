"""Chain execution: walk a `Decision`'s chain through an `Upstream` until one model answers.

    for each model in the chain (within the decision's overall deadline):
        skip it (recorded) when its breaker refuses or it is at max_concurrency (no waiting)
        call it under its breaker and a per-attempt timeout (`total`; streams: `first_token`)
        retryable error (5xx, timeout, 429): retry the same model, exponential backoff + jitter,
            never sooner than `Retry-After`; a `Retry-After` over `max_retry_after_s`, or a wait
            past the deadline, moves on to the next model instead
        suspect error (an upstream 500, an untranslatable request): as any upstream error, but its
            breaker counts it only after the walk, unless every model called failed the same way
        caller error (RequestError): raised as is, no retry, no fallback, except
            ContextWindowExceeded -> the next models with a larger window only
            ContentPolicyViolation -> the policy's content-policy fallback model, once
        other upstream error: next model
    all failed -> AllAttemptsFailed (429 if every attempt was rate limited, else 502/503/504)

Every attempt goes into the caller's `RouteRecord`; the live registry state (in-flight, latency,
errors, TTFT, tokens) is updated as calls start and finish. Cancellation (client gone, deadline)
neither counts against a model's breaker nor its error rate.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeVar

from registry import ModelSpec, Registry
from router.backoff import backoff_delay
from router.breakers import Breakers
from router.errors import (
    AllAttemptsFailed,
    AtCapacity,
    CircuitOpen,
    ContentPolicyViolation,
    ContextWindowExceeded,
    DeadlineExceeded,
    RateLimited,
    RequestError,
    TurnoutError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from router.record import RouteRecord
from router.select import Decision
from router.streaming import ChunkStream, Opened, StreamContext, open_first
from router.upstream.base import Upstream, UpstreamRequest
from router.usage import answer_chars, charged_usage

T = TypeVar("T")
CallFn = Callable[[ModelSpec, float], Awaitable[T]]


def well_formed(body: Mapping[str, Any], kind: Literal["chat", "embeddings"]) -> bool:
    """An answer a client can use: chat has a non-empty list of choices, each with a message object;
    embeddings a list of data. Anything else is the upstream's failure (fallback), not a success."""
    if kind == "embeddings":
        return isinstance(body.get("data"), list)
    choices = body.get("choices")
    return (isinstance(choices, list) and bool(choices)
            and all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices))


def _same_everywhere(record: RouteRecord) -> bool:
    """Two or more models were called and every call failed with the same error and status."""
    calls = [a for a in record.attempts if a.outcome != "skipped"]
    return (len({a.model for a in calls}) >= 2 and all(a.outcome == "error" for a in calls)
            and len({(a.error, a.status) for a in calls}) == 1)


class Executor:
    """Calls down a chain. Build one per policy load (it reads that load's registry); share the
    `Upstream` and `Breakers` across loads so breaker state survives a reload."""

    def __init__(self, *, upstream: Upstream, registry: Registry, breakers: Breakers,
                 api_keys: Mapping[str, str] | None = None, rng: random.Random | None = None) -> None:
        self._upstream = upstream
        self._registry = registry
        self._breakers = breakers
        self._api_keys = dict(api_keys or {})
        self._rng = rng or random.Random()

    def _request(self, spec: ModelSpec, body: dict[str, Any], kind: Literal["chat", "embeddings"],
                 stream: bool, timeout: float, headers: Mapping[str, str] | None = None) -> UpstreamRequest:
        return UpstreamRequest(spec=spec, body=body, kind=kind, stream=stream, timeout=timeout,
                               api_key=self._api_keys.get(spec.id), headers=headers)

    def _window(self, model: str) -> int:
        state = self._registry.get(model)
        return state.spec.context_window if state is not None else 0

    async def complete(self, decision: Decision, body: dict[str, Any], record: RouteRecord, *,
                       kind: Literal["chat", "embeddings"] = "chat") -> dict[str, Any]:
        """A plain (non-streaming) request: the OpenAI response body of the first model that answers."""

        async def attempt(spec: ModelSpec, budget_s: float) -> dict[str, Any]:
            response = await self._upstream.send(self._request(spec, body, kind, False, budget_s,
                                                               record.trace_headers))
            if response.body is None or not well_formed(response.body, kind):
                raise UpstreamError(f"model {spec.id!r} returned no valid answer", code="upstream_invalid_response")
            return response.body

        result, spec, latency_ms = await self._walk(decision, record, attempt, stream=False)
        record.usage = usage = charged_usage(result.get("usage"), prompt_estimate=record.prompt_estimate,
                                             output_chars=answer_chars(result) if kind == "chat" else 0)
        completion = usage["completion_tokens"]
        state = self._registry.get(spec.id)
        if state is not None:
            state.record(latency_ms=latency_ms, ok=True, completion_tokens=completion)
        record.cost_usd = spec.price.cost(usage["prompt_tokens"], completion)
        return result

    async def stream(self, decision: Decision, body: dict[str, Any], record: RouteRecord, *,
                     prompt_tokens: int = 0) -> ChunkStream:
        """A streaming request: returns once a model has produced its first content chunk.

        Iterate the result to relay chunks (the first ones are already buffered); a failure after
        that is raised from the iterator (see `gateway.sse`). Always `aclose()` it if you stop early.
        """

        options = body.get("stream_options")
        client_usage = isinstance(options, dict) and options.get("include_usage") is True
        # every stream is metered: ask for usage; the client sees the usage chunk only if it asked
        upstream_body = {**body, "stream": True,
                         "stream_options": {**(options if isinstance(options, dict) else {}), "include_usage": True}}

        async def attempt(spec: ModelSpec, budget_s: float) -> Opened:
            started = time.monotonic()
            response = await self._upstream.send(self._request(spec, upstream_body, "chat", True, budget_s,
                                                               record.trace_headers))
            if response.stream is None:
                raise UpstreamError(f"model {spec.id!r} returned no stream")
            return await open_first(response.stream, started, spec.id)

        opened, spec, _ = await self._walk(decision, record, attempt, stream=True)
        record.ttft_ms = opened.ttft_ms
        ctx = StreamContext(model=spec.id, state=self._registry.get(spec.id), breaker=self._breakers.get(spec.id),
                            record=record, idle_timeout=spec.timeouts.idle,
                            started=time.monotonic() - opened.ttft_ms / 1000, price_cost=spec.price.cost,
                            prompt_tokens=prompt_tokens, client_usage=client_usage)
        return ChunkStream(opened, ctx)

    async def _walk(self, decision: Decision, record: RouteRecord, attempt: CallFn[T], *,
                    stream: bool) -> tuple[T, ModelSpec, float]:
        suspects: list[tuple[str, UpstreamError]] = []
        try:
            result = await self._chain(decision, record, attempt, stream, suspects)
        except AllAttemptsFailed:
            self._count_suspects(suspects, client_fault=_same_everywhere(record))
            raise
        except RequestError:
            self._count_suspects(suspects, client_fault=True)
            raise
        self._count_suspects(suspects, client_fault=False)
        return result

    def _count_suspects(self, suspects: list[tuple[str, UpstreamError]], *, client_fault: bool) -> None:
        """Deferred breaker failures: counted, unless the request failed the same way everywhere."""
        if not client_fault:
            for model, exc in suspects:
                self._breakers.get(model).record_failure(exc)

    async def _chain(self, decision: Decision, record: RouteRecord, attempt: CallFn[T], stream: bool,
                     suspects: list[tuple[str, UpstreamError]]) -> tuple[T, ModelSpec, float]:
        deadline = time.monotonic() + decision.deadline_s
        errors: list[TurnoutError] = []
        queue = list(decision.chain)
        content_fallback_used = False
        i = 0
        while i < len(queue):
            model = queue[i]
            i += 1
            try:
                return await self._try_model(model, decision, record, deadline, errors, attempt, stream, suspects)
            except ContextWindowExceeded:
                window = self._registry.spec(model).context_window
                larger = [m for m in queue[i:] if self._window(m) > window]
                if not decision.context_window_fallback or not larger:
                    raise
                queue[i:] = larger
            except ContentPolicyViolation:
                fallback = decision.content_policy_fallback
                if content_fallback_used or fallback is None or fallback in queue[:i] or fallback not in self._registry:
                    raise
                content_fallback_used = True
                queue[i:] = [fallback]
            except DeadlineExceeded:
                break
            except RequestError:
                raise
            except TurnoutError:
                continue
        calls = sum(1 for a in record.attempts if a.outcome != "skipped")
        raise AllAttemptsFailed(f"all models failed ({calls} calls): {record.summary()}", errors=errors)

    async def _try_model(self, model: str, decision: Decision, record: RouteRecord, deadline: float,
                         errors: list[TurnoutError], attempt: CallFn[T], stream: bool,
                         suspects: list[tuple[str, UpstreamError]]) -> tuple[T, ModelSpec, float]:
        """Call one model, retrying it per the decision's retry policy; raise its last error."""
        state = self._registry.get(model)
        if state is None:  # a decision made under another policy load than this executor's
            gone = UpstreamUnavailable(f"model {model!r} is not in the current registry")
            errors.append(gone)
            record.add(model, "skipped", 0.0, error=gone)
            raise gone
        spec = state.spec
        retry = decision.retry
        for n in range(retry.max_attempts_per_model):
            started = time.monotonic()
            if started >= deadline:
                exc = DeadlineExceeded(f"the request deadline of {decision.deadline_s:g}s ran out")
                errors.append(exc)
                raise exc
            try:
                result = await self._call_once(spec, deadline - started, decision, attempt, stream)
                record.add(model, "ok", (time.monotonic() - started) * 1000, retry=n,
                           ttft_ms=getattr(result, "ttft_ms", None))
                record.model = model
                return result, spec, (time.monotonic() - started) * 1000
            except TurnoutError as exc:
                errors.append(exc)
                if isinstance(exc, UpstreamError) and exc.suspect:
                    suspects.append((model, exc))
                skipped = isinstance(exc, CircuitOpen | AtCapacity)
                record.add(model, "skipped" if skipped else "error", (time.monotonic() - started) * 1000,
                           error=exc, retry=n)
                if not exc.retryable or n + 1 >= retry.max_attempts_per_model:
                    raise
                after = exc.retry_after if isinstance(exc, RateLimited) else None
                if after is not None and after > retry.max_retry_after_s:
                    raise
                delay = backoff_delay(retry, n + 1, self._rng, after)
                if time.monotonic() + delay >= deadline:
                    raise
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the retry loop always returns or raises")

    async def _call_once(self, spec: ModelSpec, remaining: float, decision: Decision, attempt: CallFn[T],
                         stream: bool) -> T:
        state = self._registry.get(spec.id)
        if state is not None and state.in_flight >= spec.max_concurrency:
            raise AtCapacity(f"model {spec.id!r} is at its max concurrency ({spec.max_concurrency})")
        per_attempt = spec.timeouts.first_token if stream else spec.timeouts.total
        if state is not None:
            state.in_flight += 1
        started = time.monotonic()
        ok = False
        try:
            # The deadline is outside the breaker: a deadline cut cancels the call, which the
            # breaker ignores. The per-attempt timeout is inside: a slow model counts as failing.
            async with asyncio.timeout(remaining):
                with self._breakers.get(spec.id).calling():
                    try:
                        async with asyncio.timeout(per_attempt):
                            result = await attempt(spec, min(per_attempt, remaining))
                    except TimeoutError:
                        raise UpstreamTimeout(f"model {spec.id!r} did not answer within {per_attempt:g}s") from None
            ok = True
            return result
        except TimeoutError:
            raise DeadlineExceeded(f"the request deadline of {decision.deadline_s:g}s ran out") from None
        except (RequestError, CircuitOpen):
            raise
        except TurnoutError:
            if state is not None:
                state.record(latency_ms=(time.monotonic() - started) * 1000, ok=False)
            raise
        finally:
            # a successful stream keeps its slot until `relay` ends
            if state is not None and not (ok and stream):
                state.in_flight -= 1

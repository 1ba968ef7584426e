"""Step 3 and 4 of the request path: classify the prompt, then choose the model chain.

Used by chat completions and by `POST /v1/route` (the decision without a call).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from embedding import RequestEmbedding
from gateway.access import Access
from gateway.errors import PermissionDenied
from gateway.request import ChatRequest
from gateway.runtime import PromptClassifier, Runtime, Services
from gateway.semantic_routes import route_for
from registry import Tier
from router.errors import ModelNotFound, RequestError
from router.features import RequestFeatures, Signals, features_from_body
from router.select import Decision, pinned, select
from router.upstream.base import TokenCounter

# Count exactly with the model's tokenizer only when the estimate comes this close to a window.
_EXACT_BELOW = 0.6


def _exact_counts(counter: TokenCounter, runtime: Runtime, models: list[str], messages: Any) -> dict[str, int]:
    return {m: counter.count(runtime.specs[m], messages) for m in models}


async def features_for(counter: TokenCounter, runtime: Runtime, body: Mapping[str, Any], chain_models: list[str],
                       estimate: int) -> RequestFeatures:
    """The request's routing features; `estimate` is its prompt's estimated tokens (counted once, by
    the caller). Models whose window the estimate comes near are counted exactly (`counter`)."""
    messages = body["messages"]
    near = [m for m in chain_models if m in runtime.specs
            and estimate >= _EXACT_BELOW * runtime.specs[m].context_window]
    exact = await asyncio.to_thread(_exact_counts, counter, runtime, near, messages) if near else {}
    features = features_from_body(body, prompt_tokens=estimate)
    if exact:
        features = dataclasses.replace(features, prompt_tokens_by_model=exact)
    return features


def classify(classifier: PromptClassifier | None, margin: float, body: Mapping[str, Any],
             embedding: RequestEmbedding | None = None) -> tuple[Signals, float]:
    """The classifier's verdict as routing signals, and the time it took (ms)."""
    if classifier is None:
        return Signals(tier=Tier.MODERATE, score=0.5, task="chat", uncertain=True), 0.0
    started = time.perf_counter()
    c = classifier.classify(body["messages"], tools=body.get("tools"),
                            response_format=body.get("response_format"), uncertainty_margin=margin,
                            embedding=embedding)
    elapsed = (time.perf_counter() - started) * 1000
    return Signals(tier=Tier(int(c.tier)), score=float(c.score), task=str(c.task), uncertain=bool(c.uncertain),
                   probabilities=tuple(c.probabilities)), elapsed


def model_tier(runtime: Runtime, model: str) -> Tier:
    """The lowest tier any alias routes to `model` (the default model counts as tier 1); a model no
    alias names is tier 3, so a key capped below it cannot reach it by its id."""
    tiers = [tier for alias in runtime.policy.router.aliases.values() for tier, chain in alias.tiers.items()
             if model in chain]
    if model == runtime.policy.router.default_model:
        tiers.append(Tier.SIMPLE)
    return min(tiers, default=Tier.COMPLEX)


async def decide(services: Services, runtime: Runtime, request: ChatRequest, *, tier_cap: Tier | None = None,
                 allows: Callable[[str], bool] | None = None,
                 embedding: RequestEmbedding | None = None) -> tuple[Decision, float | None]:
    """The routing decision for a parsed chat request, and the classifier's time (ms, aliases only).

    `tier_cap` and `allows` are the caller's limits (its key's max tier or a spent budget; the models
    its key may use); `embedding` is the request's, computed once by the caller."""
    policy, name, body = runtime.policy, request.model, request.body
    spec = runtime.specs.get(name)
    if spec is not None:
        if not spec.capabilities.chat:
            raise RequestError(f"model {name!r} is an embeddings model", param="model")
        state = runtime.registry.get(name)
        if state is not None and not state.available:
            from router.errors import UpstreamUnavailable

            raise UpstreamUnavailable(f"model {name!r} is unavailable: {state.unavailable_reason}")
        if tier_cap is not None and model_tier(runtime, name) > tier_cap:
            raise PermissionDenied(f"model {name!r} serves tier {int(model_tier(runtime, name))}; this key is "
                                   f"limited to tier {int(tier_cap)} (its max tier, or a spent budget)", param="model")
        return pinned(policy.router, name, policy_version=runtime.version), None
    alias = policy.router.aliases.get(name)
    if alias is None:
        raise ModelNotFound(f"model {name!r} does not exist; GET /v1/models lists the models and aliases",
                            param="model")
    classifier, _ = runtime.scorer(services)
    signals, classifier_ms = classify(classifier, alias.escalation.uncertainty_margin, body, embedding)
    route = route_for(runtime.routes, name, embedding, request.messages, services.embedder) if alias.routes else None
    routed = alias.route_policies[route.route] if route is not None and route.route is not None else alias
    chain_models = sorted({m for chain in routed.tiers.values() for m in chain} | {policy.router.default_model})
    if services.learning is not None:  # the cold-start score blended with outcomes of similar prompts
        signals = services.learning.adjust(name, routed, signals, embedding)
    features = await features_for(services.tokens, runtime, body, chain_models, request.prompt_tokens)
    decision = select(policy.router, name, signals, features, runtime.registry.snapshot(), runtime.specs,
                      request.hints,
                      policy_version=runtime.version, breakers=services.breakers.states(), tier_cap=tier_cap,
                      route=route)
    if allows is not None:
        chain = tuple(m for m in decision.chain if allows(m))
        if not chain:
            raise PermissionDenied(f"this API key may use none of the models that {name!r} routes to",
                                   param="model")
        decision = dataclasses.replace(decision, chain=chain)
    return decision, classifier_ms


def may_serve_cached(runtime: Runtime, access: Access, response: Mapping[str, Any] | None) -> bool:
    """A cached answer is served only to a key that could have called the model that produced it:
    within its `allowed_models` and its tier cap (its `max_tier`, or a spent budget's downgrade)."""
    model = response.get("model") if response is not None else None
    principal = access.principal
    if not isinstance(model, str) or model not in runtime.specs:  # unknown origin: unrestricted keys only
        return principal.allowed_models is None and access.max_tier >= Tier.COMPLEX
    return principal.allows_model(model) and model_tier(runtime, model) <= access.max_tier

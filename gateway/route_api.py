"""`POST /v1/route`: the routing decision for a chat request, without calling a model."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.access import authenticate
from gateway.decide import decide
from gateway.errors import PayloadTooLarge
from gateway.request import ChatRequest

if TYPE_CHECKING:
    from gateway.service import GatewayService

ROUTE_MAX_TOKENS = 16384


async def route(service: GatewayService, body: dict[str, Any], headers: Mapping[str, str],
                request_id: str = "") -> dict[str, Any]:
    """The decision alone: rate-limited like chat (one request, no tokens), and only for prompts
    up to `ROUTE_MAX_TOKENS` (classifying costs CPU in proportion to the text)."""
    runtime, services = service.holder.current, service.services
    request = ChatRequest.parse(body, headers)
    name = request.model
    principal = await authenticate(runtime.tenancy, headers)
    principal.check_route(name, alias=name in runtime.policy.router.aliases)
    if request.prompt_tokens > ROUTE_MAX_TOKENS:
        raise PayloadTooLarge(f"messages: the route API classifies prompts of up to about {ROUTE_MAX_TOKENS} "
                              f"tokens; send longer ones to /v1/chat/completions")
    if runtime.tenancy.limits is not None:
        await runtime.tenancy.limits.admit(principal, tokens=0)
    embedding = service.embedding_for(runtime, request)
    decision, _ = await decide(services, runtime, request, tier_cap=principal.max_tier,
                               allows=principal.allows_model if principal.allowed_models is not None else None,
                               embedding=embedding)
    answer = decision.to_dict()
    _, explainer = runtime.scorer(services)
    if explainer is not None and not decision.pinned:  # why: score, length prior, nearest training prompts
        # the first call embeds the training prompts (about a second): never on the event loop
        why = await asyncio.to_thread(explainer.explain, request.messages, embedding=embedding)
        answer["why"] = why.to_dict()
    if services.learning is not None and request_id:  # a client that calls the model itself can rate it
        answer.update(request_id=request_id, learned=services.learning.explain())
        service.remember(request_id, principal.tenant, decision.chain[0] if decision.chain else None)
    return answer

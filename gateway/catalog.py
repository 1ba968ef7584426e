"""The model catalog: `GET /v1/models`, `POST /v1/embeddings` (a model of the policy, by id or
alias) and the readiness checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway import schemas
from gateway.access import Access, authenticate
from gateway.answer import Answer
from gateway.readiness import readiness_checks, redis_check
from router.errors import ModelNotFound, RequestError, UpstreamUnavailable
from router.record import RouteRecord
from router.select import pinned

if TYPE_CHECKING:
    from gateway.runtime import Runtime, Services
    from gateway.service import GatewayService


async def embeddings(service: GatewayService, body: dict[str, Any], headers: Mapping[str, str],
                     request_id: str) -> Answer:
    runtime = service.holder.current
    name = schemas.validate_embeddings(body)
    principal = await authenticate(runtime.tenancy, headers)
    principal.check_route(name, alias=name in runtime.policy.router.aliases)
    alias = runtime.policy.router.aliases.get(name)
    if alias is not None:  # an alias serves embeddings from the first embeddings model it routes to
        name = next((m for chain in alias.tiers.values() for m in chain
                     if runtime.specs[m].capabilities.embeddings), name)
    spec = runtime.specs.get(name)
    if spec is None:
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
    service.services.spend.settle(access, runtime, name, route.usage)
    return Answer(body=result, headers=service.headers_for(route, request_id, access))


async def models(runtime: Runtime, headers: Mapping[str, str]) -> dict[str, Any]:
    """`GET /v1/models`: the aliases and available models this key may call."""
    principal = await authenticate(runtime.tenancy, headers)
    available = set(runtime.registry.available_ids())
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "turnout-router"}
            for name in runtime.policy.router.aliases if principal.allows_alias(name)]
    data += [{"id": s.id, "object": "model", "created": 0, "owned_by": s.provider}
             for s in runtime.policy.models if s.id in available and principal.allows_model(s.id)]
    return {"object": "list", "data": data}


async def model(runtime: Runtime, headers: Mapping[str, str], name: str) -> dict[str, Any]:
    """`GET /v1/models/{name}`: one entry of that list; a name the key may not call, or that is not
    available, is not found, as OpenAI answers (its existence is not disclosed)."""
    for entry in (await models(runtime, headers))["data"]:
        if entry["id"] == name:
            return dict(entry)
    raise ModelNotFound(f"model {name!r} does not exist or this key may not call it; GET /v1/models lists "
                        "the models", param="model")


async def readiness(services: Services, runtime: Runtime) -> dict[str, dict[str, Any]]:
    checks = readiness_checks(runtime)
    if services.redis is not None:
        checks["redis"] = await redis_check(services.redis)
    return checks

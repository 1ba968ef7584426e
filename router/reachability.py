"""Static checks of the router policy against the declared models, for load and `turnout policy check`.

Undefined model ids are reported by the config loader; this module checks that what is defined can
actually serve: every tier of every alias reaches at least one chat model (its default included),
no chain names a model that can never be chosen for chat, and the fallbacks can chat. With the
ids of models found unavailable at start (missing key), it also warns about tiers left with none.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from registry import ModelSpec
from router.policy import RouterPolicy

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    path: Path
    """Path inside the `router` section."""
    message: str
    severity: Literal["error", "warning"] = "error"


def _chat(specs: Mapping[str, ModelSpec], model: str) -> bool:
    spec = specs.get(model)
    return spec is not None and spec.capabilities.chat


def check_reachability(policy: RouterPolicy, specs: Mapping[str, ModelSpec],
                       unavailable: Collection[str] = ()) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    for path, model in ((("default_model",), policy.default_model),
                        (("content_policy_fallback",), policy.content_policy_fallback)):
        if model is not None and model in specs and not _chat(specs, model):
            problems.append(PolicyProblem(path, f"{model!r} cannot serve chat (capabilities.chat is false)"))
    for name, alias in policy.aliases.items():
        tiers: list[tuple[Path, tuple[str, ...]]] = [(("aliases", name, "tiers", int(t)), c)
                                                     for t, c in alias.tiers.items()]
        for r, route in enumerate(alias.routes):
            base: Path = ("aliases", name, "routes", r)
            tiers += ([((*base, "chain"), route.chain)] if route.chain is not None else
                      [((*base, "tiers", int(t)), c) for t, c in (route.tiers or {}).items()])
        for tier_path, chain in tiers:
            for i, model in enumerate(chain):
                if model in specs and not _chat(specs, model):
                    problems.append(PolicyProblem((*tier_path, i), f"{model!r} cannot serve chat: never chosen"))
            reachable = [m for m in (*chain, policy.default_model) if _chat(specs, m)]
            if not reachable and all(m in specs for m in chain):
                problems.append(PolicyProblem(tier_path, "no model of this tier (nor the default) can serve chat"))
            elif reachable and all(m in unavailable for m in reachable):
                problems.append(PolicyProblem(
                    tier_path, "every model of this tier (and the default) is unavailable", "warning"))
            if alias.local_first and not any(m in specs and specs[m].is_local for m in chain):
                problems.append(PolicyProblem(tier_path, "local_first alias, but this tier has no local model",
                                              "warning"))
    return problems

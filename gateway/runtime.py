"""What a running gateway holds: the policy, the registry built from it, the upstream, the secrets.

Built once in the app's lifespan (`build_runtime`); nothing here is module-level.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.config import Policy, load_policy
from gateway.settings import Settings
from registry import ModelSpec, Registry
from router.upstream.base import Upstream

log = logging.getLogger("turnout.gateway")


@dataclass(slots=True)
class Runtime:
    settings: Settings
    policy: Policy
    registry: Registry
    upstream: Upstream
    api_keys: Mapping[str, str] = field(repr=False)
    """Model id -> key, resolved from the environment at load. Never logged."""

    def resolve(self, name: str) -> tuple[str, ModelSpec] | None:
        """A requested `model` -> (route name, model spec). Aliases map to their first model for now."""
        alias = self.policy.router.aliases.get(name)
        model_id = alias.first_model() if alias is not None else name
        state = self.registry.get(model_id)
        return (name, state.spec) if state is not None else None


def resolve_keys(policy: Policy, environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(keys by model id, reasons why models are unavailable). One clear log line per missing key."""
    keys: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for spec in policy.models:
        if spec.api_key_env is None:
            continue
        value = environ.get(spec.api_key_env, "")
        if value:
            keys[spec.id] = value
        else:
            reason = f"environment variable {spec.api_key_env} is not set"
            unavailable[spec.id] = reason
            log.warning("model %s is unavailable: %s; it is skipped", spec.id, reason)
    return keys, unavailable


def build_runtime(settings: Settings, upstream: Upstream, policy: Policy | None = None) -> Runtime:
    policy = policy or load_policy(settings.policy_path)
    keys, unavailable = resolve_keys(policy, settings.environ)
    registry = Registry(policy.models, unavailable)
    log.info("policy %s loaded from %s: %d models (%d available), aliases: %s", policy.version,
             settings.policy_path, len(policy.models), len(registry.available_ids()),
             ", ".join(policy.router.aliases) or "none")
    return Runtime(settings=settings, policy=policy, registry=registry, upstream=upstream, api_keys=keys)

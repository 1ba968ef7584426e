"""Who is calling: the tenant, the key, and what the key may do (a key's grant narrowed by its tenant's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.auth.policy import KeyGrant, TenantPolicy
from gateway.errors import PermissionDenied
from gateway.limits.policy import Limits
from registry import Tier


def _narrow(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> frozenset[str] | None:
    if a is None and b is None:
        return None
    if a is None or b is None:
        return frozenset(a if a is not None else b or ())
    return frozenset(a) & frozenset(b)


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    key_id: str
    max_tier: Tier = Tier.COMPLEX
    allowed_aliases: frozenset[str] | None = None
    """None: every alias."""
    allowed_models: frozenset[str] | None = None
    """None: every model."""
    key_limits: Limits = field(default_factory=Limits)
    tenant_limits: Limits = field(default_factory=Limits)
    anonymous: bool = False

    @classmethod
    def of(cls, key_id: str, grant: KeyGrant, tenant: TenantPolicy) -> Principal:
        return cls(tenant=grant.tenant, key_id=key_id, max_tier=min(grant.max_tier, tenant.max_tier),
                   allowed_aliases=_narrow(grant.allowed_aliases, tenant.allowed_aliases),
                   allowed_models=_narrow(grant.allowed_models, tenant.allowed_models),
                   key_limits=grant.limits, tenant_limits=tenant.limits)

    def allows_alias(self, name: str) -> bool:
        return self.allowed_aliases is None or name in self.allowed_aliases

    def allows_model(self, model_id: str) -> bool:
        return self.allowed_models is None or model_id in self.allowed_models

    def check_route(self, name: str, *, alias: bool) -> None:
        """Raise `PermissionDenied` (403) unless this key may call `name` (an alias or a model id)."""
        allowed = self.allows_alias(name) if alias else self.allows_model(name)
        if not allowed:
            kind = "alias" if alias else "model"
            raise PermissionDenied(f"this API key may not use the {kind} {name!r}", param="model")

    def cap_tier(self, tier: Tier) -> Tier:
        return min(tier, self.max_tier)

"""The `auth:` part of the policy: tenants, static virtual keys, where the master key and pepper live,
and the limits policy. Keys appear only as the name of an environment variable or a SHA-256 digest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.limits.policy import Limits, LimitsPolicy
from registry import Tier

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("must be 1-64 characters of letters, digits and ._- (starting with a letter or digit)")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class KeyGrant(_Frozen):
    """What one key may do. Omitted lists allow everything; an empty list allows nothing."""

    tenant: str
    allowed_aliases: tuple[str, ...] | None = Field(None, description="Router aliases this key may call.")
    allowed_models: tuple[str, ...] | None = Field(
        None, description="Model ids this key may call directly or be routed to.")
    max_tier: Tier = Field(Tier.COMPLEX, description="Requests are never routed above this tier.")
    limits: Limits = Limits()

    @field_validator("tenant")
    @classmethod
    def _tenant_name(cls, value: str) -> str:
        return check_name(value)


class StaticKey(KeyGrant):
    """A key declared in the policy, by the environment variable holding it or by its SHA-256 digest
    (`printf %s "$KEY" | sha256sum`)."""

    id: str
    key_env: str | None = None
    key_sha256: str | None = None

    @field_validator("id")
    @classmethod
    def _id_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV.match(value):
            raise ValueError("key_env names an environment variable (e.g. ACME_KEY), not a key")
        return value

    @field_validator("key_sha256")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _HEX.match(value):
            raise ValueError("key_sha256 must be 64 lowercase hex characters")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> StaticKey:
        if (self.key_env is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of key_env and key_sha256")
        return self


class TenantPolicy(_Frozen):
    """Limits and permissions shared by every key of a tenant (a key's own are applied as well)."""

    limits: Limits = Limits()
    allowed_aliases: tuple[str, ...] | None = None
    allowed_models: tuple[str, ...] | None = None
    max_tier: Tier = Tier.COMPLEX


class AuthPolicy(_Frozen):
    """No `keys` and no master key in the environment: open mode (no authentication)."""

    master_key_env: str = Field("TURNOUT_MASTER_KEY", description="Variable holding the admin master key.")
    pepper_env: str = Field("TURNOUT_KEY_PEPPER", description="Variable holding the pepper of stored key digests.")
    redis_prefix: str = Field("turnout", description="Prefix of every key, limit and spend entry in Redis.")
    cache_ttl_seconds: float = Field(
        0.5, gt=0, le=1.0, description="How long a replica trusts its cached view of a Redis key (revocation delay).")
    tenants: dict[str, TenantPolicy] = {}
    keys: tuple[StaticKey, ...] = ()
    open_limits: Limits = Field(Limits(), description="Limits of the anonymous caller in open mode.")
    limits: LimitsPolicy = LimitsPolicy()

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, value: dict[str, TenantPolicy]) -> dict[str, TenantPolicy]:
        for name in value:
            check_name(name)
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> AuthPolicy:
        seen: set[str] = set()
        for key in self.keys:
            if key.id in seen:
                raise ValueError(f"duplicate key id {key.id!r}")
            seen.add(key.id)
        return self

    def tenant(self, name: str) -> TenantPolicy:
        return self.tenants.get(name, TenantPolicy())

    def route_references(self) -> Iterator[tuple[tuple[str | int, ...], str, Literal["alias", "model"]]]:
        """(path under `auth`, name, kind) of every alias and model id this section names, for the
        policy loader's cross checks."""
        owners: list[tuple[tuple[str | int, ...], KeyGrant | TenantPolicy]] = [
            (("tenants", name), t) for name, t in self.tenants.items()]
        owners += [(("keys", i), k) for i, k in enumerate(self.keys)]
        for path, owner in owners:
            for j, alias in enumerate(owner.allowed_aliases or ()):
                yield (*path, "allowed_aliases", j), alias, "alias"
            for j, model in enumerate(owner.allowed_models or ()):
                yield (*path, "allowed_models", j), model, "model"

"""Virtual API keys and tenants.

    gateway.auth.store     KeyStore.authenticate(bearer) -> Principal; bearer_token(header)
    gateway.auth.admin     KeyAdmin: create, list, rotate, revoke keys kept in Redis
    gateway.auth.handlers  the admin API as plain functions, behind the master key
    gateway.auth.policy    the `auth:` section of the policy file

Only the policy models and `Principal` are imported here, so loading the policy does not import Redis.
"""

from gateway.auth.policy import AuthPolicy, KeyGrant, StaticKey, TenantPolicy
from gateway.auth.principal import Principal

__all__ = ["AuthPolicy", "KeyGrant", "Principal", "StaticKey", "TenantPolicy"]

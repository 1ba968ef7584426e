"""The `auth:` and `guardrails:` example given for the README loads through the real policy loader."""

from __future__ import annotations

import pytest
import yaml

from gateway.config import parse_policy
from gateway.yamlpath import ConfigError
from registry import Tier
from tests.conftest import base_policy

EXAMPLE = r"""
auth:
  master_key_env: TURNOUT_MASTER_KEY      # admin API (/admin/keys, /admin/spend); never the key itself
  pepper_env: TURNOUT_KEY_PEPPER          # HMAC pepper for keys stored in Redis
  cache_ttl_seconds: 0.5                  # a revocation reaches every replica within this (max 1 s)
  tenants:
    acme:
      max_tier: 3
      allowed_aliases: [auto, fast]
      limits: {requests_per_minute: 600, tokens_per_minute: 200000,
               budget_usd_per_day: 20, budget_usd_per_month: 300}
  keys:
    - id: acme-ci
      tenant: acme
      key_env: ACME_CI_KEY                # or key_sha256: <printf %s "$KEY" | sha256sum>
      allowed_aliases: [auto]
      max_tier: 2
      limits: {requests_per_minute: 60, tokens_per_minute: 50000, budget_usd_per_day: 2}
  limits:
    on_budget_exhausted: downgrade        # or refuse (429 insufficient_quota)
    downgrade_to_tier: 1
    on_redis_error: {rate_limits: open, budgets: closed}   # open: serve and count; closed: 503

guardrails:
  default: standard
  tenants: {acme: strict}                 # a tenant's profile wins over the alias's
  aliases: {auto: standard}
  profiles:
    standard:
      input:
        pii: {action: redact}             # email, phone, card (Luhn), ssn, ip, secret
        injection: {action: flag}
      output:
        pii: {action: redact}
    strict:
      input:
        roles: [user, tool]
        pii: {action: block, kinds: [card, ssn, secret]}
        injection: {action: block, threshold: 0.5}
        deny:
          action: block
          topics: {weapons: ["build a bomb", "nerve agent"]}
          patterns: ['(?i)project\s+nightingale']
      output:
        pii: {action: redact}
        json_schema: {action: block}      # validate response_format answers; one corrective retry
        stream_window: 128
"""


def test_the_readme_example_loads() -> None:
    doc = base_policy("http://127.0.0.1:9")
    doc.update(yaml.safe_load(EXAMPLE))
    policy = parse_policy(yaml.safe_dump(doc))
    key = policy.auth.keys[0]
    assert (key.id, key.tenant, key.key_env, key.max_tier) == ("acme-ci", "acme", "ACME_CI_KEY", Tier.MODERATE)
    assert policy.auth.limits.on_budget_exhausted == "downgrade"
    assert policy.guardrails.profile_name(tenant="acme", route="auto") == "strict"
    assert policy.guardrails.profile_name(tenant="other", route="auto") == "standard"


def test_errors_name_the_yaml_path() -> None:
    doc = base_policy("http://127.0.0.1:9")
    doc["auth"] = {"keys": [{"id": "k", "tenant": "acme", "key_env": "K", "limits": {"requests_per_minut": 5}}]}
    with pytest.raises(ConfigError) as info:
        parse_policy(yaml.safe_dump(doc))
    assert "auth.keys[0].limits.requests_per_minut" in str(info.value)

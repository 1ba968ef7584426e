"""What the tenancy tests share (`test_tenancy_e2e.py`, `test_tenancy_limits_e2e.py`, metering, cache
permissions, isolation): the secrets a module hands its gateways, the policy with three tenants, and
clients for the API and the admin API."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import openai

from tests.conftest import GatewayProcess, base_policy

REDIS_URL = "redis://127.0.0.1:6379/0"


MSG = [{"role": "user", "content": "Say hello to the turnout"}]


class Secrets:
    """Every secret the module hands to a gateway; none may ever come back in a log, metric or error."""

    def __init__(self) -> None:
        self.master = "mk-" + secrets.token_urlsafe(24)
        self.pepper = secrets.token_urlsafe(16)
        self.acme = "tk-" + secrets.token_urlsafe(32)
        self.beta = "tk-" + secrets.token_urlsafe(32)
        self.broke = "tk-" + secrets.token_urlsafe(32)
        self.issued: list[str] = []
        """Keys the admin API returned during the tests."""

    def all(self) -> list[str]:
        return [self.master, self.pepper, self.acme, self.beta, self.broke, *self.issued]


def tenancy_policy(sim_url: str, prefix: str, *, cache: bool = False, **limits: Any) -> dict[str, Any]:
    doc: dict[str, Any] = base_policy(sim_url)
    doc["redis"] = {"url_env": "TURNOUT_REDIS_URL", "timeout_s": 2.0}  # the test Redis is shared with benchmarks
    doc["cache"] = {"enabled": cache, "key_prefix": f"{prefix}:cache"}
    doc["auth"] = {
        "redis_prefix": prefix,
        "tenants": {"beta": {"allowed_models": ["local-small", "local-medium"]}},
        "keys": [
            {"id": "acme-1", "tenant": "acme", "key_env": "E2E_ACME_KEY"},
            {"id": "beta-1", "tenant": "beta", "key_env": "E2E_BETA_KEY", "allowed_aliases": []},
            {"id": "broke-1", "tenant": "broke", "key_env": "E2E_BROKE_KEY",
             "limits": {"budget_usd_per_day": 1e-9}},
        ],
        "limits": {"on_budget_exhausted": "refuse", **limits},
    }
    return doc


def gateway_env(keys: Secrets) -> dict[str, str]:
    return {"TURNOUT_REDIS_URL": REDIS_URL, "TURNOUT_MASTER_KEY": keys.master, "TURNOUT_KEY_PEPPER": keys.pepper,
            "E2E_ACME_KEY": keys.acme, "E2E_BETA_KEY": keys.beta, "E2E_BROKE_KEY": keys.broke}


def client(gw: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0, timeout=30)


def admin(gw: GatewayProcess, method: str, path: str, key: str | None, **kw: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.request(method, gw.base_url + path, headers=headers, timeout=10, **kw)


def create_key(gw: GatewayProcess, keys: Secrets, **grant: Any) -> dict[str, Any]:
    response = admin(gw, "POST", "/admin/keys", keys.master, json=grant)
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    keys.issued.append(issued["key"])
    return issued


def chat_status(gw: GatewayProcess, key: str) -> int:
    response = httpx.post(gw.base_url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                          json={"model": "local-small", "messages": MSG, "max_tokens": 4}, timeout=10)
    return response.status_code


def spend(gw: GatewayProcess, keys: Secrets, tenant: str) -> dict[str, Any]:
    response = admin(gw, "GET", "/admin/spend", keys.master, params={"tenant": tenant})
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def wait_for_spend(gw: GatewayProcess, keys: Secrets, tenant: str, key_id: str, at_least: float) -> float:
    """Spend is settled off the response path: poll until it shows (or a few seconds pass)."""
    deadline = time.monotonic() + 5
    while True:
        entry = spend(gw, keys, tenant)["tenants"].get(tenant, {}).get("keys", {}).get(key_id, {})
        used = float(entry.get("day_usd", 0.0))
        if used >= at_least or time.monotonic() > deadline:
            return used
        time.sleep(0.02)


def assert_openai_error(response: httpx.Response, status: int, type_: str, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == (type_, code)
    return error

"""Keys and the admin API end to end: real gateway processes sharing the real Redis, the real `openai`
SDK as the client, simulated upstreams. The security tests of issue 7 live here; rate limits and
budgets in `test_tenancy_limits_e2e`; the helpers both use are in `tenancy_harness`.

Two replicas (`a`, `b`) run the same policy over one Redis. Every Redis key of a module is under one
unique prefix, deleted at the end.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GatewayProcess, redis_prefix
from tests.gateway.tenancy_harness import (
    MSG,
    REDIS_URL,
    Secrets,
    admin,
    assert_openai_error,
    chat_status,
    client,
    create_key,
    gateway_env,
    spend,
    tenancy_policy,
    wait_for_spend,
)


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    yield from redis_prefix("tenancy", REDIS_URL)


@pytest.fixture(scope="module")
def keys() -> Secrets:
    return Secrets()


@pytest.fixture(scope="module")
def start(sim: Any, gateway_factory: Callable[..., GatewayProcess], keys: Secrets, prefix: str
          ) -> Iterator[Callable[[dict[str, Any]], GatewayProcess]]:
    """Gateways of this module, stopped together when it ends (each takes seconds to exit), before
    the module's Redis keys are deleted."""
    started: list[GatewayProcess] = []

    def start(policy: dict[str, Any]) -> GatewayProcess:
        started.append(gateway_factory(policy, env=gateway_env(keys)))
        return started[-1]

    yield start
    for gw in started:
        gw.process.terminate()
    for gw in started:
        gw.stop()


@pytest.fixture(scope="module")
def replicas(sim: Any, start: Callable[[dict[str, Any]], GatewayProcess], prefix: str
             ) -> tuple[GatewayProcess, GatewayProcess]:
    policy = tenancy_policy(sim.base_url, prefix)
    return start(policy), start(policy)


@pytest.fixture(scope="module")
def a(replicas: tuple[GatewayProcess, GatewayProcess]) -> GatewayProcess:
    return replicas[0]


@pytest.fixture(scope="module")
def b(replicas: tuple[GatewayProcess, GatewayProcess]) -> GatewayProcess:
    return replicas[1]


# ---------------------------------------------------------------------------------------------- keys


def test_a_static_key_calls_models_and_a_missing_or_wrong_key_is_a_clean_401(a: GatewayProcess,
                                                                             keys: Secrets) -> None:
    completion = client(a, keys.acme).chat.completions.create(model="local-small", messages=MSG)  # type: ignore[arg-type]
    assert str(completion.choices[0].message.content).startswith("[local-small] echo: Say hello")

    missing = httpx.post(a.base_url + "/v1/chat/completions", json={"model": "local-small", "messages": MSG})
    assert "Bearer" in assert_openai_error(missing, 401, "authentication_error", "invalid_api_key")["message"]
    wrong = "tk-" + secrets.token_urlsafe(32)
    with pytest.raises(openai.AuthenticationError) as info:
        client(a, wrong).chat.completions.create(model="local-small", messages=MSG)  # type: ignore[arg-type]
    assert info.value.code == "invalid_api_key" and wrong not in info.value.response.text
    basic = httpx.get(a.base_url + "/v1/models", headers={"authorization": f"Basic {keys.acme}"})
    assert_openai_error(basic, 401, "authentication_error", "invalid_api_key")
    master = httpx.post(a.base_url + "/v1/chat/completions", headers={"authorization": f"Bearer {keys.master}"},
                        json={"model": "local-small", "messages": MSG})
    assert_openai_error(master, 403, "permission_error", "permission_denied")


def test_route_permissions_and_the_model_list_follow_the_key(a: GatewayProcess, keys: Secrets) -> None:
    beta = client(a, keys.beta)
    assert {m.id for m in beta.models.list()} == {"local-small", "local-medium"}
    assert beta.models.retrieve("local-medium").id == "local-medium"
    for hidden in ("claude-sim", "auto", "no-such-model"):  # another key's model is not disclosed
        with pytest.raises(openai.NotFoundError) as missing:
            beta.models.retrieve(hidden)
        assert missing.value.code == "model_not_found" and missing.value.param == "model"
    assert client(a, keys.acme).models.retrieve("auto").owned_by == "turnout-router"
    assert beta.chat.completions.create(model="local-medium", messages=MSG).model == "local-medium"  # type: ignore[arg-type]
    for model in ("claude-sim", "auto"):
        with pytest.raises(openai.PermissionDeniedError) as info:
            beta.chat.completions.create(model=model, messages=MSG)  # type: ignore[arg-type]
        assert info.value.param == "model" and model in info.value.message


def test_admin_keys_create_list_rotate_revoke(a: GatewayProcess, keys: Secrets) -> None:
    issued = create_key(a, keys, tenant="gamma", name="ci", allowed_models=["local-small"], max_tier=1,
                        limits={"requests_per_minute": 100})
    assert issued["key"].startswith("tk-") and issued["id"].startswith("key_")
    assert (issued["tenant"], issued["name"], issued["max_tier"]) == ("gamma", "ci", 1)
    completion = client(a, issued["key"]).chat.completions.create(model="local-small", messages=MSG)  # type: ignore[arg-type]
    assert completion.model == "local-small"

    listed = admin(a, "GET", "/admin/keys", keys.master, params={"tenant": "gamma"}).json()["data"]
    assert [k["id"] for k in listed] == [issued["id"]]
    assert issued["key"] not in str(listed) and listed[0]["hint"].endswith(issued["key"][-4:])

    rotated = admin(a, "POST", f"/admin/keys/{issued['id']}/rotate", keys.master).json()
    keys.issued.append(rotated["key"])
    assert rotated["id"] == issued["id"] and rotated["key"] != issued["key"]
    assert chat_status(a, issued["key"]) == 401
    assert chat_status(a, rotated["key"]) == 200

    assert admin(a, "DELETE", f"/admin/keys/{issued['id']}", keys.master).json() == {"id": issued["id"],
                                                                                       "revoked": True}
    assert chat_status(a, rotated["key"]) == 401
    gone = admin(a, "DELETE", f"/admin/keys/{issued['id']}", keys.master)
    assert_openai_error(gone, 404, "invalid_request_error", "key_not_found")
    bad = admin(a, "POST", "/admin/keys", keys.master, json={"tenant": "gamma", "api_base": "http://x"})
    assert_openai_error(bad, 400, "invalid_request_error", "invalid_request")


def last_accepted(gw: GatewayProcess, key: str, since: float, limit_s: float = 3.0) -> float:
    """Poll `gw` with `key` until it is refused; return when (seconds after `since`) the last request
    that was still accepted had been sent. A slow answer on a busy machine does not count against it."""
    last = 0.0
    with httpx.Client(base_url=gw.base_url, headers={"authorization": f"Bearer {key}"}, timeout=10) as http:
        while (sent := time.monotonic() - since) < limit_s:
            status = http.get("/v1/models").status_code  # authenticates like a chat call, without an upstream
            if status == 401:
                return last
            assert status == 200
            last = sent
            time.sleep(0.01)
    raise AssertionError(f"{key[:6]}... still accepted {limit_s} s later")


def test_a_revoked_key_stops_working_on_every_replica_within_a_second(a: GatewayProcess, b: GatewayProcess,
                                                                      keys: Secrets) -> None:
    issued = create_key(a, keys, tenant="delta")
    assert chat_status(a, issued["key"]) == 200 and chat_status(b, issued["key"]) == 200  # both have it cached
    assert admin(a, "DELETE", f"/admin/keys/{issued['id']}", keys.master).status_code == 200
    revoked = time.monotonic()
    assert chat_status(a, issued["key"]) == 401  # the replica that revoked it forgets it at once
    assert last_accepted(b, issued["key"], revoked) < 1.0

    rotating = create_key(b, keys, tenant="delta")
    assert chat_status(a, rotating["key"]) == 200
    rotated = admin(b, "POST", f"/admin/keys/{rotating['id']}/rotate", keys.master)
    keys.issued.append(rotated.json()["key"])
    assert last_accepted(a, rotating["key"], time.monotonic()) < 1.0
    assert chat_status(a, rotated.json()["key"]) == 200


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/admin/spend"), ("GET", "/admin/keys"), ("POST", "/admin/keys"), ("DELETE", "/admin/keys/acme-1"),
    ("POST", "/admin/keys/acme-1/rotate"), ("POST", "/admin/reload"), ("GET", "/admin/breakers"),
])
def test_admin_endpoints_refuse_tenant_keys(a: GatewayProcess, keys: Secrets, method: str, path: str) -> None:
    body = {"json": {"tenant": "beta"}} if method == "POST" else {}
    for key in (keys.acme, keys.beta):
        error = assert_openai_error(admin(a, method, path, key, **body), 403, "permission_error", "permission_denied")
        assert key not in error["message"]
    assert_openai_error(admin(a, method, path, None, **body), 401, "authentication_error", "invalid_api_key")


def test_tenant_b_never_sees_tenant_a_spend_or_keys(a: GatewayProcess, keys: Secrets) -> None:
    client(a, keys.acme).chat.completions.create(model="local-small", messages=MSG)  # type: ignore[arg-type]
    client(a, keys.beta).chat.completions.create(model="local-small", messages=MSG)  # type: ignore[arg-type]
    wait_for_spend(a, keys, "beta", "beta-1", 1e-12)
    report = spend(a, keys, "beta")
    assert set(report["tenants"]) == {"beta"} and set(report["tenants"]["beta"]["keys"]) == {"beta-1"}
    for path in ("/admin/spend?tenant=acme", "/admin/keys?tenant=acme"):
        assert admin(a, "GET", path, keys.beta).status_code == 403


# -------------------------------------------------------------------------------- request hygiene


@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key", "custom_llm_provider", "extra_headers",
                                   "aws_region_name", "litellm_params"])
def test_clients_cannot_reach_arbitrary_upstreams(a: GatewayProcess, keys: Secrets, field: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client(a, keys.acme).chat.completions.create(
            model="local-small", messages=MSG, extra_body={field: "http://169.254.169.254/latest"})  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == ("forbidden_parameter", field)
    assert field in info.value.message and "169.254" not in info.value.message


def test_oversized_and_malformed_inputs_are_refused_cleanly(a: GatewayProcess, keys: Secrets) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client(a, keys.acme).chat.completions.create(
            model="local-small", messages=[{"role": "user", "content": "x" * 70_000}])
    assert info.value.status_code == 413 and info.value.code == "request_too_large"
    auth = {"authorization": f"Bearer {keys.acme}"}
    for body, code in ((b'{"model": "local-small", "messages": [', "invalid_json"), (b"[]", "invalid_request"),
                       (b'{"model": "local-small", "messages": [{"role": "user", "content": 5}]}',
                        "invalid_request")):
        response = httpx.post(a.base_url + "/v1/chat/completions", content=body, headers=auth)
        error = assert_openai_error(response, 400, "invalid_request_error", code)
        assert "Traceback" not in response.text and keys.acme not in response.text
        assert error["message"]
    long_header = httpx.get(a.base_url + "/v1/models", headers={"authorization": "Bearer " + "k" * 8000})
    assert_openai_error(long_header, 401, "authentication_error", "invalid_api_key")
    assert a.process.poll() is None


# ---------------------------------------------------------------------------------------- open mode


def test_open_mode_serves_without_a_key(gateway: GatewayProcess) -> None:
    response = httpx.post(gateway.base_url + "/v1/chat/completions", json={"model": "local-small", "messages": MSG})
    assert response.status_code == 200 and response.json()["model"] == "local-small"
    completion = client(gateway, "anything").chat.completions.create(model="local-small", messages=MSG)  # type: ignore[arg-type]
    assert completion.model == "local-small"
    assert "open mode" in gateway.logs()


# ------------------------------------------------------------------------------ secrets never leak


def test_keys_never_appear_in_logs_metrics_or_errors(a: GatewayProcess, b: GatewayProcess, keys: Secrets) -> None:
    issued = create_key(b, keys, tenant="eta")
    admin(b, "DELETE", f"/admin/keys/{issued['id']}", keys.master)
    bodies = [httpx.post(gw.base_url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                         json={"model": model, "messages": MSG}).text
              for gw in (a, b) for key in keys.all() for model in ("local-small", "nope")]
    bodies += [admin(a, "GET", "/admin/keys", key).text for key in keys.all()]
    texts = {"errors": "\n".join(bodies), "metrics": httpx.get(a.base_url + "/metrics").text + httpx.get(
        b.base_url + "/metrics").text, "logs": a.logs() + b.logs()}
    assert "turnout_requests" in texts["metrics"] and '"request"' in texts["logs"]
    for where, text in texts.items():
        leaked = [k[:8] for k in keys.all() if k in text]
        assert not leaked, f"{where} contain a key starting {leaked}"

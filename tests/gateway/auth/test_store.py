from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.auth import AuthPolicy, Principal
from gateway.auth.hashing import sha256_hex
from gateway.auth.store import KeyStore, bearer_token
from gateway.errors import AuthenticationError, PermissionDenied, StoreUnavailable
from gateway.redisconn import connect
from registry import Tier

POLICY = {
    "tenants": {"acme": {"allowed_aliases": ["auto", "fast"], "max_tier": 2,
                         "limits": {"requests_per_minute": 100}}},
    "keys": [
        {"id": "acme-ci", "tenant": "acme", "key_env": "ACME_CI_KEY", "allowed_aliases": ["auto", "best"],
         "limits": {"tokens_per_minute": 5000}},
        {"id": "beta-app", "tenant": "beta", "key_sha256": sha256_hex("tk-beta-secret"), "max_tier": 1,
         "allowed_models": []},
        {"id": "gone", "tenant": "beta", "key_env": "UNSET_KEY_VAR"},
    ],
}
ENV = {"ACME_CI_KEY": "tk-acme-secret", "TURNOUT_MASTER_KEY": "master-secret"}


def store(policy: dict[str, object] | None = None, env: dict[str, str] | None = None) -> KeyStore:
    return KeyStore(policy=AuthPolicy.model_validate(POLICY if policy is None else policy),
                    environ=ENV if env is None else env)


async def test_static_key_from_env_narrowed_by_its_tenant() -> None:
    principal = await store().authenticate("tk-acme-secret")
    assert principal.tenant == "acme" and principal.key_id == "acme-ci"
    assert principal.allowed_aliases == frozenset({"auto"})  # key {auto, best} and tenant {auto, fast}
    assert principal.max_tier == Tier.MODERATE
    assert principal.key_limits.tokens_per_minute == 5000
    assert principal.tenant_limits.requests_per_minute == 100
    principal.check_route("auto", alias=True)
    principal.check_route("any-model", alias=False)
    with pytest.raises(PermissionDenied) as info:
        principal.check_route("best", alias=True)
    assert info.value.status == 403 and info.value.param == "model"


async def test_static_key_by_digest() -> None:
    principal = await store().authenticate("tk-beta-secret")
    assert (principal.tenant, principal.key_id, principal.max_tier) == ("beta", "beta-app", Tier.SIMPLE)
    assert not principal.allows_model("local-small")  # an empty list allows nothing
    assert principal.allows_alias("auto")
    assert principal.cap_tier(Tier.COMPLEX) == Tier.SIMPLE


@pytest.mark.parametrize("bearer", [None, "", "tk-wrong", "tk-acme-secret ", "TK-ACME-SECRET"])
async def test_missing_or_unknown_keys_are_401_without_echoing_the_key(bearer: str | None) -> None:
    with pytest.raises(AuthenticationError) as info:
        await store().authenticate(bearer)
    assert info.value.status == 401
    if bearer:
        assert bearer not in info.value.message


async def test_master_key_is_refused_on_the_request_path() -> None:
    with pytest.raises(PermissionDenied):
        await store().authenticate("master-secret")


async def test_open_mode_without_keys_or_master_key() -> None:
    s = store({"open_limits": {"requests_per_minute": 10}}, {})
    assert s.open_mode
    principal = await s.authenticate(None)
    assert principal.anonymous and principal.tenant == "default"
    assert principal.key_limits.requests_per_minute == 10
    assert isinstance(await s.authenticate("anything"), Principal)


async def test_a_master_key_alone_turns_authentication_on() -> None:
    s = store({}, {"TURNOUT_MASTER_KEY": "m"})
    assert not s.open_mode
    with pytest.raises(AuthenticationError):
        await s.authenticate(None)


def test_admin_guard() -> None:
    s = store()
    s.require_master("master-secret")
    with pytest.raises(AuthenticationError):
        s.require_master(None)
    with pytest.raises(PermissionDenied):
        s.require_master("tk-acme-secret")  # tenant keys are refused
    with pytest.raises(PermissionDenied) as info:
        store(env={"ACME_CI_KEY": "x"}).require_master("master-secret")
    assert "TURNOUT_MASTER_KEY" in info.value.message


async def test_missing_key_variable_disables_only_that_key(caplog: pytest.LogCaptureFixture) -> None:
    s = store()
    assert "key gone is disabled: environment variable UNSET_KEY_VAR is not set" in caplog.text
    assert (await s.authenticate("tk-acme-secret")).key_id == "acme-ci"
    assert "tk-acme-secret" not in caplog.text and "master-secret" not in caplog.text


async def test_static_keys_work_when_redis_is_down_and_redis_keys_fail_closed() -> None:
    dead = connect("redis://127.0.0.1:1/0", max_connections=4, timeout_s=0.2)
    s = KeyStore(policy=AuthPolicy.model_validate(POLICY), environ=ENV, redis=dead)
    assert (await s.authenticate("tk-acme-secret")).tenant == "acme"
    with pytest.raises(StoreUnavailable) as info:
        await s.authenticate("tk-created-elsewhere")
    assert info.value.status == 503
    await dead.aclose()


@pytest.mark.parametrize("header,token", [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None),
                                          ("Bearer", None), (None, None), ("", None)])
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("keys,message", [
    ([{"id": "a", "tenant": "t"}], "exactly one of key_env and key_sha256"),
    ([{"id": "a", "tenant": "t", "key_env": "A", "key_sha256": "0" * 64}], "exactly one"),
    ([{"id": "a", "tenant": "t", "key_env": "tk-literal-key"}], "names an environment variable"),
    ([{"id": "a", "tenant": "t", "key_sha256": "xyz"}], "64 lowercase hex"),
    ([{"id": "a", "tenant": "t", "key_env": "A"}, {"id": "a", "tenant": "t", "key_env": "B"}], "duplicate key id"),
    ([{"id": "a b", "tenant": "t", "key_env": "A"}], "letters, digits"),
])
def test_policy_rejects_bad_keys(keys: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AuthPolicy.model_validate({"keys": keys})


def test_policy_caps_the_cache_ttl_at_one_second() -> None:
    with pytest.raises(ValidationError):
        AuthPolicy.model_validate({"cache_ttl_seconds": 5})


def test_route_references_for_the_loader() -> None:
    policy = AuthPolicy.model_validate({
        "tenants": {"acme": {"allowed_aliases": ["auto"], "allowed_models": ["m1"]}},
        "keys": [{"id": "k", "tenant": "acme", "key_env": "K", "allowed_aliases": ["fast", "best"]}]})
    assert list(policy.route_references()) == [
        (("tenants", "acme", "allowed_aliases", 0), "auto", "alias"),
        (("tenants", "acme", "allowed_models", 0), "m1", "model"),
        (("keys", 0, "allowed_aliases", 0), "fast", "alias"),
        (("keys", 0, "allowed_aliases", 1), "best", "alias")]

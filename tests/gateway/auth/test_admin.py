"""Keys created through the admin API, seen by two replicas (two stores, two Redis clients)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.auth import AuthPolicy, KeyGrant
from gateway.auth import handlers as admin_api
from gateway.auth.admin import KeyAdmin, KeyNotFound
from gateway.auth.hashing import sha256_hex
from gateway.auth.store import KeyStore
from gateway.errors import AuthenticationError, PermissionDenied
from gateway.limits import LimitsPolicy
from gateway.limits.service import LimitsService
from registry import ModelSpec
from router.errors import RequestError
from tests.gateway.auth.conftest import REDIS_URL

ENV = {"TURNOUT_MASTER_KEY": "master-secret", "TURNOUT_KEY_PEPPER": "pepper-1", "ACME_KEY": "tk-static-acme"}
MASTER = "master-secret"


def make_store(redis: aioredis.Redis, prefix: str) -> KeyStore:
    policy = AuthPolicy.model_validate({"redis_prefix": prefix, "cache_ttl_seconds": 0.5,
                                        "keys": [{"id": "static", "tenant": "acme", "key_env": "ACME_KEY"}]})
    return KeyStore(policy=policy, environ=ENV, redis=redis)


@pytest.fixture
async def replicas(redis: aioredis.Redis, prefix: str) -> AsyncIterator[tuple[KeyStore, KeyStore, KeyAdmin]]:
    other = aioredis.from_url(REDIS_URL)
    a, b = make_store(redis, prefix), make_store(other, prefix)
    yield a, b, KeyAdmin(store=a)
    await other.aclose()


async def test_create_then_authenticate_on_another_replica(replicas: tuple[KeyStore, KeyStore, KeyAdmin]) -> None:
    a, b, admin = replicas
    created = await admin_api.create_key(a, admin, MASTER, {"tenant": "acme", "name": "ci", "max_tier": 2,
                                                             "limits": {"requests_per_minute": 60}})
    key = str(created["key"])
    assert key.startswith("tk-") and created["hint"] == f"{key[:6]}...{key[-4:]}"
    principal = await b.authenticate(key)
    assert (principal.tenant, principal.key_id, int(principal.max_tier)) == ("acme", created["id"], 2)
    assert principal.key_limits.requests_per_minute == 60


async def test_keys_are_stored_hashed_with_the_pepper(replicas: tuple[KeyStore, KeyStore, KeyAdmin],
                                                      redis: aioredis.Redis, prefix: str) -> None:
    a, _, admin = replicas
    key = (await admin.create(KeyGrant(tenant="t"))).secret
    dump = b""
    async for name in redis.scan_iter(match=f"{prefix}:*"):
        dump += name + b"=" + (await redis.dump(name) or b"")
    assert key.encode() not in dump
    assert sha256_hex(key).encode() not in dump  # peppered: the plain digest is not there either
    assert a.hasher.digest(key).encode() in dump


async def test_revocation_reaches_the_other_replica_within_a_second(
        replicas: tuple[KeyStore, KeyStore, KeyAdmin]) -> None:
    a, b, admin = replicas
    issued = await admin_api.create_key(a, admin, MASTER, {"tenant": "acme"})
    key = str(issued["key"])
    await b.authenticate(key)  # cached on replica b now
    await admin_api.revoke_key(a, admin, MASTER, str(issued["id"]))
    with pytest.raises(AuthenticationError):
        await a.authenticate(key)  # the revoking replica forgets at once
    revoked_at = time.monotonic()
    while True:
        try:
            await b.authenticate(key)
        except AuthenticationError:
            break
        assert time.monotonic() - revoked_at < 1.0
        await asyncio.sleep(0.02)
    assert time.monotonic() - revoked_at <= 1.0


async def test_rotation_replaces_the_secret(replicas: tuple[KeyStore, KeyStore, KeyAdmin]) -> None:
    a, b, admin = replicas
    old = await admin_api.create_key(a, admin, MASTER, {"tenant": "acme", "allowed_aliases": ["auto"]})
    new = await admin_api.rotate_key(a, admin, MASTER, str(old["id"]))
    assert new["id"] == old["id"] and new["key"] != old["key"] and new["rotated_at"] is not None
    assert new["allowed_aliases"] == ["auto"]
    assert (await b.authenticate(str(new["key"]))).key_id == old["id"]
    with pytest.raises(AuthenticationError):
        await b.authenticate(str(old["key"]))


async def test_listing_filters_by_tenant_and_never_shows_secrets(
        replicas: tuple[KeyStore, KeyStore, KeyAdmin]) -> None:
    a, _, admin = replicas
    ka = await admin_api.create_key(a, admin, MASTER, {"tenant": "acme"})
    kb = await admin_api.create_key(a, admin, MASTER, {"tenant": "beta"})
    listing = await admin_api.list_keys(a, admin, MASTER, tenant="beta")
    assert [k["id"] for k in listing["data"]] == [kb["id"]]
    everything = str(await admin_api.list_keys(a, admin, MASTER))
    for secret in (ka["key"], kb["key"]):
        assert str(secret) not in everything and a.hasher.digest(str(secret)) not in everything


async def test_admin_api_refuses_tenant_keys_and_missing_keys(replicas: tuple[KeyStore, KeyStore, KeyAdmin]) -> None:
    a, _, admin = replicas
    tenant_key = str((await admin_api.create_key(a, admin, MASTER, {"tenant": "acme"}))["key"])
    for bearer in (tenant_key, "tk-static-acme"):
        with pytest.raises(PermissionDenied):
            await admin_api.list_keys(a, admin, bearer)
        with pytest.raises(PermissionDenied):
            await admin_api.create_key(a, admin, bearer, {"tenant": "acme"})
    with pytest.raises(AuthenticationError):
        await admin_api.revoke_key(a, admin, None, "key_x")


async def test_spend_report_behind_the_master_key(replicas: tuple[KeyStore, KeyStore, KeyAdmin],
                                                  redis: aioredis.Redis, prefix: str) -> None:
    a, _, _ = replicas
    limits = LimitsService(redis=redis, policy=LimitsPolicy(), prefix=prefix)
    principal = await a.authenticate("tk-static-acme")
    spec = ModelSpec(id="m", litellm_model="openai/m", price={"input_per_mtok": 1.0})
    await limits.settle(principal, spec=spec, prompt_tokens=1000, completion_tokens=0)
    report = await admin_api.spend_report(a, limits, MASTER, tenant="acme")
    assert report["tenants"]["acme"]["keys"]["static"]["day_usd"] == pytest.approx(0.001)
    with pytest.raises(PermissionDenied):
        await admin_api.spend_report(a, limits, "tk-static-acme")


@pytest.mark.parametrize("body,param", [
    ({}, "tenant"), ({"tenant": "a b"}, "tenant"), ({"tenant": "t", "max_tier": 7}, "max_tier"),
    ({"tenant": "t", "limits": {"requests_per_minute": -1}}, "limits.requests_per_minute"),
    ({"tenant": "t", "api_base": "http://evil"}, "api_base"), ([1, 2], None),
])
async def test_create_validates_the_body(replicas: tuple[KeyStore, KeyStore, KeyAdmin], body: object,
                                         param: str | None) -> None:
    a, _, admin = replicas
    with pytest.raises(RequestError) as info:
        await admin_api.create_key(a, admin, MASTER, body)
    assert info.value.param == param


async def test_unknown_key_ids_are_404(replicas: tuple[KeyStore, KeyStore, KeyAdmin]) -> None:
    admin = replicas[2]
    for call in (admin.rotate, admin.revoke):
        with pytest.raises(KeyNotFound) as info:
            await call("key_nope")
        assert info.value.status == 404


async def test_keys_never_reach_the_logs(replicas: tuple[KeyStore, KeyStore, KeyAdmin],
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    a, b, admin = replicas
    issued = await admin_api.create_key(a, admin, MASTER, {"tenant": "acme"})
    rotated = await admin_api.rotate_key(a, admin, MASTER, str(issued["id"]))
    await b.authenticate(str(rotated["key"]))
    with pytest.raises(AuthenticationError):
        await b.authenticate(str(issued["key"]))
    await admin_api.revoke_key(a, admin, MASTER, str(issued["id"]))
    assert str(issued["id"]) in caplog.text
    for secret in (str(issued["key"]), str(rotated["key"]), MASTER, "pepper-1"):
        assert secret not in caplog.text

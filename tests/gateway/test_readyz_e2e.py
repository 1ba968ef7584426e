"""`/readyz` reflects Redis as the README says (issue 18, row 11): 503 when the policy's Redis is
down or refuses the password, 200 when it answers. Real gateway processes, the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import GatewayProcess, base_policy, free_port

USER = f"readyz-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def acl_user() -> Iterator[str]:
    """An ACL user of the test's own on the shared Redis (its default user takes any password)."""
    admin = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    admin.acl_setuser(USER, enabled=True, passwords=["+right-password"], keys=["readyz:*"], commands=["+ping"])
    yield USER
    admin.acl_deluser(USER)
    admin.close()


@pytest.mark.parametrize(("url", "ready"), [
    ("redis://127.0.0.1:6379/0", True),
    (f"redis://127.0.0.1:{free_port()}/0", False),                      # nothing listens there
    (f"redis://{USER}:not-the-password@127.0.0.1:6379/0", False),       # AUTH refused
    (f"redis://{USER}:right-password@127.0.0.1:6379/0", True),
])
def test_readyz_follows_redis(sim: Any, gateway_factory: Callable[..., GatewayProcess], acl_user: str, url: str,
                              ready: bool) -> None:
    policy = base_policy(sim.base_url)
    policy["redis"] = {"url_env": "READYZ_REDIS_URL", "timeout_s": 0.5}
    gw = gateway_factory(policy, env={"READYZ_REDIS_URL": url})
    response = httpx.get(gw.base_url + "/readyz", timeout=10)
    assert response.status_code == (200 if ready else 503), response.text
    assert response.json()["checks"]["redis"]["ok"] is ready
    assert "not-the-password" not in response.text and "not-the-password" not in gw.logs()

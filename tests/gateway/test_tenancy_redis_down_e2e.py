"""Redis unreachable: each limit type fails open (serve, count it) or closed (503) as the policy says;
static keys keep working, and nothing answers with a 500. A real gateway over a Redis URL nobody
listens on.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import GatewayProcess, base_policy, free_port

MSG = [{"role": "user", "content": "Say hello to the turnout"}]
KEYS = {"free": "tk-" + secrets.token_urlsafe(32), "metered": "tk-" + secrets.token_urlsafe(32),
        "budgeted": "tk-" + secrets.token_urlsafe(32)}
MASTER = "mk-" + secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def cut_off(sim: Any, gateway_factory: Callable[..., GatewayProcess]) -> Iterator[GatewayProcess]:
    policy: dict[str, Any] = base_policy(sim.base_url)
    policy["redis"] = {"url_env": "TURNOUT_REDIS_URL"}
    policy["cache"] = {"enabled": False}
    policy["auth"] = {
        "keys": [
            {"id": "free", "tenant": "t", "key_env": "E2E_FREE_KEY"},
            {"id": "metered", "tenant": "t", "key_env": "E2E_METERED_KEY", "limits": {"requests_per_minute": 100}},
            {"id": "budgeted", "tenant": "t", "key_env": "E2E_BUDGETED_KEY", "limits": {"budget_usd_per_day": 1}},
        ],
        "limits": {"on_redis_error": {"rate_limits": "closed", "budgets": "open"}},
    }
    env = {"TURNOUT_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "TURNOUT_MASTER_KEY": MASTER,
           **{f"E2E_{name.upper()}_KEY": key for name, key in KEYS.items()}}
    gw = gateway_factory(policy, env=env)
    yield gw
    gw.stop()


def post(gw: GatewayProcess, key: str) -> httpx.Response:
    return httpx.post(gw.base_url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                      json={"model": "local-small", "messages": MSG}, timeout=10)


def redis_errors(gw: GatewayProcess, component: str) -> float:
    found = re.search(rf'turnout_redis_errors_total{{component="{component}"}} (\S+)',
                      httpx.get(gw.base_url + "/metrics").text)
    return float(found.group(1)) if found else 0.0


def test_limits_fail_open_or_closed_per_limit_type(cut_off: GatewayProcess) -> None:
    assert post(cut_off, KEYS["free"]).status_code == 200  # a static key without limits needs no Redis

    closed = post(cut_off, KEYS["metered"])
    assert closed.status_code == 503, closed.text
    assert closed.json()["error"]["code"] == "store_unavailable"
    assert "rate limits" in closed.json()["error"]["message"]

    before = redis_errors(cut_off, "budgets")
    assert post(cut_off, KEYS["budgeted"]).status_code == 200
    assert redis_errors(cut_off, "budgets") == before + 1


def test_keys_only_redis_knows_and_the_admin_api_answer_503_not_500(cut_off: GatewayProcess) -> None:
    unknown = post(cut_off, "tk-" + secrets.token_urlsafe(32))
    assert unknown.status_code == 503 and unknown.json()["error"]["code"] == "store_unavailable"
    master = {"authorization": f"Bearer {MASTER}"}
    for method, path, body in (("POST", "/admin/keys", {"tenant": "t"}), ("GET", "/admin/keys", None),
                               ("GET", "/admin/spend", None), ("DELETE", "/admin/keys/key_0", None)):
        response = httpx.request(method, cut_off.base_url + path, headers=master, json=body, timeout=10)
        assert response.status_code == 503, (method, path, response.text)
        assert response.json()["error"]["code"] == "store_unavailable"
        assert MASTER not in response.text
    assert "Traceback" not in "".join(line for line in cut_off.logs().splitlines() if '"unhandled error"' in line)

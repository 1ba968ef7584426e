"""A key's max tier holds for aliases and for models named by id alike."""

from __future__ import annotations

from pathlib import Path

import yaml
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import base_policy

KEY = "sk-capped-0123456789"


def test_a_capped_key_cannot_reach_a_higher_tier_model_by_its_id(tmp_path: Path) -> None:
    policy = base_policy("http://127.0.0.1:9")  # nothing is called: /v1/route decides only
    policy["auth"] = {"keys": [{"id": "capped", "tenant": "t", "key_env": "CAPPED_KEY", "max_tier": 1}]}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    app = create_app(Settings(policy_path=path, policy_watch_s=0, environ={"CAPPED_KEY": KEY}))
    headers = {"authorization": f"Bearer {KEY}"}
    hard = [{"role": "user", "content": "Write a Python function that implements a thread-safe LRU cache "
                                        "with TTL eviction, and prove its amortized complexity."}]
    with TestClient(app) as client:
        routed = client.post("/v1/route", headers=headers, json={"model": "auto", "messages": hard}).json()
        assert routed["tier"] == 1 and routed["chain"][0] == "local-small"
        ok = client.post("/v1/route", headers=headers, json={"model": "local-small", "messages": hard})
        assert ok.status_code == 200
        refused = client.post("/v1/route", headers=headers, json={"model": "claude-sim", "messages": hard})
        assert refused.status_code == 403
        assert "limited to tier 1" in refused.json()["error"]["message"]

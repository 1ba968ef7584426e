"""Without API keys the gateway serves localhost only, unless the operator opts in."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import DEFAULT_POLICY, Settings

BODY = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/route", "/v1/embeddings"])
def test_keyless_gateway_refuses_remote_clients(path: str) -> None:
    app = create_app(Settings(policy_path=Path(DEFAULT_POLICY), policy_watch_s=0))
    with TestClient(app, client=("192.0.2.10", 40000)) as remote:
        response = remote.post(path, json=BODY)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        assert "localhost only" in response.json()["error"]["message"]
        assert remote.get("/v1/models").status_code == 403
        assert remote.get("/v1/models/auto").status_code == 403
        assert remote.get("/healthz").status_code == 200


def test_operator_may_open_a_keyless_gateway_to_the_network() -> None:
    app = create_app(Settings(policy_path=Path(DEFAULT_POLICY), policy_watch_s=0, allow_open_network=True))
    with TestClient(app, client=("192.0.2.10", 40000)) as remote:
        response = remote.post("/v1/route", json=BODY)
        assert response.status_code == 200 and response.json()["alias"] == "auto"

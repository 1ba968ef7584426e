"""Schemathesis against the gateway's own OpenAPI spec: no 5xx, and every error in the OpenAI shape
(Anthropic's on `/v1/messages`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess
from tests.reliability.conftest import reliability_policy

FUZZ_EXAMPLES = 40


@pytest.fixture(scope="module")
def gateway_schema(rsim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]) -> Any:
    gw = gateway_factory(reliability_policy(rsim.base_url))
    return schemathesis.openapi.from_url(gw.base_url + "/openapi.json")


def test_the_spec_declares_request_bodies(gateway_schema: Any) -> None:
    paths = gateway_schema.raw_schema["paths"]
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/responses"):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["type"] == "object" and body["required"]


def _check(case: Any) -> None:
    response = case.call(timeout=10)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        body = response.json()
        error = body["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["type"], str)
        assert body["type"] == "error" if case.path.startswith("/v1/messages") else "code" in error


def test_no_server_errors_and_errors_are_openai_shaped(gateway_schema: Any) -> None:
    """Every operation under /v1 and the probes, each with generated (valid and invalid) requests."""
    schema = gateway_schema.include(path_regex="^/(v1/|healthz|readyz|metrics)")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            _check(case)

        run()

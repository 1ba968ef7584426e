"""Every bad input gets an OpenAI-shaped JSON error with the right status; never a stack trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import GatewayProcess, base_policy

MSG = [{"role": "user", "content": "hi"}]

CASES: list[tuple[str, Any, int, str, str | None]] = [
    # (case, body (bytes or JSON), status, code, param)
    ("malformed json", b'{"model": "auto", "messages": [', 400, "invalid_json", None),
    ("empty body", b"", 400, "invalid_request", None),
    ("not an object", b"[1, 2]", 400, "invalid_request", None),
    ("missing model", {"messages": MSG}, 400, "invalid_request", "model"),
    ("model wrong type", {"model": 5, "messages": MSG}, 400, "invalid_request", "model"),
    ("missing messages", {"model": "auto"}, 400, "invalid_request", "messages"),
    ("empty messages", {"model": "auto", "messages": []}, 400, "invalid_request", "messages"),
    ("messages wrong type", {"model": "auto", "messages": "hi"}, 400, "invalid_request", "messages"),
    ("unknown role", {"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}, 400,
     "invalid_request", "messages[0].role"),
    ("content wrong type", {"model": "auto", "messages": [{"role": "user", "content": 3}]}, 400,
     "invalid_request", "messages[0].content"),
    ("tool message without id", {"model": "auto", "messages": [{"role": "tool", "content": "x"}]}, 400,
     "invalid_request", "messages[0].tool_call_id"),
    ("temperature out of range", {"model": "auto", "messages": MSG, "temperature": 7}, 400,
     "invalid_request", "temperature"),
    ("n wrong type", {"model": "auto", "messages": MSG, "n": "two"}, 400, "invalid_request", "n"),
    ("max_tokens zero", {"model": "auto", "messages": MSG, "max_tokens": 0}, 400, "invalid_request", "max_tokens"),
    ("stream not bool", {"model": "auto", "messages": MSG, "stream": "yes"}, 400, "invalid_request", "stream"),
    ("bad response_format", {"model": "auto", "messages": MSG, "response_format": {"type": "xml"}}, 400,
     "invalid_request", "response_format.type"),
    ("bad tools", {"model": "auto", "messages": MSG, "tools": [{"type": "function"}]}, 400,
     "invalid_request", "tools[0]"),
    ("unknown part type", {"model": "auto", "messages": [{"role": "user", "content": [{"type": "weird"}]}]}, 400,
     "invalid_request", "messages[0].content[0].type"),
    ("text part a number", {"model": "auto", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
     400, "invalid_request", "messages[0].content[0].text"),
    ("text part null", {"model": "auto", "messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
     400, "invalid_request", "messages[0].content[0].text"),
    ("metadata nested 300 deep", b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], "metadata": '
     + b'{"a": ' * 300 + b"1" + b"}" * 300 + b"}", 400, "invalid_request", "metadata"),
    ("logit_bias nested 1000 deep", b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], '
     b'"logit_bias": {"1": ' + b"[" * 1000 + b"]" * 1000 + b"}}", 400, "invalid_request", "logit_bias"),
    ("role a list", {"model": "auto", "messages": [{"role": ["user"], "content": "x"}]}, 400,
     "invalid_request", "messages[0].role"),  # was a 500: a list hashed into the set of roles
    ("part type an object", {"model": "auto", "messages": [{"role": "user", "content": [{"type": {}}]}]}, 400,
     "invalid_request", "messages[0].content[0].type"),
    ("tool_calls a number", {"model": "claude-sim", "messages": [MSG[0], {"role": "assistant", "content": None,
                                                                           "tool_calls": -1e308}]}, 400,
     "invalid_request", "messages[1].tool_calls"),  # was sent upstream: a 503 on the model's breaker
    ("tool call without id", {"model": "auto", "messages": [MSG[0], {"role": "assistant", "content": None,
                                                                      "tool_calls": [{"function": {"name": "f"}}]}]},
     400, "invalid_request", "messages[1].tool_calls[0]"),
    ("function_call a string", {"model": "auto", "messages": [MSG[0], {"role": "assistant", "content": None,
                                                                        "function_call": "f"}]}, 400,
     "invalid_request", "messages[1].function_call"),
    ("unknown model", {"model": "gpt-nope", "messages": MSG}, 404, "model_not_found", "model"),
    ("embeddings model for chat", {"model": "local-embed", "messages": MSG}, 400, "invalid_request", "model"),
]
FORBIDDEN = ["api_base", "api_key", "base_url", "custom_llm_provider", "api_version", "extra_headers",
             "litellm_logging_obj", "aws_secret_access_key", "vertex_credentials", "organization"]


def _post(gw: GatewayProcess, path: str, body: Any, **kw: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else None
    return httpx.post(gw.base_url + path, content=content, json=None if content is not None else body,
                      timeout=30, **kw)


def _assert_openai_error(response: httpx.Response, status: int, code: str, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert error["code"] == code
    assert "Traceback" not in response.text and "http://" not in error["message"]
    if param is not None:
        assert error["param"] == param
        assert param in error["message"]


@pytest.mark.parametrize(("case", "body", "status", "code", "param"), CASES, ids=[c[0] for c in CASES])
def test_bad_chat_input(gateway: GatewayProcess, case: str, body: Any, status: int, code: str,
                        param: str | None) -> None:
    _assert_openai_error(_post(gateway, "/v1/chat/completions", body), status, code, param)


@pytest.mark.parametrize("field", FORBIDDEN)
def test_clients_cannot_set_provider_overrides(gateway: GatewayProcess, field: str) -> None:
    body = {"model": "auto", "messages": MSG, field: "http://attacker.example/v1"}
    _assert_openai_error(_post(gateway, "/v1/chat/completions", body), 400, "forbidden_parameter", field)
    embed = {"model": "local-embed", "input": "x", field: "sk-stolen"}
    _assert_openai_error(_post(gateway, "/v1/embeddings", embed), 400, "forbidden_parameter", field)


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "local-embed"}, "input"),
    ({"model": "local-embed", "input": []}, "input"),
    ({"model": "local-embed", "input": [1.5]}, "input"),
    ({"model": "local-embed", "input": "x", "encoding_format": "hex"}, "encoding_format"),
])
def test_bad_embeddings_input(gateway: GatewayProcess, body: Any, param: str) -> None:
    _assert_openai_error(_post(gateway, "/v1/embeddings", body), 400, "invalid_request", param)


def test_chat_model_for_embeddings(gateway: GatewayProcess) -> None:
    _assert_openai_error(_post(gateway, "/v1/embeddings", {"model": "local-small", "input": "x"}), 400,
                         "invalid_request", "model")


def test_oversized_body_is_413(gateway: GatewayProcess) -> None:
    big = {"model": "auto", "messages": [{"role": "user", "content": "x" * 70000}]}
    _assert_openai_error(_post(gateway, "/v1/chat/completions", big), 413, "request_too_large")

    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 4096
    response = httpx.post(gateway.base_url + "/v1/chat/completions", content=chunks(), timeout=30)
    _assert_openai_error(response, 413, "request_too_large")


def test_a_cache_control_header_with_non_ascii_digits_is_ignored_not_a_500(gateway: GatewayProcess) -> None:
    response = httpx.post(gateway.base_url + "/v1/chat/completions", json={"model": "auto", "messages": MSG},
                          headers={"cache-control": b"max-age=\xb2"})  # "\u00b2".isdigit() is True; int() refuses it
    assert response.status_code == 200, response.text


def test_unknown_route_and_method(gateway: GatewayProcess) -> None:
    _assert_openai_error(httpx.get(gateway.base_url + "/v1/nothing-here"), 404, "not_found")
    _assert_openai_error(httpx.get(gateway.base_url + "/v1/models/gpt-nope"), 404, "model_not_found", "model")
    assert httpx.get(gateway.base_url + "/v1/models/auto").json() == {
        "id": "auto", "object": "model", "created": 0, "owned_by": "turnout-router"}
    _assert_openai_error(httpx.get(gateway.base_url + "/v1/chat/completions"), 405, "method_not_allowed")


def test_context_window_exceeded_is_a_400(gateway: GatewayProcess) -> None:
    long = {"model": "local-small", "messages": [{"role": "user", "content": "word " * 6000}]}
    _assert_openai_error(_post(gateway, "/v1/chat/completions", long), 400, "context_length_exceeded")


UPSTREAM_FAULTS = [
    ("error-500", 502, "all_attempts_failed"),
    ("error-503", 503, "service_unavailable"),
    ("rate-limit", 429, "rate_limit_exceeded"),
    ("timeout-3000ms", 504, "upstream_timeout"),
    ("reset", 503, "service_unavailable"),
]


@pytest.fixture(scope="module")
def faulty_gateway(sim: Any, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    policy = base_policy(sim.base_url)
    policy["models"] += [  # type: ignore[operator]
        {"id": name, "litellm_model": f"openai/{name}", "api_base": f"{sim.base_url}/v1",
         "timeouts": {"total": 1, "first_token": 1}} for name, _, _ in UPSTREAM_FAULTS]
    policy["models"].append({"id": "needs-key", "litellm_model": "openai/local-small",  # type: ignore[attr-defined]
                             "api_base": f"{sim.base_url}/v1", "api_key_env": "TURNOUT_TEST_UNSET_KEY"})
    return gateway_factory(policy)


@pytest.mark.parametrize(("model", "status", "code"), UPSTREAM_FAULTS, ids=[f[0] for f in UPSTREAM_FAULTS])
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_failures_map_to_gateway_statuses(faulty_gateway: GatewayProcess, model: str, status: int,
                                                   code: str, stream: bool) -> None:
    response = _post(faulty_gateway, "/v1/chat/completions", {"model": model, "messages": MSG, "stream": stream})
    _assert_openai_error(response, status, code)
    assert "127.0.0.1" not in response.text
    assert f"{model}: error" in response.json()["error"]["message"]  # the attempts, summarised
    if status == 429:
        assert int(response.headers["retry-after"]) >= 1


def test_model_with_missing_key_is_unavailable_not_a_crash(faulty_gateway: GatewayProcess) -> None:
    assert "needs-key" not in {m["id"] for m in httpx.get(faulty_gateway.base_url + "/v1/models").json()["data"]}
    response = _post(faulty_gateway, "/v1/chat/completions", {"model": "needs-key", "messages": MSG})
    _assert_openai_error(response, 503, "service_unavailable")
    assert "TURNOUT_TEST_UNSET_KEY" in faulty_gateway.logs()
    assert httpx.get(faulty_gateway.base_url + "/readyz").status_code == 200

"""Valid requests with one to three values changed anywhere inside (wrong types, huge numbers, NaN,
lone surrogates, deep nesting, keys removed or added): every answer is a success or a 4xx in the
endpoint's error shape, never a 5xx. A 5xx here is either a crash (a list where a string was
expected, hashed into a set) or a client's garbage sent upstream, where the model's breaker would
count it. `TURNOUT_FUZZ_SEED` and `TURNOUT_FUZZ_REQUESTS` widen the search; the defaults are the CI's."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, redis_prefix
from tests.gateway.tenancy_harness import REDIS_URL, Secrets, gateway_env, tenancy_policy

MESSAGES = [{"role": "user", "content": "hi there"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
TARGETS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/chat/completions", {"model": "auto", "messages": MESSAGES, "max_tokens": 20, "temperature": 0.5,
                              "tools": [TOOL], "tool_choice": "auto", "response_format": {"type": "json_object"},
                              "stop": ["x"], "n": 1, "user": "u", "metadata": {"a": "b"}}),
    ("/v1/chat/completions", {"model": "local-small", "messages": MESSAGES, "stream": True,
                              "stream_options": {"include_usage": True}}),
    ("/v1/chat/completions", {"model": "claude-sim", "messages": [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"}]}),
    ("/v1/embeddings", {"model": "local-embed", "input": ["a", "b"], "encoding_format": "float"}),
    ("/v1/responses", {"model": "auto", "instructions": "be brief", "max_output_tokens": 20,
                       "input": [{"role": "user", "content": "hi"},
                                 {"type": "function_call_output", "call_id": "c", "output": "x"}],
                       "text": {"format": {"type": "json_object"}},
                       "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}),
    ("/v1/messages", {"model": "auto", "max_tokens": 20, "system": [{"type": "text", "text": "s"}],
                      "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                      "stop_sequences": ["z"], "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                      "tool_choice": {"type": "auto"}}),
    ("/v1/messages", {"model": "local-small", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}],
                      "stream": True}),
    ("/v1/messages", {"model": "claude-sim", "max_tokens": 30, "temperature": 0.2, "top_k": 5, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "weather?"}, {"type": "image", "source": {
            "type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": False,
                                      "content": [{"type": "text", "text": "sunny"}]}]}],
        "tools": [{"name": "w", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "tool", "name": "w", "disable_parallel_tool_use": True}}),
    ("/v1/responses", {"model": "local-small", "stream": True, "store": False, "parallel_tool_calls": False, "input": [
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "hi"}, {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "r"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}],
        "tool_choice": {"type": "function", "name": "f"},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}, "strict": True}}}),
    ("/v1/chat/completions", {"model": "auto", "stream": True, "stream_options": {"include_usage": True},
                              "messages": [{"role": "developer", "content": "d"}, {"role": "user", "content": "q"}],
                              "response_format": {"type": "json_schema", "json_schema": {
                                  "name": "s", "schema": {"type": "object"}, "strict": True}},
                              "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "f"}},
                              "logit_bias": {"50256": -100}, "logprobs": True, "top_logprobs": 2, "seed": 1,
                              "max_completion_tokens": 30, "parallel_tool_calls": False}),
    ("/v1/messages/count_tokens", {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/route", {"model": "auto", "messages": MESSAGES}),
    ("/v1/feedback", {"request_id": "abc", "score": 0.5, "scores": {"local-small": 1.0}}),
]
DEEP = json.loads("[" * 40 + "1" + "]" * 40)
ODD: list[Any] = [None, True, False, -1, 0, 2**64, -(2**63), 1e308, 0.5, "", "x" * 70_000, [], {}, [None],
                  {"": None}, "\u00b2", "\u0000", DEEP, {"type": "text"}, ["a"] * 3000, {"role": "user"},
                  [{"role": "user", "content": "x"}], "\u202e", -0.0]
RAW = ["NaN", "Infinity", "-Infinity", '"\\ud800"', "1e999", "123456789012345678901234567890"]
KEYS = ["api_base", "base_url", "api_key", "extra", "model", "stream", "type", "role"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        found += _paths(inner, (*prefix, key))
    return found


def mutate(body: dict[str, Any], rng: random.Random) -> str:
    body = copy.deepcopy(body)
    raw: list[str] = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        paths = _paths(body)
        if not paths:
            break
        *parents, last = rng.choice(paths)
        holder: Any = body
        for key in parents:
            holder = holder[key]
        roll = rng.random()
        if roll < 0.12:
            del holder[last]
        elif roll < 0.2 and isinstance(holder, dict):
            holder[rng.choice(KEYS)] = copy.deepcopy(rng.choice(ODD))
        elif roll < 0.35:
            holder[last] = f"__raw{len(raw)}__"
            raw.append(rng.choice(RAW))
        else:
            holder[last] = copy.deepcopy(rng.choice(ODD))
    text = json.dumps(body)
    for i, token in enumerate(raw):
        text = text.replace(f'"__raw{i}__"', token)
    return text


def _shaped(path: str, response: httpx.Response) -> bool:
    try:
        data = response.json()
    except ValueError:
        return False
    if path.startswith("/v1/messages"):
        return (isinstance(data, dict) and data.get("type") == "error" and isinstance(data.get("error"), dict)
                and {"type", "message"} <= data["error"].keys())
    return isinstance(data, dict) and isinstance(data.get("error"), dict) and {"message", "type", "code"} <= data[
        "error"].keys()


ADMIN_TARGETS: list[tuple[str, dict[str, Any]]] = [
    ("/admin/keys", {"tenant": "acme", "name": "notebook", "max_tier": 2, "allowed_models": ["local-small"],
                     "allowed_aliases": ["auto"], "limits": {"requests_per_minute": 5, "budget_usd_per_day": 1.5}}),
    ("/admin/cache/purge", {"tenant": "acme", "route": "auto"}),
    ("/admin/reload", {}),
    ("/admin/keys/acme-1/rotate", {}),
]


async def _run(base_url: str, seed: int, count: int, targets: list[tuple[str, dict[str, Any]]] = TARGETS,
               headers: dict[str, str] | None = None, issued: list[str] | None = None) -> list[str]:
    rng = random.Random(seed)
    cases = [(path, mutate(body, rng)) for path, body in (rng.choice(targets) for _ in range(count))]
    problems: list[str] = []
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        async def one(path: str, text: str) -> None:
            async with limit:
                try:
                    response = await client.post(path, content=text.encode("utf-8", "surrogatepass"),
                                                 headers={"content-type": "application/json", **(headers or {})})
                except httpx.TransportError as exc:  # the server dropped the connection: it crashed
                    problems.append(f"{type(exc).__name__} {path} {text[:300]}")
                    return
            if response.status_code == 201 and issued is not None:
                issued.append(response.json()["key"])
            if response.status_code >= 500:
                problems.append(f"{response.status_code} {path} {text[:300]} -> {response.text[:200]}")
            elif response.status_code >= 400 and not _shaped(path, response):
                problems.append(f"unshaped {response.status_code} {path} {text[:300]} -> {response.text[:200]}")

        await asyncio.gather(*(one(path, text) for path, text in cases))
    return problems


def test_mutated_requests_get_an_answer_or_a_shaped_4xx(gateway: GatewayProcess) -> None:
    seed = int(os.environ.get("TURNOUT_FUZZ_SEED", "1"))
    count = int(os.environ.get("TURNOUT_FUZZ_REQUESTS", "400"))
    problems = asyncio.run(_run(gateway.base_url, seed, count))
    assert not problems, "\n".join(problems[:10])
    assert httpx.get(gateway.base_url + "/healthz", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def admin_gateway(sim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]
                  ) -> Iterator[tuple[GatewayProcess, Secrets]]:
    for prefix in redis_prefix("fuzz", REDIS_URL):
        keys = Secrets()
        gw = gateway_factory(tenancy_policy(sim.base_url, prefix), env=gateway_env(keys))
        yield gw, keys
        gw.stop()  # before the prefix's keys are deleted


def test_mutated_admin_requests_get_an_answer_or_a_shaped_4xx(admin_gateway: tuple[GatewayProcess, Secrets]
                                                              ) -> None:
    gw, keys = admin_gateway
    seed = int(os.environ.get("TURNOUT_FUZZ_SEED", "1"))
    count = int(os.environ.get("TURNOUT_FUZZ_REQUESTS", "400")) // 2
    problems = asyncio.run(_run(gw.base_url, seed, count, ADMIN_TARGETS, {"authorization": f"Bearer {keys.master}"},
                                keys.issued))
    assert not problems, "\n".join(problems[:10])
    for path in ("/admin/keys?tenant=%00", "/admin/spend?tenant=%ff", "/admin/spend?key=" + "x" * 5000):
        response = httpx.get(gw.base_url + path, headers={"authorization": f"Bearer {keys.master}"}, timeout=10)
        assert response.status_code < 500 and (response.status_code < 400 or _shaped(path, response)), path
    assert keys.issued  # some mutated requests still create a key: their secrets are checked too
    leaked = [secret for secret in keys.all() if secret in gw.logs()]
    assert not leaked

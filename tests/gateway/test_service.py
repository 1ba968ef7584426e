"""The request path in-process: the app from `create_app`, its lifespan run for real, a scripted
upstream (the router tests' fake, at our `Upstream` interface) and httpx's ASGI transport as the
client. Beside the real-process tests: these show what the gateway itself does, with no network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from gateway.app import create_app
from gateway.settings import Settings
from router.errors import UpstreamUnavailable
from tests.conftest import base_policy
from tests.router.fakes import Fail, ScriptedUpstream, Step, Stream, chunk, text_stream

MSG = [{"role": "user", "content": "hello"}]


def _policy(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = base_policy("http://127.0.0.1:9")  # never called: the scripted upstream answers
    chain = ["local-small", "local-medium"]
    doc["router"] = {"default_model": "local-medium", "aliases": {"auto": {"tiers": {1: chain, 2: chain, 3: chain}}},
                     "retry": {"max_attempts_per_model": 1, "backoff_base_s": 0.0, "backoff_max_s": 0.0}}
    doc.update(extra)
    return doc


@asynccontextmanager
async def gateway(tmp_path: Path, scripts: dict[str, list[Step]], **policy: Any) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(_policy(**policy), sort_keys=False))
    upstream = ScriptedUpstream(scripts)
    app = create_app(Settings(policy_path=path, policy_watch_s=0), upstream=upstream)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            client.upstream = upstream  # type: ignore[attr-defined]
            yield client


def _events(text: str) -> list[Any]:
    return [line[len("data: "):] if line == "data: [DONE]" else orjson.loads(line[len("data: "):])
            for line in text.split("\n") if line.startswith("data: ")]


async def test_plain_chat(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}) as client:
        reply = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG,
                                                                "turnout": {"max_tier": 1}},
                                  headers={"x-request-id": "req-1"})
        sent = client.upstream.requests[0].body  # type: ignore[attr-defined]
    assert reply.status_code == 200, reply.text
    assert "turnout" not in sent  # routing hints are the gateway's, never sent upstream
    body = reply.json()
    assert body["choices"][0]["message"]["content"] == "answer from local-small"
    assert body["model"] == "local-small"
    assert reply.headers["x-turnout-model"] == "local-small"
    assert reply.headers["x-turnout-attempts"] == "1"
    assert reply.headers["x-request-id"] == "req-1"
    assert reply.headers["x-turnout-policy-version"] == "test-1"


async def test_stream(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"local-small": [text_stream("local-small", "Hel", "lo")]}) as client:
        reply = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG, "stream": True})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = _events(reply.text)
    assert events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == "Hello"
    assert {e["model"] for e in events[:-1]} == {"local-small"}


async def test_fallback_to_the_next_model(tmp_path: Path) -> None:
    scripts: dict[str, list[Step]] = {"local-small": [Fail(UpstreamUnavailable("local-small: down"))]}
    async with gateway(tmp_path, scripts) as client:
        reply = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG})
        called = client.upstream.called()  # type: ignore[attr-defined]
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "answer from local-medium"
    assert reply.headers["x-turnout-model"] == "local-medium"
    assert reply.headers["x-turnout-attempts"] == "2"
    assert called == ["local-small", "local-medium"]


async def test_stream_falls_back_before_its_first_byte(tmp_path: Path) -> None:
    scripts: dict[str, list[Step]] = {"local-small": [Stream([UpstreamUnavailable("local-small: cut")])],
                                      "local-medium": [text_stream("local-medium", "ok")]}
    async with gateway(tmp_path, scripts) as client:
        reply = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG, "stream": True})
    events = _events(reply.text)
    assert reply.status_code == 200 and events[-1] == "[DONE]"
    assert {e["model"] for e in events[:-1]} == {"local-medium"}


async def test_every_model_failing_is_an_openai_error(tmp_path: Path) -> None:
    down: list[Step] = [Fail(UpstreamUnavailable("down"))]
    async with gateway(tmp_path, {"local-small": down, "local-medium": list(down)}) as client:
        reply = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG})
    assert reply.status_code in (502, 503), reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "local-small" in error["message"] and "local-medium" in error["message"]


async def test_a_stream_cut_after_its_first_byte_ends_with_an_error_event(tmp_path: Path) -> None:
    cut = Stream([chunk("local-small", role=True), chunk("local-small", "par"), UpstreamUnavailable("cut")])
    async with gateway(tmp_path, {"local-small": [cut]}) as client:
        reply = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG, "stream": True})
    events = _events(reply.text)
    assert reply.status_code == 200
    assert "[DONE]" not in events
    assert "error" in events[-1] and set(events[-1]["error"]) >= {"message", "type", "code"}


async def test_bad_input_is_a_400_before_any_upstream_call(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}) as client:
        reply = await client.post("/v1/chat/completions", json={"model": "auto", "messages": []})
        unknown = await client.post("/v1/chat/completions", json={"model": "gpt-9", "messages": MSG})
        calls = client.upstream.calls  # type: ignore[attr-defined]
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "messages"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert calls == []


async def test_the_cache_answers_the_second_identical_request(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}, cache={"enabled": True}) as client:
        first = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG})
        second = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG})
        calls = len(client.upstream.calls)  # type: ignore[attr-defined]
    assert (first.headers["x-turnout-cache"], second.headers["x-turnout-cache"]) == ("miss", "hit-exact")
    assert second.json()["choices"] == first.json()["choices"]
    assert calls == 1


# ------------------------------------------------------------------------------------------- reload


async def test_reload_applies_a_guardrail_and_lists_the_section(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}) as client:
        assert (await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG})).status_code == 200
        doc = _policy(version="test-2", guardrails={"default": "strict", "profiles": {
            "strict": {"input": {"deny": {"patterns": ["hello"]}}}}})
        (tmp_path / "policy.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        reloaded = (await client.post("/admin/reload")).json()
        blocked = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG})
    assert reloaded["ok"] and reloaded["applied"] == ["version", "guardrails"]
    assert blocked.status_code == 400 and blocked.json()["error"]["code"] == "guardrail_violation"


async def test_restart_sections_refuse_the_reload(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}) as client:
        path = tmp_path / "policy.yaml"
        refused = {}
        for section, edit in (("tracing", {"tracing": {"enabled": False}}),
                              ("protocols", {"protocols": {"responses_ttl_s": 60}}),
                              ("router.breaker.shared", {"router": {**_policy()["router"],
                                                                    "breaker": {"shared": True}}})):
            path.write_text(yaml.safe_dump(_policy(version="test-2", server={"max_body_bytes": 10}, **edit)))
            refused[section] = await client.post("/admin/reload")
        served = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG})
    for section, reply in refused.items():
        body = reply.json()
        assert reply.status_code == 409 and body["restart_required"] == [section], body
        assert body["version"] == "test-1" and body["applied"] == []
        assert f"{section}: changed, and this section needs a restart" in body["errors"][0]
    assert served.status_code == 200  # the old body limit still serves: nothing of the edit was applied
    assert served.headers["x-turnout-policy-version"] == "test-1"

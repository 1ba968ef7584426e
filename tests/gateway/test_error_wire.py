"""The error bytes on the wire, pinned: one per kind of error and per layer that renders it.

Errors leave the gateway through one renderer (`gateway.errors`), whether FastAPI's exception
handlers, the fast path, the load shedder or a stream cut after its first byte writes them. These
tests hold the exact status, headers and body bytes, so moving that code cannot change what
clients read. The app comes from `create_app` with a scripted upstream (see `test_service.py`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import Settings
from router.errors import RateLimited, UpstreamUnavailable
from tests.conftest import base_policy
from tests.router.fakes import Fail, Ok, ScriptedUpstream, Step, Stream, chunk

MSG = [{"role": "user", "content": "hello"}]
RID = {"x-request-id": "req-wire"}
KEY = "sk-wire-test-key-0123456789"


def _policy(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = base_policy("http://127.0.0.1:9")  # never called: the scripted upstream answers
    chain = ["local-small", "local-medium"]
    doc["router"] = {"default_model": "local-medium", "aliases": {"auto": {"tiers": {1: chain, 2: chain, 3: chain}}},
                     "retry": {"max_attempts_per_model": 1, "backoff_base_s": 0.0, "backoff_max_s": 0.0}}
    doc["server"] = {"max_body_bytes": 2048, "max_in_flight": 1}
    doc["guardrails"] = {"default": "strict", "profiles": {"strict": {"input": {"deny": {"patterns": ["forbidden"]}}}}}
    doc.update(extra)
    return doc


@asynccontextmanager
async def gateway(tmp_path: Path, scripts: dict[str, list[Step]], environ: dict[str, str] | None = None,
                  **policy: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(_policy(**policy), sort_keys=False))
    settings = Settings(policy_path=path, policy_watch_s=0, environ=environ or {})
    app = create_app(settings, upstream=ScriptedUpstream(scripts))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield app, client


def wire(reply: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    """What a client reads: the status, the headers an error sets, the body bytes."""
    kept = ("content-type", "retry-after", "connection", "x-request-id")
    return reply.status_code, {k: reply.headers[k] for k in kept if k in reply.headers}, reply.content


JSON = "application/json"


def _err(message: str, type_: str, code: str, param: str | None = None) -> bytes:
    p = "null" if param is None else f'"{param}"'
    return f'{{"error":{{"message":"{message}","type":"{type_}","param":{p},"code":"{code}"}}}}'.encode()


async def test_fast_path_request_errors(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}) as (_, client):
        post = client.post
        malformed = await post("/v1/chat/completions", content=b"{not json", headers=RID)
        empty = await post("/v1/chat/completions", json={"model": "auto", "messages": []}, headers=RID)
        forbidden = await post("/v1/chat/completions", json={"model": "auto", "messages": MSG,
                                                             "api_base": "http://x"}, headers=RID)
        unknown = await post("/v1/chat/completions", json={"model": "gpt-9", "messages": MSG}, headers=RID)
        large = await post("/v1/chat/completions", json={"model": "auto", "messages": [
            {"role": "user", "content": "x" * 4000}]}, headers=RID)
        guarded = await post("/v1/chat/completions", json={"model": "auto", "messages": [
            {"role": "user", "content": "a forbidden word"}]}, headers=RID)
    assert wire(malformed) == (400, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "the request body is not valid JSON", "invalid_request_error", "invalid_json"))
    assert wire(empty) == (400, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "messages: must be a non-empty list", "invalid_request_error", "invalid_request", "messages"))
    assert wire(forbidden) == (400, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "api_base: clients may not set provider overrides; upstreams are configured in the Turnout policy",
        "invalid_request_error",
        "forbidden_parameter", "api_base"))
    assert wire(unknown) == (404, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "model 'gpt-9' does not exist; GET /v1/models lists the models and aliases", "invalid_request_error",
        "model_not_found", "model"))
    assert wire(large) == (413, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "request body of 4058 bytes exceeds the limit of 2048 bytes", "invalid_request_error",
        "request_too_large"))
    assert wire(guarded) == (400, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "blocked by guardrail input.deny (pattern[0])", "invalid_request_error", "guardrail_violation"))


async def test_fast_path_upstream_errors(tmp_path: Path) -> None:
    down: list[Step] = [Fail(UpstreamUnavailable("down"))]
    limited: list[Step] = [Fail(RateLimited("limited", retry_after=7.0))]
    async with gateway(tmp_path, {"local-small": down, "local-medium": list(down)}) as (_, client):
        failed = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG}, headers=RID)
    async with gateway(tmp_path, {"local-small": limited, "local-medium": list(limited)}) as (_, client):
        throttled = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG}, headers=RID)
    assert wire(failed) == (503, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "all models failed (2 calls): local-small: error UpstreamUnavailable (503); "
        "local-medium: error UpstreamUnavailable (503)", "upstream_error", "service_unavailable"))
    assert wire(throttled) == (429, {"content-type": JSON, "retry-after": "7", "x-request-id": "req-wire"}, _err(
        "all models failed (2 calls): local-small: error RateLimited (429); local-medium: error RateLimited (429)",
        "rate_limit_error", "rate_limit_exceeded"))


async def test_authentication_errors(tmp_path: Path) -> None:
    auth = {"keys": [{"id": "k1", "tenant": "acme", "key_env": "WIRE_KEY"}]}
    async with gateway(tmp_path, {}, {"WIRE_KEY": KEY}, auth=auth) as (_, client):
        fast = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG},
                                 headers={**RID, "authorization": "Bearer sk-wrong"})
        models = await client.get("/v1/models", headers={**RID, "authorization": "Bearer sk-wrong"})
        missing = await client.get("/v1/models", headers=RID)
        unnamed = await client.get("/v1/models")
        fast_unnamed = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG})
    bad_key = _err("invalid API key", "authentication_error", "invalid_api_key")
    assert wire(fast) == (401, {"content-type": JSON, "x-request-id": "req-wire"}, bad_key)
    # FastAPI's routes: the client's request id, as on the fast path
    assert wire(models) == (401, {"content-type": JSON, "x-request-id": "req-wire"}, bad_key)
    assert wire(missing) == (401, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "missing API key: send 'Authorization: Bearer <key>'", "authentication_error", "invalid_api_key"))
    # no id sent: one is made up, the same way on both paths (32 hex digits)
    for reply in (unnamed, fast_unnamed):
        assert reply.status_code == 401 and len(reply.headers["x-request-id"]) == 32
    assert unnamed.headers["x-request-id"] != fast_unnamed.headers["x-request-id"]


async def test_fastapi_errors(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}) as (_, client):
        nowhere = await client.get("/v1/nowhere", headers=RID)
        method = await client.get("/v1/chat/completions", headers=RID)
        route = await client.post("/v1/route", content=b"[1]", headers=RID)
    assert wire(nowhere) == (404, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "no route for GET /v1/nowhere", "invalid_request_error", "not_found"))
    assert wire(method) == (405, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "Method Not Allowed", "invalid_request_error", "method_not_allowed"))
    assert wire(route) == (400, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "the request body must be a JSON object", "invalid_request_error", "invalid_request"))


async def test_shedder_errors(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"local-small": [Ok(delay=0.5)]}) as (app, client):
        slow = asyncio.create_task(client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG}))
        await asyncio.sleep(0.1)
        shed = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG}, headers=RID)
        assert (await slow).status_code == 200
        app.state.gate.draining = True  # what SIGTERM sets
        draining = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG}, headers=RID)
        ready = await client.get("/readyz", headers=RID)
    assert wire(shed) == (503, {"content-type": JSON, "retry-after": "1", "x-request-id": "req-wire"}, _err(
        "the gateway is at its limit of 1 requests in flight; retry shortly", "server_error", "overloaded"))
    assert wire(draining) == (503, {"content-type": JSON, "connection": "close", "x-request-id": "req-wire"}, _err(
        "the gateway is shutting down; retry elsewhere", "server_error", "shutting_down"))
    assert wire(ready) == (503, {"content-type": JSON, "x-request-id": "req-wire"}, _err(
        "the gateway is shutting down", "server_error", "shutting_down"))


async def test_a_stream_cut_after_its_first_byte(tmp_path: Path) -> None:
    cut = Stream([chunk("local-small", role=True), chunk("local-small", "par"),
                  UpstreamUnavailable("local-small: cut")])
    async with gateway(tmp_path, {"local-small": [cut]}) as (_, client):
        reply = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG, "stream": True},
                                  headers=RID)
    assert reply.status_code == 200
    last = reply.content.split(b"\n\n")[-2]
    assert last + b"\n\n" == b"data: " + _err("local-small: cut", "upstream_error", "service_unavailable") + b"\n\n"


async def test_anthropic_shape(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}) as (_, client):
        unknown = await client.post("/v1/messages", json={"model": "gpt-9", "max_tokens": 10, "messages": MSG},
                                    headers=RID)
    assert wire(unknown) == (404, {"content-type": JSON, "x-request-id": "req-wire"},
                             b'{"type":"error","error":{"type":"not_found_error","message":"model \'gpt-9\' does not '
                             b'exist; GET /v1/models lists the models and aliases"}}')


@pytest.mark.redis
async def test_a_key_over_its_rate_limit(tmp_path: Path) -> None:
    environ = {"WIRE_KEY": KEY, "WIRE_REDIS_URL": "redis://127.0.0.1:6379/0"}
    prefix = f"wire-{uuid.uuid4().hex[:8]}"
    auth = {"redis_prefix": prefix, "keys": [{"id": "k1", "tenant": "acme", "key_env": "WIRE_KEY",
                                              "limits": {"requests_per_minute": 1}}]}
    async with gateway(tmp_path, {}, environ, auth=auth, redis={"url_env": "WIRE_REDIS_URL"}) as (_, client):
        sent = {**RID, "authorization": f"Bearer {KEY}"}
        assert (await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG},
                                  headers=sent)).status_code == 200
        refused = await client.post("/v1/chat/completions", json={"model": "auto", "messages": MSG}, headers=sent)
    status, headers, body = wire(refused)
    assert (status, headers["content-type"], headers["x-request-id"]) == (429, JSON, "req-wire")
    assert 1 <= int(headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit-requests"] == "1"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert body == _err("rate limit reached for this key or tenant", "rate_limit_error",
                        "rate_limit_exceeded")

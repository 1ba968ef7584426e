"""The shipped policies with one to three values changed anywhere (wrong types, 0, -1, 2**63, 1e308,
.inf, .nan, empty or huge strings, keys removed): loading either refuses the file with `ConfigError`
or accepts it, never anything else; and a policy it accepts serves without a 500, its upstreams
down so that breakers open (`reset_timeout_s: .inf` validated, and every request through an opened
breaker was a 500). `TURNOUT_FUZZ_SEED` and `TURNOUT_FUZZ_POLICIES` widen the search."""

from __future__ import annotations

import asyncio
import copy
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from gateway.app import create_app
from gateway.config import parse_policy
from gateway.settings import Settings
from gateway.yamlpath import ConfigError
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "policies" / "default.yaml", ROOT / "policies" / "local.yaml",
           ROOT / "deploy" / "policy" / "policy.yaml"]
ODD: list[Any] = [0, -1, 1, 2**63, -2**63, 1e308, 1e12, 1e-9, float("nan"), float("inf"), "", "x" * 5000, [], {},
                  [1], {"a": 1}, True, None, "0", "nan", "\u00b2", "http://", "${HOME}"]
SEED = int(os.environ.get("TURNOUT_FUZZ_SEED", "1"))
COUNT = int(os.environ.get("TURNOUT_FUZZ_POLICIES", "600"))


def _places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in children:
        yield from _places(value, (*path, key))


def _mutated(rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(list(_places(doc)))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if rng.random() < 0.15:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD))
    return doc


def _bases(upstream: str) -> list[dict[str, Any]]:
    """The shipped policies, every model pointed at a port nobody listens on."""
    bases = []
    for path in SHIPPED:
        doc = yaml.safe_load(path.read_text())
        for model in doc["models"]:
            if "api_base" in model:
                model["api_base"] = re.sub(r"^https?://[^/]+", upstream, model["api_base"])
        bases.append(doc)
    return bases


def test_loading_a_mutated_policy_accepts_it_or_says_why() -> None:
    rng = random.Random(SEED)
    bases = _bases("http://127.0.0.1:9")
    accepted = 0
    for _ in range(COUNT):
        text = yaml.safe_dump(_mutated(rng, rng.choice(bases)), allow_unicode=True)
        try:
            parse_policy(text, "fuzz.yaml")
            accepted += 1
        except ConfigError as exc:
            assert exc.issues and all(i.message for i in exc.issues)
    assert 0 < accepted < COUNT  # the mutations reach both outcomes


async def _serve(path: Path) -> list[str]:
    app = create_app(Settings(policy_path=path, policy_watch_s=0, environ={**os.environ, "TURNOUT_MASTER_KEY": ""}))
    problems = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=60) as client:
            for stream in (False, False, False, True, False):  # enough failures to open the breakers
                reply = await client.post("/v1/chat/completions", json={
                    "model": "auto", "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
                if reply.status_code == 500:
                    problems.append(f"chat (stream={stream}): {reply.text[:200]}")
            for endpoint in ("/v1/models", "/metrics", "/readyz", "/admin/breakers"):
                if (reply := await client.get(endpoint)).status_code == 500:
                    problems.append(f"{endpoint}: {reply.text[:200]}")
    return problems


def _extremes(base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`base` with each number of its router and of its first model set to 1e12, one at a time."""
    for path in _places(base):
        if not (path[0] == "router" or path[:2] == ("models", 0)):
            continue
        parent = base
        for part in path[:-1]:
            parent = parent[part]
        value = parent[path[-1]]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parent[path[-1]] = 1e12
            yield copy.deepcopy(base)
            parent[path[-1]] = value


def test_an_accepted_mutated_policy_serves_without_a_500(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    bases = _bases(f"http://127.0.0.1:{free_port()}")
    local = bases[1]  # the one with breaker settings: fail_max 3, so they open within five requests
    candidates = [*_extremes(local), *(_mutated(rng, rng.choice(bases)) for _ in range(40))]
    served: list[tuple[str, list[str]]] = []
    for doc in candidates:
        doc.pop("redis", None)  # in-process stores: no Redis state shared with other tests
        text = yaml.safe_dump(doc, allow_unicode=True)
        try:
            parse_policy(text, "fuzz.yaml")
        except ConfigError:
            continue
        path = tmp_path / f"p{len(served)}.yaml"
        path.write_text(text)
        served.append((text, asyncio.run(_serve(path))))
        if len(served) >= 16:
            break
    failed = [f"{problems}\n{text}" for text, problems in served if problems]
    assert len(served) >= 10 and not failed, failed[:1]

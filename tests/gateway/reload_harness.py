"""What the reload tests share (`test_reload_sections.py`): policies written atomically, replicas
started on one file, reloads by each trigger, and a chat through the real `openai` SDK."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, base_policy

REDIS_URL = "redis://127.0.0.1:6379/0"


KEY = "tk-reload-" + uuid.uuid4().hex


ENV = {"TURNOUT_REDIS_URL": REDIS_URL, "RELOAD_TEST_KEY": KEY, "TURNOUT_MASTER_KEY": ""}


Pair = tuple[GatewayProcess, GatewayProcess]


def write_policy(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)  # atomic, as editors and Kubernetes do it


class Edits:
    """Builds this module's policies: one Redis, keys and cache under the module's prefix."""

    def __init__(self, sim: SimulatorProcess, prefix: str) -> None:
        self.sim, self.prefix, self.count = sim, prefix, 0

    def base(self, *, keys: bool = False, cache: bool = False) -> dict[str, Any]:
        self.count += 1
        doc: dict[str, Any] = base_policy(self.sim.base_url)
        doc["version"] = f"r{self.count}"
        doc["redis"] = {"url_env": "TURNOUT_REDIS_URL", "timeout_s": 2.0}
        doc["cache"] = {"enabled": cache, "key_prefix": f"{self.prefix}:cache:{self.count}",
                        "lookup_timeout_ms": 2000, "write_timeout_ms": 2000}  # a busy test machine
        doc["auth"] = {"redis_prefix": f"{self.prefix}:{self.count}"}
        if keys:
            doc["auth"]["keys"] = [{"id": "k1", "tenant": "acme", "key_env": "RELOAD_TEST_KEY"}]
        return doc

    def next(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        return {**doc, "version": f"r{self.count}"}


def start_pair(factory: Callable[..., GatewayProcess], path: Path, doc: dict[str, Any], watch_s: str) -> Pair:
    write_policy(path, doc)
    env = {**ENV, "TURNOUT_POLICY_WATCH_S": watch_s}
    return factory(path, env=env), factory(path, env=env)


def policy_path(gw: GatewayProcess) -> Path:
    argv = gw.process.args
    assert isinstance(argv, list)
    return Path(argv[argv.index("--policy") + 1])


def served_version(gw: GatewayProcess) -> str:
    version: str = httpx.get(gw.base_url + "/readyz", timeout=10).json()["checks"]["policy"]["version"]
    return version


def wait_version(gws: Pair, version: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while {served_version(gw) for gw in gws} != {version}:
        assert time.monotonic() < deadline, f"not every replica serves {version}: {[served_version(g) for g in gws]}"
        time.sleep(0.1)


def admin_reload(gws: Pair) -> list[httpx.Response]:
    return [httpx.post(gw.base_url + "/admin/reload", timeout=60) for gw in gws]


def apply(gws: Pair, doc: dict[str, Any], how: str = "admin") -> list[dict[str, Any]]:
    """Write `doc`, have every replica reload it (`admin`, `sighup` or `watch`), wait until they serve it."""
    write_policy(policy_path(gws[0]), doc)
    replies: list[dict[str, Any]] = []
    if how == "admin":
        for reply in admin_reload(gws):
            assert reply.status_code == 200, reply.text
            replies.append(reply.json())
    elif how == "sighup":
        for gw in gws:
            os.kill(gw.process.pid, signal.SIGHUP)
    wait_version(gws, doc["version"])
    return replies


def chat(gw: GatewayProcess, content: str = "hello", *, key: str = "none", model: str = "auto",
         **extra: Any) -> tuple[int, Any, Any]:
    """(status, headers, body or error body) of one chat request through the real `openai` SDK."""
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0, timeout=30)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": content}], **extra)
        return 200, raw.headers, raw.parse()
    except openai.APIStatusError as exc:
        return exc.status_code, exc.response.headers, exc.body
    finally:
        client.close()


# ------------------------------------------------------------------------------------ keys, tenants

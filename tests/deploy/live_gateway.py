"""Real gateways for the live Prometheus check: their policies, a stalled Redis, and the traffic.

Two `turnout serve` processes over the simulator, both scraped:
- `main`: real Redis (exact and semantic cache), a `flaky` alias whose chain starts with `error-500`
  (fallbacks), `error-500` pinned (5xx, then its breaker opens: `fail_max` 2), unknown models (4xx),
  streams (time to first token), repeated prompts (exact and semantic hits); its policy file is the
  one it watches, so a broken edit is a rejected reload.
- `stalled`: Redis is a socket that accepts and never answers (`BlackHole`), so every rate-limit call
  times out: Redis errors, and that wait is gateway overhead (the p99-overhead alert).
"""

from __future__ import annotations

import itertools
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from tests.conftest import base_policy

REDIS_ENV = "TURNOUT_TEST_REDIS_URL"
REDIS_URL = "redis://127.0.0.1:6379/0"
PROVOKED_ALERTS: dict[str, dict[str, str]] = {
    "TurnoutBreakerOpen": {"model": "error-500"}, "TurnoutFallbackRateHigh": {}, "TurnoutErrorRateHigh": {},
    "TurnoutOverheadP99High": {}, "TurnoutRedisErrors": {"component": "rate limits"},
    "TurnoutPolicyReloadFailed": {},
}
"""The alerts this traffic provokes (with `for:` shortened to 0s), each with labels one of its firing
instances must carry."""

PROMPTS = (
    "Say hello to the team.",
    "Summarise the benefits of unit tests in two sentences.",
    "Write a Python function that merges two sorted lists, with a docstring and tests.",
    "Prove that the square root of 2 is irrational, then compare three proof strategies step by step "
    "and analyse the trade-offs of each for teaching a first-year course.",
)


def live_policy(sim_url: str, *, cache_prefix: str | None, limits: bool = False,
                redis_timeout_s: float = 0.25) -> dict[str, Any]:
    policy = base_policy(sim_url)
    sim_v1 = f"{sim_url}/v1"
    models: list[dict[str, Any]] = policy["models"]  # type: ignore[assignment]
    models.append({"id": "error-500", "litellm_model": "openai/error-500", "api_base": sim_v1,
                   "context_window": 8192, "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.2}})
    router: dict[str, Any] = policy["router"]  # type: ignore[assignment]
    router["aliases"]["flaky"] = {"tiers": {1: ["error-500", "local-small"], 2: ["error-500", "local-medium"],
                                            3: ["error-500", "local-medium"]},
                                  "escalation": {"uncertainty_margin": 1.0}}  # every decision uncertain
    router["retry"] = {"max_attempts_per_model": 2, "backoff_base_s": 0.05, "jitter": 0}
    router["breaker"] = {"fail_max": 2, "reset_timeout_s": 0.1}  # trips, then a failed probe each 0.1 s
    policy["version"] = f"deploy-live-{uuid.uuid4().hex[:6]}"
    policy["redis"] = {"url_env": REDIS_ENV, "timeout_s": redis_timeout_s}
    if cache_prefix is not None:
        policy["cache"] = {"enabled": True, "key_prefix": cache_prefix, "ttl_s": 120,
                           "semantic": {"routes": {"local-small": {}}}}
    policy["learning"] = {"enabled": True, "key_prefix": f"turnout:test:learn:{uuid.uuid4().hex[:8]}",
                          "routes": {"auto": {"calibrate": {"strong_share": 0.3, "window": 100, "refit_every": 5}}}}
    if limits:
        policy["auth"] = {"open_limits": {"requests_per_minute": 1_000_000},
                          "redis_prefix": f"turnout:test:{uuid.uuid4().hex[:8]}"}
    return policy


def write_policy(path: Path, policy: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


class BlackHole:
    """A TCP port that completes connections and never answers: a stalled Redis."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(1024)
        self.url = f"redis://127.0.0.1:{self._socket.getsockname()[1]}/0"

    def close(self) -> None:
        self._socket.close()


class Traffic:
    """Requests through the openai SDK (and httpx for refused ones) in a thread, until `stop()`."""

    def __init__(self, main_url: str, stalled_url: str, *, limit_s: float = 180.0) -> None:
        self._main = openai.OpenAI(base_url=f"{main_url}/v1", api_key="x", max_retries=0, timeout=15)
        self._stalled = openai.OpenAI(base_url=f"{stalled_url}/v1", api_key="x", max_retries=0, timeout=15)
        self._raw = httpx.Client(base_url=main_url, timeout=15)
        self._stop = threading.Event()
        self._limit_s = limit_s
        self.rounds = 0
        self.statuses: dict[int, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        for client in (self._main, self._stalled):
            client.close()
        self._raw.close()

    def _count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def _chat(self, client: openai.OpenAI, model: str, content: str, *, stream: bool = False) -> None:
        messages: Any = [{"role": "user", "content": content}]
        try:
            if stream:
                chunks = client.chat.completions.create(model=model, messages=messages, stream=True,
                                                        temperature=0)
                for _ in chunks:
                    pass
            else:
                client.chat.completions.create(model=model, messages=messages, temperature=0)
            self._count(200)
        except openai.APIStatusError as exc:
            self._count(exc.status_code)
        except openai.APIConnectionError:
            self._count(0)

    def one_round(self, n: int) -> None:
        """11 requests: 3 fall back (a stalled call between them lets the breaker half-open again),
        1 gets a 5xx, 1 a 4xx, 2 are cache hits (exact, then semantic after the first round)."""
        prompt = PROMPTS[n % len(PROMPTS)]
        fresh = f"{prompt} (round {n}, {uuid.uuid4().hex[:6]})"
        for i in range(3):
            self._chat(self._main, "flaky", f"{fresh} {i}", stream=i == 1)
            if i < 2:
                self._chat(self._stalled, "local-small", f"{fresh} {i}")
        self._chat(self._main, "error-500", fresh)
        self._chat(self._main, "auto", fresh)
        self._chat(self._main, "auto", f"{fresh} Stream it.", stream=True)
        self._chat(self._main, "local-small", "How do I convert Celsius to Fahrenheit?")  # exact hits
        self._chat(self._main, "local-small", f"How {('do', 'can', 'should')[n % 3]} I convert Celsius to "
                                               "Fahrenheit in my project?")  # semantic hits
        self._count(self._raw.post("/v1/chat/completions", json={"model": "no-such-model", "messages": []})
                    .status_code)

    def _run(self) -> None:
        expired = threading.Event()
        timer = threading.Timer(self._limit_s, expired.set)  # bounded even if nobody calls stop()
        timer.daemon = True
        timer.start()
        for n in itertools.count():
            if self._stop.is_set() or expired.is_set():
                break
            self.one_round(n)
            self.rounds += 1
            self._stop.wait(0.25)
        timer.cancel()

"""Router policy models: defaults, validation, references."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config import load_policy
from router.policy import RouterPolicy

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_policy_loads_with_router_defaults() -> None:
    router = load_policy(ROOT / "policies" / "default.yaml").router
    assert router.aliases["auto"].first_model() == "local-small"
    assert router.retry.max_attempts_per_model == 2
    assert router.breaker.fail_max == 5
    assert router.latency_classes["interactive"].action == "skip"


@pytest.mark.parametrize("extra", [
    {"retry": {"max_attempts": 3}},
    {"breaker": {"fail_max": 0}},
    {"retry": {"backoff_base_s": 2, "backoff_max_s": 1}},
    {"deadline_s": 0},
    {"hints": {"allowed": ["api_base"]}},
    {"aliases": {"auto": {"tiers": {1: ["a"]}, "latency": {"p99_ms": 10, "action": "drop"}}}},
    {"aliases": {"auto": {"tiers": {1: ["a"]}, "max_cost_usd": -1}}},
])
def test_bad_router_settings_are_rejected(extra: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RouterPolicy.model_validate({"default_model": "a", "aliases": {"auto": {"tiers": {1: ["a"]}}}, **extra})


def test_model_references_include_the_content_policy_fallback() -> None:
    policy = RouterPolicy.model_validate({"default_model": "a", "content_policy_fallback": "b",
                                          "aliases": {"auto": {"tiers": {2: ["c", "a"]}}}})
    assert policy.model_references() == [(("default_model",), "a"), (("content_policy_fallback",), "b"),
                                         (("aliases", "auto", "tiers", 2, 0), "c"),
                                         (("aliases", "auto", "tiers", 2, 1), "a")]


def test_the_readme_example_is_a_valid_router_section() -> None:
    import yaml

    text = (ROOT / "router" / "README.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    router = RouterPolicy.model_validate(yaml.safe_load(example)["router"])
    assert router.aliases["auto"].latency is not None and router.aliases["auto"].latency.action == "demote"

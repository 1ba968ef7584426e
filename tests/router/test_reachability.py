"""Static reachability of each tier's chain, as `turnout policy check` reports it."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import parse_policy
from gateway.yamlpath import ConfigError
from router.reachability import PolicyProblem, check_reachability
from tests.router.fakes import policy, spec, specs_map

EMBED = spec("embed").model_copy(update={"capabilities": spec("embed").capabilities.model_copy(
    update={"chat": False, "embeddings": True})})
SPECS = {**specs_map(), "embed": EMBED}


@pytest.mark.parametrize(("overrides", "problems"), [
    ({}, []),
    ({"aliases": {"auto": {"tiers": {1: ["embed", "small"]}}}},
     [PolicyProblem(("aliases", "auto", "tiers", 1, 0), "'embed' cannot serve chat: never chosen")]),
    ({"default_model": "embed", "aliases": {"auto": {"tiers": {2: ["embed"]}}}},
     [PolicyProblem(("default_model",), "'embed' cannot serve chat (capabilities.chat is false)"),
      PolicyProblem(("aliases", "auto", "tiers", 2, 0), "'embed' cannot serve chat: never chosen"),
      PolicyProblem(("aliases", "auto", "tiers", 2), "no model of this tier (nor the default) can serve chat")]),
    ({"content_policy_fallback": "embed"},
     [PolicyProblem(("content_policy_fallback",), "'embed' cannot serve chat (capabilities.chat is false)")]),
    ({"aliases": {"lf": {"local_first": True, "tiers": {3: ["large"]}}}},
     [PolicyProblem(("aliases", "lf", "tiers", 3), "local_first alias, but this tier has no local model",
                    "warning")]),
])
def test_reachability(overrides: dict[str, Any], problems: list[PolicyProblem]) -> None:
    assert check_reachability(policy(**overrides), SPECS) == problems


def test_a_tier_whose_models_are_all_unavailable_is_a_warning() -> None:
    pol = policy(aliases={"auto": {"tiers": {3: ["large"]}}})
    assert check_reachability(pol, SPECS, unavailable={"large", "medium"}) == [
        PolicyProblem(("aliases", "auto", "tiers", 3), "every model of this tier (and the default) is unavailable",
                      "warning")]
    assert check_reachability(pol, SPECS, unavailable={"large"}) == []


def test_the_policy_loader_reports_unreachable_chains_with_path_and_line() -> None:
    text = """
models:
  - {id: chat, litellm_model: openai/chat}
  - {id: embed, litellm_model: openai/embed, capabilities: {chat: false, embeddings: true}}
router:
  default_model: chat
  aliases:
    auto:
      tiers:
        1: [embed, chat]
"""
    with pytest.raises(ConfigError) as info:
        parse_policy(text)
    assert info.value.render() == (
        "<policy>: router.aliases.auto.tiers[1][0] (line 10): 'embed' cannot serve chat: never chosen")

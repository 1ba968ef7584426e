"""Chain selection: tiers to chains, per-candidate checks with reasons, escalation, ordering."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from registry import ModelStats, Tier
from router.errors import ContextWindowExceeded, ModelNotFound, RequestError, UpstreamUnavailable
from router.features import RequestFeatures, Signals, features_from_body
from router.hints import Hints
from router.select import Decision, select
from tests.router.fakes import policy, registry, spec, specs_map

SPECS = specs_map()


def stats(model: str, **kw: Any) -> ModelStats:
    base = ModelStats(model_id=model, available=True, unavailable_reason=None, in_flight=0, latency_p50_ms=None,
                      latency_p99_ms=None, ttft_p99_ms=None, error_rate=0.0, tokens_per_second=None, healthy=True,
                      samples=0)
    return replace(base, **kw)


def choose(tier: int = 1, *, features: RequestFeatures | None = None, snapshot: dict[str, ModelStats] | None = None,
           hints: Hints | None = None, breakers: dict[str, str] | None = None, uncertain: bool = False,
           **policy_overrides: Any) -> Decision:
    return select(policy(**policy_overrides), "auto", Signals(Tier(tier), score=0.4, task="chat", uncertain=uncertain),
                  features or RequestFeatures(prompt_tokens=100), snapshot or registry().snapshot(), SPECS, hints,
                  policy_version="v-test", breakers=breakers)


def reason(decision: Decision, model: str) -> str:
    return next(c.reason for c in decision.candidates if c.model == model)


@pytest.mark.parametrize(("tier", "chain"), [
    (1, ("small", "medium")),
    (2, ("medium", "large")),
    (3, ("large", "medium")),
])
def test_tiers_land_on_their_chains(tier: int, chain: tuple[str, ...]) -> None:
    decision = choose(tier)
    assert decision.tier == tier
    assert decision.chain == chain
    assert decision.policy_version == "v-test"


def test_default_is_appended_when_the_tier_does_not_name_it() -> None:
    aliases = {"auto": {"tiers": {1: ["small"], 3: ["large"]}}}
    assert choose(1, aliases=aliases).chain == ("small", "medium")
    # tier 2 is not defined: the nearest tier above serves it
    assert choose(2, aliases=aliases).chain == ("large", "medium")


@pytest.mark.parametrize(("features", "model", "why"), [
    (RequestFeatures(prompt_tokens=10, has_tools=True), "plain", "no tools"),
    (RequestFeatures(prompt_tokens=10, has_images=True), "small", "no vision"),
    (RequestFeatures(prompt_tokens=10, wants_json=True), "plain", "no json mode"),
    (RequestFeatures(prompt_tokens=5000), "small", "needs 5001 tokens, window 4096"),
    (RequestFeatures(prompt_tokens=3500, max_output_tokens=1000), "small", "needs 4500 tokens, window 4096"),
    (RequestFeatures(prompt_tokens=10, max_output_tokens=1500), "small", "max output 1500 over the model's 1024"),
])
def test_capability_and_context_skips_name_the_reason(features: RequestFeatures, model: str, why: str) -> None:
    aliases = {"auto": {"tiers": {1: ["plain", "small", "large"]}}}
    decision = choose(1, features=features, aliases=aliases)
    assert model not in decision.chain
    assert reason(decision, model) == f"skipped: {why}"
    assert decision.chain[-1] in ("medium", "large")


def test_images_go_to_the_vision_model() -> None:
    decision = choose(1, features=RequestFeatures(prompt_tokens=10, has_images=True),
                      aliases={"auto": {"tiers": {1: ["small", "large"]}}}, default_model="large")
    assert decision.chain == ("large",)


def test_cost_cap_skips_expensive_models_but_keeps_the_default_as_last_resort() -> None:
    aliases = {"auto": {"max_cost_usd": 0.0005, "tiers": {3: ["large", "small"]}}}
    # large: (3000 * 3 + 256 * 15) / 1e6 = 0.01284; small 0.000176; medium (the default) 0.00075
    decision = choose(3, features=RequestFeatures(prompt_tokens=3000), aliases=aliases)
    assert decision.chain == ("small", "medium")
    assert reason(decision, "large") == "skipped: estimated $0.012840 over the cap $0.000500"
    assert reason(decision, "medium").startswith("kept as last resort despite: estimated $")


def test_client_cost_ceiling_narrows_the_alias_cap() -> None:
    decision = choose(3, features=RequestFeatures(prompt_tokens=100), hints=Hints(max_cost_usd=0.0001))
    assert "large" not in decision.chain
    assert decision.hints_applied == {"max_cost_usd"}


def test_requested_max_tokens_drive_the_cost_estimate() -> None:
    decision = choose(3, features=RequestFeatures(prompt_tokens=10, max_output_tokens=2000))
    large = next(c for c in decision.candidates if c.model == "large")
    assert large.estimated_cost_usd == pytest.approx((10 * 3.0 + 2000 * 15.0) / 1e6)


@pytest.mark.parametrize(("action", "chain"), [("skip", ("medium",)), ("demote", ("medium", "large"))])
def test_latency_target_against_live_p99(action: str, chain: tuple[str, ...]) -> None:
    aliases = {"auto": {"tiers": {3: ["large", "medium"]},
                        "latency": {"p99_ms": 1000, "action": action, "min_samples": 5}}}
    snapshot = {"large": stats("large", latency_p99_ms=4000.0, samples=50), "medium": stats("medium", samples=50)}
    decision = choose(3, aliases=aliases, snapshot=snapshot)
    assert decision.chain == chain
    assert "p99 4000ms over 1000ms" in reason(decision, "large")


def test_latency_needs_enough_samples_and_checks_ttft() -> None:
    aliases = {"auto": {"tiers": {3: ["large", "medium"]},
                        "latency": {"ttft_p99_ms": 500, "action": "skip", "min_samples": 5}}}
    few = {"large": stats("large", ttft_p99_ms=4000.0, samples=2)}
    assert choose(3, aliases=aliases, snapshot=few).chain == ("large", "medium")
    many = {"large": stats("large", ttft_p99_ms=4000.0, samples=20)}
    decision = choose(3, aliases=aliases, snapshot=many)
    assert decision.chain == ("medium",)
    assert reason(decision, "large") == "skipped: TTFT p99 4000ms over 500ms"


def test_interactive_latency_class_replaces_the_alias_target() -> None:
    snapshot = {"large": stats("large", ttft_p99_ms=3000.0, samples=50)}
    assert choose(3, snapshot=snapshot).chain == ("large", "medium")
    decision = choose(3, snapshot=snapshot, hints=Hints(latency_class="interactive"))
    assert decision.chain == ("medium",)


@pytest.mark.parametrize(("stat", "why"), [
    ({"in_flight": 8}, "at max concurrency (8/8)"),
    ({"healthy": False}, "unhealthy"),
])
def test_load_and_health_skips(stat: dict[str, Any], why: str) -> None:
    decision = choose(1, snapshot={"small": stats("small", **stat)})
    assert decision.chain == ("medium",)
    assert reason(decision, "small") == f"skipped: {why}"


def test_open_breaker_skips_and_half_open_does_not() -> None:
    assert choose(1, breakers={"small": "open"}).chain == ("medium",)
    assert choose(1, breakers={"small": "half-open"}).chain == ("small", "medium")


def test_unavailable_model_is_skipped_even_as_default() -> None:
    snapshot = {"medium": stats("medium", available=False, unavailable_reason="OPENAI_API_KEY not set")}
    decision = choose(1, snapshot=snapshot)
    assert decision.chain == ("small",)
    assert reason(decision, "medium") == "skipped: unavailable (OPENAI_API_KEY not set)"


def test_least_loaded_first_among_equal_models() -> None:
    aliases = {"auto": {"tiers": {2: ["medium", "medium-b", "large"]}}}
    snapshot = {"medium": stats("medium", in_flight=5), "medium-b": stats("medium-b", in_flight=1)}
    assert choose(2, aliases=aliases, snapshot=snapshot).chain == ("medium-b", "medium", "large")
    # different prices are not equals: the policy order stands
    snapshot = {"medium": stats("medium", in_flight=5), "large": stats("large", in_flight=0)}
    assert choose(2, aliases={"auto": {"tiers": {2: ["medium", "large"]}}}, snapshot=snapshot).chain == (
        "medium", "large")


def test_the_appended_default_stays_last_even_when_it_is_an_idle_equal() -> None:
    # "medium" (the default) equals "medium-b" in price and tags; the alias names only "medium-b"
    snapshot = {"medium-b": stats("medium-b", in_flight=5), "medium": stats("medium", in_flight=0)}
    aliases = {"auto": {"tiers": {1: ["medium-b"]}}}
    assert choose(1, aliases=aliases, snapshot=snapshot).chain == ("medium-b", "medium")
    # named by the tier itself, the default is an equal like any other: least loaded first
    aliases = {"auto": {"tiers": {1: ["medium-b", "medium"]}}}
    assert choose(1, aliases=aliases, snapshot=snapshot).chain == ("medium", "medium-b")


@pytest.mark.parametrize(("tier", "uncertain", "hints", "want_tier", "why"), [
    (1, True, Hints(), 2, "classifier uncertain"),
    (2, True, Hints(), 3, "classifier uncertain"),
    (3, True, Hints(), 3, None),
    (1, False, Hints(escalate=True), 2, "client asked"),
    (1, True, Hints(max_tier=Tier(1)), 1, "classifier uncertain"),
    (3, False, Hints(max_tier=Tier(2)), 2, None),
])
def test_escalation_and_max_tier(tier: int, uncertain: bool, hints: Hints, want_tier: int, why: str | None) -> None:
    decision = choose(tier, uncertain=uncertain, hints=hints)
    assert (decision.tier, decision.escalated, decision.classified_tier) == (want_tier, why, tier)


def test_escalation_from_probabilities_and_margin() -> None:
    aliases = {"auto": {"tiers": {1: ["small"], 2: ["medium"]}, "escalation": {"uncertainty_margin": 0.6}}}
    signals = Signals(Tier(1), probabilities=(0.55, 0.4, 0.05))
    decision = select(policy(aliases=aliases), "auto", signals, RequestFeatures(prompt_tokens=1),
                      {}, SPECS)
    assert decision.tier == 2
    off = {"auto": {"tiers": {1: ["small"], 2: ["medium"]}, "escalation": {"on_uncertain": False}}}
    assert select(policy(aliases=off), "auto", Signals(Tier(1), uncertain=True), RequestFeatures(prompt_tokens=1),
                  {}, SPECS).tier == 1


def test_hints_not_allowed_are_ignored_and_reported() -> None:
    only_cost = policy(hints={"allowed": ["max_cost_usd"]})
    decision = select(only_cost, "auto", Signals(Tier(1)), RequestFeatures(prompt_tokens=1), {}, SPECS,
                      Hints(escalate=True, max_cost_usd=1.0))
    assert decision.tier == 1
    assert decision.hints_ignored == {"escalate"}
    assert decision.hints_applied == {"max_cost_usd"}


def test_local_first_alias_puts_local_models_before_hosted() -> None:
    aliases = {"local-first": {"local_first": True, "tiers": {2: ["large", "small", "medium"]}}}
    decision = select(policy(aliases=aliases), "local-first", Signals(Tier(2)), RequestFeatures(prompt_tokens=1),
                      {}, SPECS)
    assert decision.chain == ("small", "medium", "large")


def test_selection_is_pure_and_explains_itself() -> None:
    snapshot = registry().snapshot()
    one, two = choose(2, snapshot=snapshot), choose(2, snapshot=snapshot)
    assert one == two
    body = one.to_dict()
    assert body["chain"] == ["medium", "large"]
    assert body["candidates"][0] == {"model": "medium", "kept": True, "reason": "fits",
                                     "estimated_cost_usd": pytest.approx((100 * 0.2 + 256 * 0.6) / 1e6)}


@pytest.mark.parametrize(("features", "snapshot", "error"), [
    (RequestFeatures(prompt_tokens=300000), {}, ContextWindowExceeded),
    (RequestFeatures(prompt_tokens=10, has_images=True), {}, RequestError),
    (RequestFeatures(prompt_tokens=10), {m: stats(m, available=False) for m in ("small", "medium")},
     UpstreamUnavailable),
])
def test_no_eligible_model(features: RequestFeatures, snapshot: dict[str, ModelStats], error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        choose(1, features=features, snapshot=snapshot)
    assert type(info.value) is error


def test_unknown_alias_is_model_not_found() -> None:
    with pytest.raises(ModelNotFound):
        select(policy(), "nope", Signals(Tier(1)), RequestFeatures(prompt_tokens=1), {}, SPECS)


def test_embeddings_need_an_embedding_model() -> None:
    embed = spec("embed", window=8192)
    embed = embed.model_copy(update={"capabilities": embed.capabilities.model_copy(
        update={"chat": False, "embeddings": True})})
    specs = {**SPECS, "embed": embed}
    decision = select(policy(aliases={"auto": {"tiers": {1: ["small", "embed"]}}}, default_model="embed"),
                      "auto", Signals(Tier(1)), RequestFeatures(prompt_tokens=1, kind="embeddings"), {}, specs)
    assert decision.chain == ("embed",)
    assert reason(decision, "small") == "skipped: no embeddings"


def test_features_from_an_openai_body() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                                      {"type": "image_url", "image_url": {"url": "x"}}]}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "max_completion_tokens": 77,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}, "stream": True}
    assert features_from_body(body, prompt_tokens=12) == RequestFeatures(
        prompt_tokens=12, max_output_tokens=77, has_tools=True, has_images=True, wants_json=True, stream=True)
    assert features_from_body({"messages": [], "response_format": {"type": "text"}}, prompt_tokens=1) == (
        RequestFeatures(prompt_tokens=1))


def test_per_model_token_counts_decide_the_context_fit() -> None:
    features = RequestFeatures(prompt_tokens=100, prompt_tokens_by_model={"small": 5000})
    decision = choose(1, features=features)
    assert decision.chain == ("medium",)
    assert reason(decision, "small") == "skipped: needs 5001 tokens, window 4096"


def test_explain_lists_every_candidate_with_its_reason() -> None:
    from router.explain import explain

    decision = choose(1, uncertain=True, features=RequestFeatures(prompt_tokens=100, has_images=True),
                      aliases={"auto": {"tiers": {2: ["small", "large"]}}}, default_model="large")
    text = explain(decision)
    assert text.splitlines() == [
        "alias 'auto': tier 2 (classified 1, classifier uncertain), score 0.40, task chat, policy v-test",
        "   -  small  skipped: no vision  ~$0.000031",
        "   1. large  fits  ~$0.004140",
        "chain: large",
    ]

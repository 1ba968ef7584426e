"""Semantic routes: the policy section, the head built from examples and the library, the matching."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from gateway.record import route_headers
from router.library import library_names, load_library
from router.policy import AliasPolicy, RoutePolicy
from router.route_eval import evaluate
from router.route_index import build_index
from router.routes import NONE

DIM = 256


class HashingEncoder:
    """A bag-of-words encoder behind our `Encoder` protocol: enough to separate clear topics."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] /= norm if norm else 1.0
        return out

    def embed(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _alias(routes: list[dict[str, object]]) -> AliasPolicy:
    return AliasPolicy.model_validate({"tiers": {1: ["small"]}, "routes": routes})


def test_library_ships_many_routes_with_many_examples() -> None:
    library = load_library()
    assert len(library) >= 10
    for route in library.values():
        assert route.description and len(route.examples) >= 30
        assert len(set(route.examples)) == len(route.examples)


def test_a_route_takes_tiers_or_one_chain() -> None:
    alias = _alias([{"name": "code", "examples": ["fix my python"], "chain": ["big"]},
                    {"name": "maths", "library": "maths", "tiers": {2: ["mid"], 3: ["big"]}}])
    code = alias.route_policies["code"]
    assert code.tiers == {1: ("big",)} and code.resolve_tier(3) == 1
    assert alias.route_policies["maths"].resolve_tier(1) == 2


@pytest.mark.parametrize(("route", "message"), [
    ({"name": "x", "examples": [], "chain": ["a"]}, "at least one example"),
    ({"name": "x", "examples": ["  "], "chain": ["a"]}, "an example is empty"),
    ({"name": "x", "chain": ["a"]}, "needs `examples`, a `library`"),
    ({"name": "x", "examples": ["a"]}, "exactly one of `tiers` or `chain`"),
    ({"name": "x", "examples": ["a"], "chain": ["a"], "tiers": {1: ["a"]}}, "exactly one of"),
    ({"name": "x", "library": "astrology", "chain": ["a"]}, "unknown library route 'astrology'"),
    ({"name": "x", "examples": ["a"], "chain": ["a"], "threshold": 1.5}, "less than 1"),
    ({"name": "x", "examples": ["a"], "chain": ["a"], "colour": "red"}, "Extra inputs"),
    ({"name": "none", "examples": ["a"], "chain": ["a"]}, "`none` is reserved"),
    ({"name": "a b", "examples": ["a"], "chain": ["a"]}, "should match pattern"),
])
def test_bad_routes_are_rejected(route: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        _alias([route])


def test_a_route_name_is_unique() -> None:
    route = {"name": "x", "examples": ["a"], "chain": ["a"]}
    with pytest.raises(ValidationError, match="declared twice"):
        _alias([route, route])


def test_library_names_are_the_shipped_files() -> None:
    assert {"code", "maths", "translation", "chitchat"} <= set(library_names())


def _routes() -> tuple[RoutePolicy, ...]:
    return _alias([
        {"name": "code", "description": "Programming help.", "library": "code", "chain": ["big"],
         "examples": ["Why does my Python loop never end?"]},
        {"name": "translate", "description": "Translation.", "library": "translation", "chain": ["small"],
         "examples": ["Translate good morning into French."]},
        {"name": "sums", "description": "Arithmetic.", "library": "none", "chain": ["small"],
         "examples": ["What is 12 plus 30?", "Add 7 and 9.", "What is 100 minus 58?"]},
    ]).routes


def test_head_matches_routes_and_falls_back_to_none() -> None:
    encoder = HashingEncoder()
    index, sources = build_index(_routes(), load_library(), encoder)
    assert [s.library for s in sources] == ["code", "translation", None]
    assert index.names == ("code", "translate", "sums", NONE)
    assert index.match(encoder.embed("How do I fix this python function that throws an exception?")).route == "code"
    assert index.match(encoder.embed("How do you say thank you in Spanish?")).route == "translate"
    assert index.match(encoder.embed("What is 15 plus 27?")).route == "sums"
    off_topic = index.match(encoder.embed("Pretend you are a pirate captain and I am your crew"))
    assert off_topic.route is None
    nearest = index.nearest(encoder.embed("Translate good night into French."), "translate", n=2)
    assert nearest[0][0] == "Translate good morning into French." and nearest[0][1] > nearest[1][1]


def test_a_threshold_above_the_score_falls_back() -> None:
    encoder = HashingEncoder()
    strict = tuple(r.model_copy(update={"threshold": 0.99}) for r in _routes())
    index, _ = build_index(strict, load_library(), encoder)
    match = index.match(encoder.embed("Translate where is the station into German"))
    assert match.best == "translate" and match.score < 0.99 and match.route is None


def test_a_follow_up_keeps_the_conversation_route() -> None:
    encoder = HashingEncoder()
    index, _ = build_index(_routes(), load_library(), encoder)
    follow_up = encoder.embed("and this one too please")
    alone = index.match(follow_up)
    with_prior = index.match(follow_up, prior=encoder.embed("Translate this letter into Italian for my landlord"))
    assert with_prior.route == "translate"
    assert with_prior.score > (alone.score if alone.best == "translate" else 0.0)


def test_confusion_table() -> None:
    encoder = HashingEncoder()
    index, _ = build_index(_routes(), load_library(), encoder)
    texts = ["Fix this python bug in my loop", "Translate hello into German", "Pretend you are a pirate"]
    confusion = evaluate(index, list(encoder.encode(texts)), ["code", "translate", "none"])
    assert confusion.total == 3 and confusion.accuracy == 1.0
    table = confusion.render()
    assert "top-1 accuracy 1.000 on 3 requests" in table and "recall" in table.splitlines()[0]


def test_a_matched_route_replaces_the_tiers_and_is_reported() -> None:
    from registry import Tier
    from router.explain import explain
    from router.features import RequestFeatures, Signals
    from router.record import RouteRecord
    from router.routes import RouteMatch
    from router.select import select
    from tests.router.fakes import policy, registry, specs_map

    routed = policy(aliases={"auto": {
        "tiers": {1: ["small"], 2: ["medium"], 3: ["large"]},
        "max_cost_usd": 5.0,
        "routes": [{"name": "code", "examples": ["fix my bug"], "tiers": {2: ["large"]}}]}})

    def decide(match: RouteMatch | None, tier: int = 1):  # type: ignore[no-untyped-def]
        return select(routed, "auto", Signals(Tier(tier), score=0.2, task="code", uncertain=False),
                      RequestFeatures(prompt_tokens=10), registry().snapshot(), specs_map(), route=match)

    code = decide(RouteMatch("code", "code", 0.91, 0.7))
    assert code.chain == ("large", "medium") and code.tier == 2  # the route's tier 2 serves tier 1
    assert code.to_dict()["route"] == {"route": "code", "best": "code", "score": 0.91, "similarity": 0.7}
    assert route_headers(RouteRecord(code))["x-turnout-route"] == "code"
    assert RouteRecord(code).to_log()["route"] == "code"
    text = explain(code, [("fix my bug", 0.83)])
    assert "route 'code': best 'code', score 0.91" in text and "nearest example (0.83): fix my bug" in text
    below = decide(RouteMatch(None, "code", 0.2, 0.3))
    assert below.chain == ("small", "medium") and route_headers(RouteRecord(below))["x-turnout-route"] == "none"
    plain = decide(None)
    assert plain.chain == ("small", "medium") and "x-turnout-route" not in route_headers(RouteRecord(plain))

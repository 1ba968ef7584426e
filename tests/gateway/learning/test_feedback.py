from __future__ import annotations

import pytest

from gateway.learning.apgr import apgr
from gateway.learning.feedback import FloodLimit, parse_feedback
from router.errors import RateLimited, RequestError


def test_thumbs_become_scores() -> None:
    assert parse_feedback({"request_id": "r", "thumbs": "up"}).score == 1.0
    assert parse_feedback({"request_id": "r", "scores": {"m": 0}}).scores == {"m": 0.0}


@pytest.mark.parametrize(("body", "param"), [
    ({"score": 1}, "request_id"), ({"request_id": "r", "score": -0.1}, "score"),
    ({"request_id": "r", "score": True}, "score"), ({"request_id": "r", "score": float("nan")}, "score"),
    ({"request_id": "r", "score": 1, "thumbs": "up"}, "thumbs"), ({"request_id": "r", "scores": []}, "scores"),
    ({"request_id": "r", "scores": {"m": 2}}, "scores.m"), ({"request_id": "r", "rating": 1}, "rating"),
    ({"request_id": "r", "thumbs": ["up"]}, "thumbs")])
def test_bad_bodies_name_the_field(body: dict[str, object], param: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_feedback(body)
    assert caught.value.param == param


def test_the_flood_limit_refills() -> None:
    now = [0.0]
    limit = FloodLimit(60, clock=lambda: now[0])
    for _ in range(60):
        limit.check("t")
    with pytest.raises(RateLimited) as caught:
        limit.check("t")
    assert caught.value.retry_after == pytest.approx(1.0)
    limit.check("other")  # per tenant
    now[0] += 1.0
    limit.check("t")


def test_apgr_of_perfect_random_and_reversed_routers() -> None:
    cheap, strong = [1, 0, 1, 0], [1, 1, 1, 1]
    assert apgr([0, 1, 0, 1], cheap, strong) == pytest.approx(0.75)  # the two needy prompts first
    assert apgr([1, 0, 1, 0], cheap, strong) == pytest.approx(0.25)


def test_judge_verdicts() -> None:
    from gateway.learning.shadow import parse_verdict
    from simulator.chat import judge_verdict

    assert [parse_verdict(t) for t in ("A", " b.", "Tie", "", "**A**", "neither")] == ["A", "B", "tie", "tie", "A",
                                                                                       "tie"]
    prompt = "[Request]\nx\n\n[Answer A]\n[cheap] echo: x\n\n[Answer B]\n[strong] echo: x\n"
    assert judge_verdict(prompt, "strong") == "B" and judge_verdict(prompt, "cheap") == "A"
    assert judge_verdict(prompt, "other") == "tie"

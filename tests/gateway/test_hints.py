"""Client routing hints from headers and the `turnout` extra_body object."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.hints import parse_hints
from registry import Tier
from router.errors import RequestError
from router.hints import Hints


@pytest.mark.parametrize(("headers", "body", "want"), [
    ({}, {}, Hints()),
    ({"x-turnout-max-tier": "2"}, {}, Hints(max_tier=Tier(2))),
    ({"X-Turnout-Max-Cost-Usd": "0.01"}, {}, Hints(max_cost_usd=0.01)),
    ({"x-turnout-latency-class": "interactive", "x-turnout-escalate": "true"}, {},
     Hints(latency_class="interactive", escalate=True)),
    ({}, {"turnout": {"max_tier": 1, "max_cost_usd": 0.5, "latency_class": "batch", "escalate": True}},
     Hints(max_tier=Tier(1), max_cost_usd=0.5, latency_class="batch", escalate=True)),
    ({"x-turnout-max-tier": "3"}, {"turnout": {"max_tier": 1}}, Hints(max_tier=Tier(1))),
    ({"x-turnout-unknown": "x", "authorization": "Bearer k"}, {}, Hints()),
])
def test_parse_hints(headers: dict[str, str], body: dict[str, Any], want: Hints) -> None:
    assert parse_hints(headers, body) == want


@pytest.mark.parametrize(("headers", "body", "param"), [
    ({"x-turnout-max-tier": "4"}, {}, "turnout.max_tier"),
    ({}, {"turnout": {"max_tier": True}}, "turnout.max_tier"),
    ({"x-turnout-max-cost-usd": "-1"}, {}, "turnout.max_cost_usd"),
    ({"x-turnout-max-cost-usd": "nan"}, {}, "turnout.max_cost_usd"),
    ({}, {"turnout": {"latency_class": "fast"}}, "turnout.latency_class"),
    ({"x-turnout-escalate": "maybe"}, {}, "turnout.escalate"),
    ({}, {"turnout": {"api_base": "http://evil"}}, "turnout.api_base"),
    ({}, {"turnout": "fast"}, "turnout"),
])
def test_bad_hints_are_a_400_naming_the_field(headers: dict[str, str], body: dict[str, Any], param: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_hints(headers, body)
    assert info.value.status == 400
    assert info.value.param == param
    assert "evil" not in info.value.message


def test_given_lists_only_what_was_set() -> None:
    assert Hints(max_tier=Tier(2), escalate=False).given() == {"max_tier"}

"""`ChatRequest`: a chat body and its headers parsed once, at the start of the request path."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.cache.directives import CacheDirectives
from gateway.request import ChatRequest
from registry import Tier
from router.errors import RequestError
from router.hints import Hints
from router.upstream.tokens import estimate_tokens

MSG = [{"role": "user", "content": "hello there"}]


def test_everything_the_path_reads_is_parsed_once() -> None:
    body: dict[str, Any] = {"model": "auto", "messages": MSG, "stream": True, "turnout": {"max_tier": 2}}
    request = ChatRequest.parse(body, {"cache-control": "no-store", "x-turnout-cache-threshold": "0.9",
                                       "x-turnout-escalate": "true"})
    assert (request.model, request.stream, request.prompt_tokens) == ("auto", True, estimate_tokens(MSG))
    assert request.hints == Hints(max_tier=Tier.MODERATE, escalate=True)
    assert request.cache == CacheDirectives(no_store=True) and request.cache_threshold == 0.9
    assert request.messages is MSG and request.body is body
    assert "turnout" not in request.upstream_body and "turnout" in body  # the client's body is left as sent


def test_a_plain_request() -> None:
    request = ChatRequest.parse({"model": "local-small", "messages": MSG}, {})
    assert (request.stream, request.hints, request.cache, request.cache_threshold) == \
        (False, Hints(), CacheDirectives(), None)
    assert request.upstream_body is request.body


@pytest.mark.parametrize(("body", "headers", "param"), [
    ({"model": "auto", "messages": []}, {}, "messages"),
    ({"model": "auto", "messages": MSG, "turnout": {"max_tier": 9}}, {}, "turnout.max_tier"),
    ({"model": "auto", "messages": MSG}, {"x-turnout-max-cost-usd": "free"}, "turnout.max_cost_usd"),
    ({"model": "auto", "messages": MSG}, {"x-turnout-cache-threshold": "high"}, "x-turnout-cache-threshold"),
])
def test_bad_input_is_a_400_naming_the_field(body: dict[str, Any], headers: dict[str, str], param: str) -> None:
    with pytest.raises(RequestError) as caught:
        ChatRequest.parse(body, headers)
    assert caught.value.status == 400 and caught.value.param == param


def test_redacted_messages_make_a_new_request() -> None:
    body: dict[str, Any] = {"model": "auto", "messages": MSG}
    request = ChatRequest.parse(body, {})
    assert request.redacted(request.messages) is request
    clean = [{"role": "user", "content": "[REDACTED]"}]
    redacted = request.redacted(clean)
    assert redacted.messages == clean and redacted.prompt_tokens == request.prompt_tokens
    assert body["messages"] is MSG

from __future__ import annotations

from gateway.cache.eligibility import storable_response

from .conftest import answer


def test_only_complete_text_successes_are_storable() -> None:
    assert storable_response(answer("ok"))
    assert not storable_response(answer("partial", finish="length"))
    assert not storable_response(answer("", finish="content_filter"))
    assert not storable_response(answer("", tool_calls=[{"id": "1", "type": "function"}]))
    assert not storable_response(answer("no", refusal="I can't help with that"))
    assert not storable_response(answer(""))
    two = answer("a")
    two["choices"].append(two["choices"][0])
    assert not storable_response(two)
    assert not storable_response({"error": {"message": "boom"}})

from __future__ import annotations

from gateway.cache.keys import CacheRequest, cache_keys

from .conftest import chat, policy

POLICY = policy()


def keys(request: CacheRequest):  # type: ignore[no-untyped-def]
    got = cache_keys(request, POLICY)
    assert got is not None
    return got


def test_same_request_same_keys_and_stream_flag_does_not_matter() -> None:
    a, b = keys(chat("hi")), keys(chat("hi", stream=True, user="u1"))
    assert (a.partition, a.exact) == (b.partition, b.exact)


def test_partition_separates_tenant_route_params_system_and_history() -> None:
    base = keys(chat("hi")).partition
    others = [chat("hi", tenant="b"), chat("hi", route="fast"), chat("hi", temperature=0.0),
              chat("hi", system="be terse"), chat("hi", history=("earlier", "reply"))]
    partitions = {keys(r).partition for r in others}
    assert base not in partitions and len(partitions) == len(others)


def test_only_the_last_user_message_is_the_semantic_query() -> None:
    got = keys(chat("What is Redis?", system="sys", history=("a", "b")))
    assert got.query == "What is Redis?"
    assert got.threshold == POLICY.semantic.threshold


def test_semantic_eligibility_rules() -> None:
    assert keys(chat("q", temperature=1.5)).query is None
    assert keys(chat("q", tools=[{"type": "function", "function": {"name": "f"}}])).query is None
    assert keys(chat("q", logprobs=True)).query is None
    assert keys(chat("x" * (POLICY.semantic.max_prompt_chars + 1))).query is None
    assert keys(chat("q", route="other")).query is None  # semantic not enabled for that route
    image = CacheRequest("default", "auto", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "x"}}]}]})
    assert keys(image).query is None
    parts = CacheRequest("default", "auto", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"}]}]})
    assert keys(parts).query == "what is this"


def test_n_above_one_is_not_storable() -> None:
    got = keys(chat("q", n=2))
    assert not got.storable and got.query is None


def test_requested_threshold_never_goes_below_the_floor() -> None:
    low = CacheRequest("default", "auto", chat("q").body, threshold=0.1)
    high = CacheRequest("default", "auto", chat("q").body, threshold=0.99)
    assert keys(low).threshold == POLICY.semantic.min_threshold
    assert keys(high).threshold == 0.99


def test_no_messages_means_no_keys() -> None:
    assert cache_keys(CacheRequest("default", "auto", {"messages": []}), POLICY) is None

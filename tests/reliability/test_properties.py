"""Property tests: the policy loader and request validation answer every input with a value or one of
our own errors, never a crash."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.config import Policy, parse_policy
from gateway.schemas import validate_chat, validate_embeddings
from gateway.yamlpath import ConfigError
from router.errors import RequestError
from tests.conftest import base_policy

SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


BASE = base_policy("http://127.0.0.1:9")
PATHS = _paths(BASE)


@st.composite
def mutated_policies(draw: st.DrawFn) -> dict[str, Any]:
    """The base test policy with a few values replaced or removed."""
    policy = copy.deepcopy(BASE)
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        parent: Any = policy
        try:
            for part in path[:-1]:
                parent = parent[part]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):  # an earlier mutation removed this path
            continue
    return policy


def test_the_base_policy_is_valid() -> None:
    assert isinstance(parse_policy(yaml.safe_dump(BASE)), Policy)


@SETTINGS
@given(mutated_policies())
def test_a_mutated_policy_loads_or_fails_with_paths(policy: dict[str, Any]) -> None:
    try:
        loaded = parse_policy(yaml.safe_dump(policy), "mutated.yaml")
    except ConfigError as exc:
        assert exc.issues and all(issue.render() for issue in exc.issues)
        assert exc.render().startswith("mutated.yaml: ")
        return
    # what loads is stable: dumping the parsed policy and loading it again gives the same policy
    again = parse_policy(yaml.safe_dump(loaded.model_dump(mode="json", exclude_none=True)))
    assert again.models == loaded.models and again.router == loaded.router and again.server == loaded.server


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_loads_or_fails_with_a_config_error(text: str) -> None:
    try:
        parse_policy(text)
    except ConfigError as exc:
        assert exc.issues


roles = st.sampled_from(["system", "user", "assistant", "developer"])
messages = st.lists(st.fixed_dictionaries({"role": roles, "content": st.text(min_size=1, max_size=40)}),
                    min_size=1, max_size=4)
valid_chats = st.fixed_dictionaries(
    {"model": st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=20),
     "messages": messages},
    optional={"temperature": st.floats(0, 2), "max_tokens": st.integers(1, 4096), "stream": st.booleans(),
              "top_p": st.floats(0, 1), "stop": st.text(min_size=1, max_size=5), "user": st.text(max_size=10)})


@SETTINGS
@given(valid_chats)
def test_valid_chat_bodies_pass_and_validation_is_idempotent(body: dict[str, Any]) -> None:
    model = validate_chat(body)
    assert model == body["model"]
    once = json.dumps(body, sort_keys=True)
    assert validate_chat(body) == model
    assert json.dumps(body, sort_keys=True) == once


@SETTINGS
@given(st.dictionaries(st.sampled_from(["model", "messages", "temperature", "max_tokens", "stream", "tools",
                                        "tool_choice", "response_format", "stop", "n", "stream_options",
                                        "api_base", "input", "user", "logit_bias"]) | st.text(max_size=8),
                       json_values, max_size=6))
def test_any_json_object_is_accepted_or_refused_as_a_bad_request(body: dict[str, Any]) -> None:
    for validate in (validate_chat, validate_embeddings):
        try:
            assert isinstance(validate(copy.deepcopy(body)), str)
        except RequestError as exc:
            assert exc.status == 400 and exc.message


def _nest(depth: int, leaf: Any) -> Any:
    for i in range(depth):
        leaf = {"k": leaf} if i % 2 else [leaf]
    return leaf


parts = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "input_audio", "file", "refusal",
                                                         "weird"]) | st.text(max_size=6)},
                              optional={"text": json_values, "image_url": json_values, "refusal": json_values,
                                        "input_audio": json_values, "file": json_values})
nested_fields = st.sampled_from(["metadata", "logit_bias", "response_format", "tools", "stream_options", "user"])


@st.composite
def hostile_chats(draw: st.DrawFn) -> dict[str, Any]:
    """Chat bodies with generated content parts and values nested up to 400 levels in any field."""
    content = draw(st.text(max_size=20) | st.lists(parts, min_size=1, max_size=3) | json_values)
    body: dict[str, Any] = {"model": "auto", "messages": [{"role": draw(roles), "content": content}]}
    field = draw(nested_fields)
    body[field] = {"a": _nest(draw(st.integers(0, 400)), draw(json_values))}
    return body


@SETTINGS
@given(hostile_chats())
def test_an_accepted_chat_body_can_always_be_sent_upstream(body: dict[str, Any]) -> None:
    """Whatever validation accepts serialises (orjson, as the direct adapter does) and is counted:
    nesting and mistyped content parts are refused as a 400 naming the field, never a 500 later."""
    import orjson

    from gateway.schemas import parse_json_object
    from router.upstream.tokens import estimate_tokens

    try:
        parsed = parse_json_object(json.dumps(body).encode())
        validate_chat(parsed)
    except RequestError as exc:  # Infinity is not JSON: refused whole; anything else names its field
        named = exc.param is not None and exc.param in exc.message
        assert exc.status == 400 and (exc.code == "invalid_json" or named)
        return
    orjson.dumps(parsed)
    assert estimate_tokens(parsed["messages"]) > 0

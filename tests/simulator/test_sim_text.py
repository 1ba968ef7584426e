"""Deterministic text, JSON-from-schema and embeddings (pure functions)."""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from simulator.names import model_from_name
from simulator.schema import value_for
from simulator.text import as_base64, cut_at_stop, digest_of, embedding, pieces, reply_text, rng_for


def test_reply_text_is_recognisable_deterministic_and_sized() -> None:
    digest = digest_of(1, "m", "prompt")
    text = reply_text("m", "one two three four five six seven eight nine ten", digest, 30)
    assert text.startswith("[m] echo: one two three four five six seven eight ")
    assert "nine" not in text.split()
    assert len(text.split()) == 30
    assert reply_text("m", "x", digest, 200) == reply_text("m", "x", digest, 200)
    assert len(reply_text("m", "x", digest, 200).split()) == 200
    assert reply_text("m", "x", digest_of(2, "m", "prompt"), 30) != reply_text("m", "x", digest, 30)


def test_pieces_rejoin_into_the_text() -> None:
    assert pieces("a  b\nc") == ["a", "  b", "\nc"]
    assert "".join(pieces('{"k": [1, 2]}')) == '{"k": [1, 2]}'


def test_cut_at_stop_takes_the_earliest_sequence() -> None:
    assert cut_at_stop("abc STOP def END", ("END", "STOP")) == ("abc ", "STOP")
    assert cut_at_stop("abc", ("zzz", "")) == ("abc", None)


def cosine(u: list[float], v: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(u, v, strict=True))


def test_embeddings_are_unit_vectors_close_for_shared_words() -> None:
    a, b, c = embedding("the red fox jumps", 48), embedding("the red fox sleeps", 48), embedding("quantum tax law", 48)
    assert abs(math.fsum(x * x for x in a) - 1) < 1e-9
    assert embedding("The red FOX jumps", 48) == a
    assert cosine(a, b) > cosine(a, c) + 0.3
    assert embedding("", 4) == [1.0, 0.0, 0.0, 0.0]
    assert len(embedding("long dims", 300)) == 300
    decoded = struct.unpack("<48f", base64.b64decode(as_base64(a)))
    assert all(abs(x - y) < 1e-6 for x, y in zip(decoded, a, strict=True))


SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"a": {"type": "integer", "exclusiveMinimum": 5, "maximum": 6}}},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"},
                                      "mail": {"type": "string", "format": "email"},
                                      "code": {"type": "string", "minLength": 20, "maxLength": 25}}},
    {"type": "array", "items": {"type": ["null", "number"], "minimum": -2, "maximum": -1},
     "minItems": 4, "maxItems": 4},
    {"allOf": [{"type": "object", "properties": {"x": {"const": 3}}},
               {"properties": {"y": {"type": "boolean"}}}]},
    {"oneOf": [{"type": "null"}, {"type": "string", "enum": ["a", "b"]}]},
    {"type": "object", "properties": {"tree": {"$ref": "#/definitions/node"}},
     "definitions": {"node": {"type": "object", "properties": {
         "name": {"type": "string"}, "kids": {"type": "array", "items": {"$ref": "#/definitions/node"}}}}}},
    {"type": "object", "properties": {"n": {"type": "number", "maximum": -50}}},
    {"properties": {"implicit": {"items": {"type": "integer"}}}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_values_match_their_schema(schema: dict[str, Any]) -> None:
    value = value_for(schema, rng_for("schema", json.dumps(schema)))
    jsonschema.validate(value, schema)
    assert value == value_for(schema, rng_for("schema", json.dumps(schema)))


def test_unusable_schemas_give_an_empty_object() -> None:
    assert value_for(None, rng_for(1)) == {}
    assert value_for({}, rng_for(1)) == {}


@pytest.mark.parametrize(("name", "kind", "detail"), [
    ("error-500", "http_500", None), ("error-503-x", "http_503", None), ("rate-limit", "rate_limit", None),
    ("timeout", "timeout", 30.0), ("timeout-250ms", "timeout", 0.25), ("reset-b", "reset", None),
    ("cut-stream", "cut_stream", None), ("malformed", "malformed_chunk", None), ("flaky-25", "http_500", 0.25),
])
def test_pattern_names_make_faulty_models(name: str, kind: str, detail: float | None) -> None:
    model = model_from_name(name)
    assert model is not None and model.name == name
    (fault,) = model.faults
    assert fault.kind == kind
    if kind == "timeout":
        assert fault.hang_s == detail
    if name.startswith("flaky"):
        assert fault.rate == detail


def test_slow_names_set_latency_and_plain_names_are_unknown() -> None:
    slow = model_from_name("slow-1500ms-b")
    assert slow is not None and slow.latency_ms == 1500 and slow.faults == ()
    assert model_from_name("gpt-4o") is None
    assert model_from_name("my-error-500") is None

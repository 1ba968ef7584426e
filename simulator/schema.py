"""Deterministic JSON values that match a JSON schema (the subset tools and `json_schema` use).

Handles `type` (also as a list), `properties` (all of them are filled), `items`, `enum`, `const`,
`anyOf`/`oneOf` (first branch), `allOf` (merged), local `$ref`s to `#/$defs/...` or
`#/definitions/...`, string `format`s and numeric/length bounds.
"""

from __future__ import annotations

import random
from typing import Any

from simulator.text import FILLER

JsonSchema = dict[str, Any]
_MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "sim@example.com",
    "uri": "https://example.com/sim",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def value_for(schema: object, rng: random.Random) -> object:
    """A value matching `schema`; an empty or unusable schema yields an empty object."""
    if not isinstance(schema, dict):
        return {}
    return _Generator(schema, rng).value(schema, 0)


class _Generator:
    def __init__(self, root: JsonSchema, rng: random.Random) -> None:
        self._root = root
        self._rng = rng

    def value(self, schema: JsonSchema, depth: int) -> object:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self._rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self.value(self._first_non_null(branches), depth)
        if isinstance(schema.get("allOf"), list):
            return self.value(_merge(self._resolve(s) for s in schema["allOf"] if isinstance(s, dict)), depth)
        kind = _kind(schema)
        if depth >= _MAX_DEPTH and kind in ("object", "array"):
            return {} if kind == "object" else []
        return _BUILDERS[kind](self, schema, depth)

    def _resolve(self, schema: JsonSchema) -> JsonSchema:
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH:
            target: object = self._root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) and part else target
            schema = target if isinstance(target, dict) else {}
            seen += 1
        return schema

    def _first_non_null(self, branches: list[Any]) -> JsonSchema:
        usable = [b for b in branches if isinstance(b, dict) and self._resolve(b).get("type") != "null"]
        return usable[0] if usable else (branches[0] if isinstance(branches[0], dict) else {})

    def obj(self, schema: JsonSchema, depth: int) -> object:
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        return {name: self.value(sub if isinstance(sub, dict) else {}, depth + 1)
                for name, sub in props.items()}

    def array(self, schema: JsonSchema, depth: int) -> object:
        items = schema.get("items")
        low = int(schema.get("minItems", 1))
        high = max(low, min(int(schema.get("maxItems", 3)), low + 2))
        count = self._rng.randint(low, high)
        return [self.value(items if isinstance(items, dict) else {"type": "string"}, depth + 1)
                for _ in range(count)]

    def string(self, schema: JsonSchema, depth: int) -> object:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt]
        low = int(schema.get("minLength", 0))
        high = int(schema.get("maxLength", 10_000))
        text = " ".join(self._rng.choice(FILLER) for _ in range(self._rng.randint(1, 3)))
        while len(text) < low:
            text += " " + self._rng.choice(FILLER)
        return text[:high]

    def integer(self, schema: JsonSchema, depth: int) -> object:
        low, high = _bounds(schema, 0, 100)
        return self._rng.randint(int(low), int(max(low, high)))

    def number(self, schema: JsonSchema, depth: int) -> object:
        low, high = _bounds(schema, 0.0, 100.0)
        return round(self._rng.uniform(low, max(low, high)), 3)

    def boolean(self, schema: JsonSchema, depth: int) -> object:
        return self._rng.random() < 0.5

    def null(self, schema: JsonSchema, depth: int) -> object:
        return None


_BUILDERS = {
    "object": _Generator.obj,
    "array": _Generator.array,
    "string": _Generator.string,
    "integer": _Generator.integer,
    "number": _Generator.number,
    "boolean": _Generator.boolean,
    "null": _Generator.null,
}


def _kind(schema: JsonSchema) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str) and kind in _BUILDERS:
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string" if schema else "object"


def _bounds(schema: JsonSchema, low: float, high: float) -> tuple[float, float]:
    """Inclusive bounds; an exclusive bound is moved in by one."""
    lo, hi = _number(schema, "minimum", "exclusiveMinimum", 1), _number(schema, "maximum", "exclusiveMaximum", -1)
    if lo is None:
        lo = low if hi is None or hi >= low else hi - 100
    if hi is None:
        hi = max(high, lo)
    return lo, hi


def _number(schema: JsonSchema, inclusive: str, exclusive: str, step: int) -> float | None:
    for key, shift in ((inclusive, 0), (exclusive, step)):
        value = schema.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) + shift
    return None


def _merge(schemas: Any) -> JsonSchema:
    merged: JsonSchema = {}
    props: dict[str, Any] = {}
    for s in schemas:
        props.update(s.get("properties", {}))
        merged.update({k: v for k, v in s.items() if k != "properties"})
    if props:
        merged["properties"] = props
    return merged

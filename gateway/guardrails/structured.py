"""Answers to `response_format` requests: is the answer the JSON the caller asked for?

The request path retries once with `SchemaVerdict.corrective_message()` appended, then fails with
`SchemaVerdict.error()` (502). `check_schema_param` refuses a request whose schema is itself invalid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router.errors import RequestError, UpstreamError

_MAX_ERRORS = 5


@dataclass(frozen=True, slots=True)
class SchemaVerdict:
    valid: bool
    errors: tuple[str, ...] = ()

    def corrective_message(self) -> dict[str, str]:
        problems = "; ".join(self.errors)
        return {"role": "user", "content": (
            f"Your previous answer was not valid for the required JSON format ({problems}). "
            "Answer again with only the JSON value, no prose and no code fences.")}

    def error(self) -> UpstreamError:
        return UpstreamError(f"the model's answer did not match the requested response_format: {self.errors[0]}",
                             code="invalid_structured_output")


def _schema(response_format: Mapping[str, Any]) -> dict[str, Any] | None:
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    return dict(schema) if isinstance(schema, Mapping) else None


def check_schema_param(response_format: Any) -> None:
    """Raise `RequestError` (400) when a `json_schema` response format carries an invalid schema."""
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return
    schema = _schema(response_format)
    if schema is None:
        raise RequestError("response_format.json_schema.schema: must be an object",
                           param="response_format.json_schema.schema")
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise RequestError(f"response_format.json_schema.schema: invalid JSON Schema: {exc.message}",
                           param="response_format.json_schema.schema") from None


def check_answer(text: str, response_format: Any) -> SchemaVerdict | None:
    """None when the request asked for no JSON; else whether `text` is the JSON asked for."""
    if not isinstance(response_format, Mapping) or response_format.get("type") not in ("json_object", "json_schema"):
        return None
    try:
        value = orjson.loads(text.strip())
    except orjson.JSONDecodeError:
        return SchemaVerdict(valid=False, errors=("the answer is not valid JSON",))
    if response_format["type"] == "json_object":
        ok = isinstance(value, dict)
        return SchemaVerdict(valid=ok, errors=() if ok else ("the answer is not a JSON object",))
    schema = _schema(response_format)
    if schema is None:
        return SchemaVerdict(valid=True)
    from jsonschema import Draft202012Validator

    found = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    errors = tuple(f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in found)
    return SchemaVerdict(valid=not errors, errors=errors[:_MAX_ERRORS])

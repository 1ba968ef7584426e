from __future__ import annotations

from typing import Any

import pytest

from gateway.guardrails.structured import check_answer, check_schema_param
from router.errors import RequestError

SCHEMA: dict[str, Any] = {"type": "json_schema", "json_schema": {"name": "person", "schema": {
    "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"], "additionalProperties": False}}}


def test_valid_answer() -> None:
    verdict = check_answer('{"name": "Ada", "age": 36}', SCHEMA)
    assert verdict is not None and verdict.valid


@pytest.mark.parametrize("answer,error", [
    ("Sure! Here it is", "not valid JSON"),
    ('{"name": "Ada"}', "'age' is a required property"),
    ('{"name": "Ada", "age": -1}', "age: -1 is less than the minimum of 0"),
    ('{"name": "Ada", "age": 3, "x": 1}', "Additional properties"),
])
def test_invalid_answers_explain_why(answer: str, error: str) -> None:
    verdict = check_answer(answer, SCHEMA)
    assert verdict is not None and not verdict.valid and error in verdict.errors[0]
    message = verdict.corrective_message()
    assert message["role"] == "user" and error in message["content"]
    assert verdict.error().status == 502 and verdict.error().code == "invalid_structured_output"


def test_json_object_and_no_format() -> None:
    fmt = {"type": "json_object"}
    assert check_answer("{}", fmt).valid  # type: ignore[union-attr]
    assert not check_answer("[1]", fmt).valid  # type: ignore[union-attr]
    assert check_answer("anything", {"type": "text"}) is None
    assert check_answer("anything", None) is None


def test_invalid_schema_is_the_callers_error() -> None:
    with pytest.raises(RequestError) as info:
        check_schema_param({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}})
    assert info.value.param == "response_format.json_schema.schema"
    with pytest.raises(RequestError):
        check_schema_param({"type": "json_schema", "json_schema": {"name": "x"}})
    check_schema_param(SCHEMA)
    check_schema_param({"type": "text"})

"""Bodies over `THREAD_BYTES` are parsed in a thread, off the event loop: the same objects and the same
errors as a small body's."""

from __future__ import annotations

import asyncio

import pytest

from gateway.schemas import THREAD_BYTES, parse_json_object, read_json_object
from router.errors import RequestError

PAD = b"x" * (THREAD_BYTES + 1)
GOOD = b'{"model": "auto", "messages": [{"role": "user", "content": "' + PAD + b'"}]}'


def test_a_large_body_parses_to_the_same_object() -> None:
    assert asyncio.run(read_json_object(GOOD)) == parse_json_object(GOOD)


@pytest.mark.parametrize(("raw", "says"), [
    (GOOD[:-2], "not valid JSON"),
    (b"[" + b"1, " * (THREAD_BYTES // 3) + b"1]", "must be a JSON object"),
    (GOOD[:-1] + b', "metadata": ' + b'{"a": ' * 300 + b"1" + b"}" * 300 + b"}", "metadata: nested deeper than 64"),
])
def test_a_large_bad_body_gets_the_same_error(raw: bytes, says: str) -> None:
    assert len(raw) > THREAD_BYTES
    with pytest.raises(RequestError) as in_thread:
        asyncio.run(read_json_object(raw))
    with pytest.raises(RequestError) as inline:
        parse_json_object(raw)
    assert says in str(in_thread.value) and str(in_thread.value) == str(inline.value)

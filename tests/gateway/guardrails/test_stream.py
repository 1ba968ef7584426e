from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import GuardrailViolation
from gateway.guardrails import GuardrailProfile, Guardrails
from gateway.guardrails.pii import find_pii, redact
from gateway.guardrails.stream import StreamRedactor
from tests.gateway.guardrails.conftest import Counter

TEXT = ("Contact jane.roe@example.org or +44 20 7946 0958 about card 4111-1111-1111-1111. "
        "Token ghp_" + "Q" * 36 + " and host 192.168.0.17 are internal. " + "Plain words follow here. " * 6)


LONG = "Key sk-" + "x9" * 400 + " then words, mail a@b.io and " + "tk-" + "Z" * 3000 + " end. " + "More text. " * 20


def _streamed(text: str, sizes: list[int]) -> str:
    """`text` fed to a redactor in pieces of `sizes` (cycled), then flushed."""
    redactor = StreamRedactor(window=64)
    out, pos, i = [], 0, 0
    while pos < len(text):
        n = sizes[i % len(sizes)]
        out.append(redactor.feed(text[pos:pos + n]))
        pos, i = pos + n, i + 1
    out.append(redactor.flush())
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=80))
def test_any_split_redacts_like_the_whole_text(sizes: list[int]) -> None:
    assert _streamed(TEXT, sizes) == redact(TEXT, find_pii(TEXT))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=40))
def test_any_split_of_secrets_longer_than_the_window_redacts_like_the_whole_text(sizes: list[int]) -> None:
    assert _streamed(LONG, sizes) == redact(LONG, find_pii(LONG))


def test_a_secret_running_on_for_pages_is_not_scanned_again_every_step() -> None:
    """Every four characters rescanned the whole held match: 38 s of the gateway's CPU for a 40,000
    character run of a secret's characters (an answer the client can ask a model for)."""
    import time

    redactor = StreamRedactor()
    started = time.perf_counter()
    out = [redactor.feed("hello sk-")] + [redactor.feed("aaaa") for _ in range(10_000)]
    out.append(redactor.feed(" done.") + redactor.flush())
    assert "".join(out) == "hello [REDACTED_SECRET] done."
    assert time.perf_counter() - started < 3.0  # ~0.03 s; 38 s before


def test_holds_back_only_the_window_and_one_step() -> None:
    redactor = StreamRedactor(window=32)
    sent = ""
    for i, c in enumerate("word " * 100):
        sent += redactor.feed(c)
        assert i + 1 - len(sent) < 32 + 32
    assert sent == ("word " * 100)[:len(sent)]


def chunk(content: str | None, *, index: int = 0, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content is not None else {}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


async def feed(chunks: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for c in chunks:
        yield c


def words(text: str, size: int = 7) -> list[dict[str, Any]]:
    return [chunk(text[i:i + size]) for i in range(0, len(text), size)]


def guards(action: str, counter: Counter | None = None) -> Guardrails:
    profile = GuardrailProfile.model_validate({"output": {"pii": {"action": action}, "stream_window": 64}})
    return Guardrails(profile, scorer=None, observer=counter)


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])


async def test_stream_redaction_keeps_chunks_flowing() -> None:
    source = [*words(TEXT), chunk(None, finish="stop"), {"id": "c1", "choices": [], "usage": {"total_tokens": 9}}]
    out = [c async for c in guards("redact").output_stream(feed(source))]
    assert text_of(out) == redact(TEXT, find_pii(TEXT))
    assert out[-2]["choices"][0]["finish_reason"] == "stop" and out[-1]["usage"] == {"total_tokens": 9}
    # text reaches the client before the stream ends: not buffered whole
    assert text_of(out[:20]) != ""


async def test_stream_without_finish_reason_flushes_a_last_chunk() -> None:
    out = [c async for c in guards("redact").output_stream(feed(words("short: a@b.io")))]
    assert text_of(out) == "short: [REDACTED_EMAIL]" and out[-1]["id"] == "c1"


async def test_choices_are_redacted_separately() -> None:
    source = [chunk("mail x@y.io", index=0), chunk("mail z@w.io", index=1),
              chunk(" ok", index=0, finish="stop"), chunk(" ok", index=1, finish="stop")]
    out = [c async for c in guards("redact").output_stream(feed(source))]
    by_index: dict[int, str] = {}
    for c in out:
        for ch in c["choices"]:
            by_index[ch["index"]] = by_index.get(ch["index"], "") + ch["delta"].get("content", "")
    assert by_index == {0: "mail [REDACTED_EMAIL] ok", 1: "mail [REDACTED_EMAIL] ok"}


async def test_block_stops_before_the_pii_is_sent() -> None:
    counter = Counter()
    sent: list[dict[str, Any]] = []
    with pytest.raises(GuardrailViolation) as info:
        async for c in guards("block", counter).output_stream(feed(words(TEXT))):
            sent.append(c)
    assert "jane.roe" not in text_of(sent) and info.value.code == "guardrail_violation"
    assert counter.seen == [("output.pii", "block")]


async def test_flag_passes_text_through_and_counts() -> None:
    counter = Counter()
    out = [c async for c in guards("flag", counter).output_stream(feed(words(TEXT)))]
    assert text_of(out) == TEXT
    assert counter.seen and all(s == ("output.pii", "flag") for s in counter.seen)


async def test_no_output_pii_guard_returns_the_stream_itself() -> None:
    source = feed([chunk("a@b.io")])
    assert Guardrails(GuardrailProfile()).output_stream(source) is source

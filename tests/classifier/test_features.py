"""Conversation parsing and features: the whole request is read, long turns are bounded."""

from __future__ import annotations

from typing import Any

from classifier.conversation import parse
from classifier.features import DENSE_NAMES, dense, sparse_keys

LAST: dict[str, Any] = {"role": "user", "content": "Can you do that for the second file as well?"}
RICH: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a coding agent with repository access."},
    {"role": "user", "content": [{"type": "text", "text": "Refactor this module."},
                                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
    {"role": "assistant", "content": "Done, see the diff.", "tool_calls": [{"id": "1"}]},
    {"role": "tool", "content": "diff --git a/x.py b/x.py"},
    LAST,
]


def _features(messages: list[dict[str, Any]], **kwargs: Any) -> dict[str, float]:
    return dict(zip(DENSE_NAMES, dense(parse(messages, **kwargs)), strict=True))


def test_context_of_the_request_reaches_the_features() -> None:
    bare = _features([LAST])
    rich = _features(RICH, tools=[{"type": "function", "function": {"name": "edit"}}],
                     response_format={"type": "json_object"})
    for name in ("log_system_chars", "log_earlier_chars", "log_turns", "has_images", "log_tools",
                 "log_tool_messages", "json_output"):
        assert rich[name] > bare[name], name
    assert rich["log_chars"] == bare["log_chars"]  # the last user turn is the same


def test_system_prompt_and_ask_have_their_own_keys() -> None:
    keys = sparse_keys(parse(RICH))
    assert "s:agent" in keys and "u:second" in keys and "a:second" in keys and "b:second file" in keys


def test_ask_is_the_final_question_of_a_few_shot_prompt() -> None:
    prompt = "Q: 1+1?\nA: 2\n\nQ: 2+2?\nA: 4\n\nQ: What is the largest prime below 100, and why?\nAnswer:"
    conv = parse([{"role": "user", "content": prompt}])
    assert "largest prime" in conv.ask and conv.ask.endswith("Answer:")
    assert "1+1" not in conv.ask  # the exemplars are left out (a short last block takes one block before it)


def test_long_turns_are_clipped_but_counted() -> None:
    text = "word " * 50_000
    conv = parse([{"role": "user", "content": text}])
    assert conv.last_user_chars == len(text)
    assert len(conv.last_user) < 5_000 and len(sparse_keys(conv)) < 1_500


def test_no_user_turn_reads_the_last_message() -> None:
    conv = parse([{"role": "system", "content": "Summarise the news."}])
    assert conv.last_user == "Summarise the news."

"""An upstream's token counts, believed only where they could be true, and the estimate otherwise.

Usage is what budgets and spend are charged from, so a count that cannot be real is not taken:
a negative one would hand budget back, a bool is not a count, and one past `MAX_TOKENS` (no
answer is that large) would spend a tenant's month on one request. A count left out is estimated
as streams always were: the prompt from the request, the completion from the text delivered
(about four characters a token).
"""

from __future__ import annotations

from typing import Any

MAX_TOKENS = 100_000_000


def sane_usage(usage: object) -> dict[str, int]:
    """The integer counts of an upstream's `usage` object that are between 0 and `MAX_TOKENS`."""
    if not isinstance(usage, dict):
        return {}
    return {k: v for k, v in usage.items() if v.__class__ is int and 0 <= v <= MAX_TOKENS}


def counted_tokens(chars: int) -> int:
    """Completion tokens of `chars` characters of output when the upstream sent no usage: about four
    characters a token (the same rule as the prompt estimate), rounded up."""
    return -(-chars // 4)


def output_chars(message: dict[str, Any]) -> int:
    """Characters of output in a message or a stream's delta: text, refusals, tool calls' names and
    arguments."""
    chars = 0
    for key in ("content", "refusal"):
        value = message.get(key)
        if isinstance(value, str):
            chars += len(value)
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict):
            chars += sum(len(v) for v in (fn.get("name"), fn.get("arguments")) if isinstance(v, str))
    return chars


def answer_chars(body: dict[str, Any]) -> int:
    """Characters of output in a plain answer, over its choices' messages."""
    choices = body.get("choices")
    return sum(output_chars(c["message"]) for c in (choices if isinstance(choices, list) else ())
               if isinstance(c, dict) and isinstance(c.get("message"), dict))


def charged_usage(usage: object, *, prompt_estimate: int, output_chars: int) -> dict[str, int]:
    """The counts to charge: the upstream's sane ones, the estimates where it gave none."""
    counts = sane_usage(usage)
    prompt = counts.setdefault("prompt_tokens", prompt_estimate)
    completion = counts.setdefault("completion_tokens", counted_tokens(output_chars))
    if "total_tokens" not in counts:
        counts["total_tokens"] = prompt + completion
    return counts

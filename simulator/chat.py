"""The dialect-neutral core of a chat answer: what to say, independent of OpenAI or Anthropic shapes.

Each API module parses its request body into a `ChatRequest`, calls `compose`, and renders the
`Completion` in its own wire format (whole or streamed).

A request with tools answers with a tool call (to the named tool, or the first) unless
`tool_choice` is "none", or it is "auto" and the last message is a tool result (so agent loops end).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.config import SimModel
from simulator.schema import value_for
from simulator.text import count_tokens, cut_at_stop, digest_of, pieces, reply_text

Finish = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True)
class Tool:
    name: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    model: str
    texts: tuple[str, ...]  # every message's text, system prompt included, for prompt tokens
    last_user: str
    last_is_tool_result: bool = False
    tools: tuple[Tool, ...] = ()
    tool_choice: str = "auto"  # "auto" | "none" | "required" | "tool:<name>"
    json_schema: dict[str, Any] | None = None
    json_object: bool = False
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    max_tokens: int | None = None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True)
class Choice:
    index: int
    text: str | None
    tool_call: ToolCall | None
    finish: Finish
    stop_sequence: str | None = None
    tokens: int = 0

    def pieces(self) -> list[str]:
        """What a stream sends, one word-ish token per piece (the tool arguments for a tool call)."""
        return pieces(self.tool_call.arguments if self.tool_call else self.text or "")


@dataclass(frozen=True)
class Completion:
    id_hex: str
    prompt_tokens: int
    choices: tuple[Choice, ...] = field(default_factory=tuple)

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.choices)


def prompt_tokens(request: ChatRequest) -> int:
    return sum(count_tokens(t) for t in request.texts)


def prompt_chars(request: ChatRequest) -> int:
    return sum(len(t) for t in request.texts)


def compose(request: ChatRequest, model: SimModel, seed: int) -> Completion:
    """The deterministic answer to `request` from `model` under the simulator `seed`."""
    base = (seed, model.name, request.seed, "\x1e".join(request.texts), request.tool_choice)
    choices = tuple(_choice(request, model, i, base) for i in range(max(1, request.n)))
    return Completion(id_hex=digest_of(*base, "id")[:12].hex(), prompt_tokens=prompt_tokens(request),
                      choices=choices)


def _choice(request: ChatRequest, model: SimModel, index: int, base: tuple[object, ...]) -> Choice:
    digest = digest_of(*base, index)
    tool = _tool_to_call(request)
    if tool is not None:
        args = _json(value_for(tool.schema, _rng(digest)))
        call = ToolCall(id="call_" + digest[-8:].hex(), name=tool.name, arguments=args)
        return Choice(index, None, call, "tool_calls", tokens=max(1, count_tokens(args)))
    span = max(0, model.max_output_tokens - model.min_output_tokens)
    length = model.min_output_tokens + int.from_bytes(digest[:4], "big") % (span + 1)
    text = reply_text(model.name, request.last_user, digest[4:], length)
    if model.name.startswith(JUDGE_PREFIX):  # a scripted judge: prefers the answer of the model it names
        text = judge_verdict(request.last_user, model.name.removeprefix(JUDGE_PREFIX))
    if request.json_schema is not None:
        text = _json(value_for(request.json_schema, _rng(digest)))
    elif request.json_object:
        text = _json({"model": model.name, "answer": text})
    text, stop_sequence = cut_at_stop(text, request.stop)
    words = pieces(text)
    text = "".join(words)  # what a stream of the same answer sends
    if request.max_tokens is not None and len(words) > request.max_tokens:
        return Choice(index, "".join(words[: request.max_tokens]), None, "length", tokens=request.max_tokens)
    return Choice(index, text, None, "stop", stop_sequence, tokens=len(words))


JUDGE_PREFIX = "judge-prefers-"


def judge_verdict(prompt: str, preferred: str) -> str:
    """`A` or `B`: the answer (between `[Answer A]` / `[Answer B]` markers) that starts with `[preferred]`;
    `tie` when neither or both do."""
    head, _, b = prompt.partition("[Answer B]")
    a = head.partition("[Answer A]")[2]
    marker = f"[{preferred}]"
    wins = [label for label, text in (("A", a), ("B", b)) if marker in text]
    return wins[0] if len(wins) == 1 else "tie"


def _rng(digest: bytes) -> random.Random:
    return random.Random(int.from_bytes(digest[:8], "big"))


def _json(value: object) -> str:
    """JSON with spaces after separators, so it streams as several word-ish pieces."""
    return json.dumps(value, separators=(", ", ": "))


def _tool_to_call(request: ChatRequest) -> Tool | None:
    if not request.tools or request.tool_choice == "none":
        return None
    if request.tool_choice.startswith("tool:"):
        wanted = request.tool_choice.removeprefix("tool:")
        return next((t for t in request.tools if t.name == wanted), request.tools[0])
    if request.tool_choice == "auto" and request.last_is_tool_result:
        return None
    return request.tools[0]

"""An OpenAI request (messages, tools, response_format) reduced to the parts the features read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HEAD_CHARS = 1500  # long turns: features read the head and the tail, lengths count everything
TAIL_CHARS = 700
ASK_MIN_CHARS = 80
ASK_MAX_CHARS = 700


@dataclass(frozen=True, slots=True)
class Conversation:
    last_user: str
    ask: str  # the final paragraph(s) of the last user turn: usually the request itself
    system: str
    earlier_chars: int
    last_user_chars: int
    turns: int
    images: int
    tools: int
    tool_messages: int
    output_format: str  # "", "json_object", "json_schema" or another response_format type


def _clip(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _ask(text: str) -> str:
    """The last paragraph of a turn, with the one before it when the last is only a cue like "Answer:"."""
    blocks = text.rstrip().rsplit("\n\n", 2)
    ask = blocks[-1]
    if len(ask) < ASK_MIN_CHARS and len(blocks) > 1:
        ask = blocks[-2] + "\n\n" + ask
    return ask[-ASK_MAX_CHARS:]


def _content(content: Any) -> tuple[str, int]:
    """(text, image count) of a message's content: a string or a list of typed parts."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, Sequence):
        return "", 0
    texts, images = [], 0
    for part in content:
        if isinstance(part, Mapping):
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind in ("image_url", "input_image", "image"):
                images += 1
    return "\n".join(texts), images


def parse(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None = None,
          response_format: Mapping[str, Any] | None = None) -> Conversation:
    """Split a conversation into last user turn, system prompt and counts."""
    system: list[str] = []
    last_user, last_index = "", -1
    images = tool_messages = total_chars = 0
    for index, message in enumerate(messages):
        role = message.get("role")
        text, n_images = _content(message.get("content"))
        images += n_images
        total_chars += len(text)
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            last_user, last_index = text, index
        elif role == "tool" or message.get("tool_calls"):
            tool_messages += 1
    turns = sum(1 for m in messages if m.get("role") in ("user", "assistant"))
    fmt = str(response_format.get("type", "")) if isinstance(response_format, Mapping) else ""
    system_text = "\n".join(system)
    if last_index < 0:  # no user turn: read whatever the last message says
        last_user = _content(messages[-1].get("content"))[0] if messages else ""
    return Conversation(
        last_user=_clip(last_user), ask=_ask(last_user), system=_clip(system_text),
        earlier_chars=max(0, total_chars - len(last_user) - len(system_text)), last_user_chars=len(last_user),
        turns=turns, images=images, tools=len(tools or ()), tool_messages=tool_messages,
        output_format="" if fmt == "text" else fmt,
    )

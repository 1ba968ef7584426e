"""What a request means, computed once: the text the user is asking now and its vector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class RequestEmbedding:
    text: str
    """What the user is asking now: the last user message's text parts, joined."""
    vector: npt.NDArray[np.float32]
    """The static embedding of `text`, L2-normalised."""
    prompt_chars: int
    """Characters of text over the whole conversation (the length prior's input)."""
    turns: int
    """User messages in the conversation."""


class TextEmbedder(Protocol):
    def embed(self, text: str) -> npt.NDArray[np.float32]:
        """One L2-normalised row for `text`."""
        ...


def embed_request(embedder: TextEmbedder, messages: Sequence[Mapping[str, Any]]) -> RequestEmbedding:
    """The request's embedding: what the user asks now, embedded once, and the conversation's size."""
    text = request_text(messages)
    chars = turns = 0
    for message in messages:
        if isinstance(message, Mapping):
            chars += len(content_text(message.get("content")))
            turns += message.get("role") == "user"
    return RequestEmbedding(text=text, vector=embedder.embed(text), prompt_chars=chars, turns=turns)


def content_text(content: Any) -> str:
    """A message content's text as the model sees it: a string, or its text parts joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content
                         if isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def request_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The last user message's text ('' when there is none)."""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""

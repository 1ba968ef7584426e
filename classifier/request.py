"""A request's embedding when the caller has none (batch scoring, `turnout route`, training rows).

The gateway computes one `embedding.RequestEmbedding` per request and passes it in; this builds the
same value from the messages, so the classifier scores a request identically either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from embedding import RequestEmbedding, request_text
from embedding.request import content_text


class TextEmbedder(Protocol):
    """`embedding.StaticEmbedder` as the classifier uses it."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


def conversation_size(messages: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """(characters of text over the whole conversation, user turns)."""
    chars = turns = 0
    for message in messages:
        if isinstance(message, Mapping):
            chars += len(content_text(message.get("content")))
            turns += message.get("role") == "user"
    return chars, turns


def embed_requests(embedder: TextEmbedder, conversations: Sequence[Sequence[Mapping[str, Any]]]
                   ) -> list[RequestEmbedding]:
    """One `RequestEmbedding` per conversation, embedded in one batch."""
    texts = [request_text(messages) for messages in conversations]
    vectors = embedder.encode(texts)
    out = []
    for text, vector, messages in zip(texts, vectors, conversations, strict=True):
        chars, turns = conversation_size(messages)
        out.append(RequestEmbedding(text=text, vector=vector, prompt_chars=chars, turns=turns))
    return out

"""Deterministic text for simulated answers: word-ish tokens, recognisable replies, embeddings.

Everything here is a pure function of its arguments; randomness comes from a `random.Random`
seeded with a SHA-256 of the inputs, never from Python's salted `hash()`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
import struct

_WORD = re.compile(r"\S+")
_PIECE = re.compile(r"\s*\S+")

FILLER = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "river", "stone", "cloud", "signal",
    "lantern", "harbor", "meadow", "copper", "ember", "willow", "summit", "canyon", "orbit", "pixel",
    "vector", "kernel", "socket", "buffer", "packet", "router", "switch", "tunnel", "bridge", "relay",
)
ECHO_WORDS = 8


def digest_of(*parts: object) -> bytes:
    """A stable 64-byte digest of `parts` (their `str` forms)."""
    return hashlib.sha512("\x1f".join(map(str, parts)).encode()).digest()


def rng_for(*parts: object) -> random.Random:
    """A generator seeded by a stable digest of `parts`."""
    return random.Random(int.from_bytes(digest_of(*parts)[:8], "big"))


def count_tokens(text: str) -> int:
    """Word-ish token count: whitespace-separated words."""
    return len(_WORD.findall(text))


def pieces(text: str) -> list[str]:
    """`text` cut into stream pieces (one word each, with its leading whitespace); they join back to
    `text` minus trailing whitespace."""
    return _PIECE.findall(text)


def reply_text(model: str, last_user: str, digest: bytes, length: int) -> str:
    """`[model] echo: <first words of the last user message> <filler...>` with `length` words in all,
    the filler picked by the bytes of `digest` (and of digests chained from it when it runs out)."""
    echo = _WORD.findall(last_user)[:ECHO_WORDS]
    words = [f"[{model}]", "echo:", *echo]
    block, counter = digest, 0
    while len(words) < length:
        words.extend(FILLER[b % len(FILLER)] for b in block[: length - len(words)])
        counter += 1
        block = hashlib.sha512(digest + counter.to_bytes(4, "big")).digest()
    return " ".join(words)


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, str | None]:
    """Cut `text` before the earliest stop sequence; returns the text and the sequence that cut it."""
    best: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop) if stop else -1
        if at >= 0 and (best is None or at < best[0]):
            best = (at, stop)
    if best is None:
        return text, None
    return text[: best[0]], best[1]


def embedding(text: str, dims: int) -> list[float]:
    """A unit vector built by hashing each word (feature hashing), so texts sharing words are close
    and equal texts are equal. Empty text maps to the first axis."""
    acc = [0.0] * dims
    for word in _WORD.findall(text.lower()):
        for i, value in enumerate(_word_vector(word, dims)):
            acc[i] += value
    norm = math.sqrt(sum(v * v for v in acc))
    if norm == 0.0:
        return [1.0] + [0.0] * (dims - 1)
    return [v / norm for v in acc]


def _word_vector(word: str, dims: int) -> list[float]:
    raw = b""
    counter = 0
    while len(raw) < dims:
        raw += hashlib.blake2b(f"{counter}:{word}".encode(), digest_size=64).digest()
        counter += 1
    return [(b - 127.5) / 127.5 for b in raw[:dims]]


def as_base64(vector: list[float]) -> str:
    """The OpenAI `encoding_format: base64` form: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()

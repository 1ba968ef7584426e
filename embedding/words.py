"""Token ids of plain ASCII text without a call into the tokenizer per request: its words' ids, cached.

The shipped tokenizer is BERT's (lower-casing normaliser, whitespace-and-punctuation pre-tokenizer,
WordPiece per word), so on printable ASCII text the ids of a text are the ids of its words, one word
at a time: runs of letters and digits, and each punctuation character alone. A word's ids come from
the tokenizer the first time it is seen and from a dictionary after that. Text with anything else
(other scripts, accents, control characters) or naming a special token (`[CLS]`, ...) goes to the
tokenizer whole, as before. The ids are the same either way (`tests/embedding/test_words.py`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_PLAIN = re.compile(r"[\x20-\x7e\t\n\r]*")
_WORD = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")
_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_WORDS = 100_000  # distinct words remembered (a few MB); past it, new words are tokenized each time


class WordIds:
    """`ids(text)` -> the tokenizer's ids of `text` without special tokens."""

    def __init__(self, tokenizer: Tokenizer, *, max_words: int = MAX_WORDS) -> None:
        tokenizer.no_truncation()  # whole texts, unpadded (as `StaticEmbedder` sets its tokenizer)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._known: dict[str, list[int]] = {}
        self._max_words = max_words

    def ids(self, text: str) -> list[int]:
        if not _PLAIN.fullmatch(text) or ("[" in text and any(s in text for s in _SPECIAL)):
            return self._tokenizer.encode(text, add_special_tokens=False).ids
        out: list[int] = []
        known = self._known
        for word in _WORD.findall(text.lower()):
            found = known.get(word)
            if found is None:
                found = self._tokenizer.encode(word, add_special_tokens=False).ids
                if len(known) < self._max_words:
                    known[word] = found
            out += found
        return out

"""Features of a conversation: a few dozen dense signals plus sparse word and bigram keys.

Everything here is plain Python and numpy built on C-level string methods (`str.count`,
`str.translate`, `bytes.translate`, `str.split`) so that serving costs well under a millisecond; the
trained vocabulary maps sparse keys to rows of the weight matrices.
"""

from __future__ import annotations

import itertools
import math
import re
import string

import numpy as np

from classifier.conversation import Conversation

HEAD_CHARS = 1000  # sparse keys read the first and last characters of a long turn
TAIL_CHARS = 500

_WORD = re.compile(r"[a-z0-9_]+|[^\sa-z0-9_]")
_DIGITS = string.digits.encode()
_UPPER = string.ascii_uppercase.encode()
_PLAIN = (string.ascii_letters + string.digits + " \n\t\r").encode()

_CODE = ("```", "def ", "return ", "import ", "#include", "class ", "=>", "function", ";\n", "{\n", "</", "()",
         "print(", "const ", "public ", "python", "javascript", "sql", "code")
_MATH = ("$", "\\frac", "\\sqrt", "\\sum", "\\int", "\\cdot", "^", " = ", "+", "solve", "prove", "equation",
         "integral", "probability", "calculate", "compute", "how many", "theorem")
_REASON = ("step by step", "step-by-step", "explain", "why", "derive", "analy", "compare", "justify", "trade-off",
           "tradeoff", "design", "implement", "optimi", "debug", "evaluate", "reason")
_CONSTRAINT = ("must", "should", "at least", "at most", "exactly", "without", "only", "ensure", "do not", "don't",
               "requirement")
_FORMAT = ("json", "table", "bullet", "markdown", "yaml", "csv", " words", "format", "list")
_CHOICES = re.compile(r"(?m)^\s*\(?[A-Ea-e][).:]\s")
_SIMPLE = ("what is", "what's", "who is", "who was", "when did", "when was", "where is", "define", "hi", "hello",
           "thanks", "thank you")

DENSE_NAMES = (
    "log_chars", "log_words", "log_lines", "log_system_chars", "log_earlier_chars", "log_turns", "has_images",
    "log_tools", "log_tool_messages", "json_output", "code_markers", "math_markers", "choices", "reasoning_cues",
    "constraints", "format_requests", "simple_opening", "few_shot_answers", "questions", "ends_with_question",
    "digit_ratio", "symbol_ratio", "upper_ratio", "non_ascii_ratio", "mean_word_len", "bullets",
    "ask_log_chars", "ask_log_words", "ask_share", "ask_code_markers", "ask_math_markers", "ask_reasoning_cues",
    "ask_questions", "ask_digit_ratio",
)


def _log(n: float) -> float:
    return math.log1p(n)


def _count(text: str, needles: tuple[str, ...]) -> float:
    return math.log1p(sum(map(text.count, needles)))


def dense(conv: Conversation) -> list[float]:
    """The dense feature vector of a conversation, in DENSE_NAMES order."""
    text = conv.last_user
    lower = text.lower()
    chars = max(1, len(text))
    raw = text.encode("utf-8", "ignore")
    n_ascii = len(text.encode("ascii", "ignore"))
    n_words = max(1, len(lower.split()))
    return [
        _log(conv.last_user_chars), _log(n_words), _log(text.count("\n")), _log(len(conv.system)),
        _log(conv.earlier_chars), _log(conv.turns), float(conv.images > 0), _log(conv.tools),
        _log(conv.tool_messages), float(conv.output_format.startswith("json")),
        _count(lower, _CODE), _count(lower, _MATH), _log(len(_CHOICES.findall(text))), _count(lower, _REASON),
        _count(lower, _CONSTRAINT), _count(lower, _FORMAT), float(lower.lstrip().startswith(_SIMPLE)),
        _log(lower.count("answer:")), _log(text.count("?")), float(text.rstrip().endswith("?")),
        (len(raw) - len(raw.translate(None, _DIGITS))) / chars,
        len(raw.translate(None, _PLAIN)) / len(raw) if raw else 0.0,
        (len(raw) - len(raw.translate(None, _UPPER))) / chars, (chars - n_ascii) / chars,
        len(lower) / n_words / 10.0, _log(text.count("\n- ") + text.count("\n* ") + text.count("\n1.")),
        *_ask_features(conv.ask, chars),
    ]


def _ask_features(ask: str, turn_chars: int) -> list[float]:
    lower = ask.lower()
    raw = ask.encode("utf-8", "ignore")
    return [
        _log(len(ask)), _log(len(lower.split())), len(ask) / turn_chars, _count(lower, _CODE), _count(lower, _MATH),
        _count(lower, _REASON), _log(ask.count("?")), (len(raw) - len(raw.translate(None, _DIGITS))) / max(1, len(ask)),
    ]


def _words(text: str) -> list[str]:
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = text[:HEAD_CHARS] + " " + text[-TAIL_CHARS:]
    return _WORD.findall(text.lower())


def sparse_keys(conv: Conversation) -> list[str]:
    """Word and bigram keys of the last user turn, word keys of its final ask and of the system prompt."""
    words = _words(conv.last_user)
    keys = ["u:" + w for w in words]
    keys += ["b:" + pair for pair in map(" ".join, itertools.pairwise(words))]
    keys += ["a:" + w for w in _words(conv.ask)]
    keys += ["s:" + w for w in _words(conv.system)]
    return keys


def sparse_indices(keys: list[str], vocab: dict[str, int]) -> np.ndarray:
    """Distinct vocabulary rows present in `keys` (unknown keys are dropped)."""
    get = vocab.get
    found = {i for k in keys if (i := get(k)) is not None}
    return np.fromiter(found, dtype=np.int64, count=len(found))

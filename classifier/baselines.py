"""Baseline routers for the eval table: each maps a prompt to a score (higher = send to strong)."""

from __future__ import annotations

import re
from collections.abc import Callable

from classifier.conversation import Conversation

Scorer = Callable[[Conversation], float]

# A compact re-implementation of LiteLLM's heuristic complexity router (router_strategy/complexity_router):
# keyword dimensions with its default word lists (abridged) and weights, plus its token-count rule.
_CODE = ("function", "class", "def", "const", "let", "var", "import", "export", "return", "async", "await", "try",
         "catch", "exception", "error", "debug", "api", "endpoint", "request", "response", "database", "sql",
         "query", "schema", "algorithm", "implement", "refactor", "optimize", "python", "javascript",
         "typescript", "java", "rust", "golang", "react", "docker", "kubernetes", "git", "pull request")
_REASONING = ("step by step", "think through", "let's think", "reason through", "analyze this", "break down",
              "explain your reasoning", "show your work", "chain of thought", "think carefully", "consider all",
              "evaluate", "pros and cons", "compare and contrast", "weigh the options", "logical", "deduce",
              "infer", "conclude")
_TECHNICAL = ("architecture", "distributed", "scalable", "microservice", "machine learning", "neural network",
              "deep learning", "encryption", "authentication", "authorization", "performance", "latency",
              "throughput", "benchmark", "concurrency", "parallel", "threading", "memory", "cpu", "gpu",
              "optimization", "protocol", "tcp", "http", "grpc", "websocket", "container", "orchestration")
_SIMPLE = ("what is", "what's", "define", "definition of", "who is", "who was", "when did", "when was",
           "where is", "where was", "how many", "how much", "yes or no", "true or false", "simple", "brief",
           "short", "quick", "hello", "hi", "hey", "thanks", "thank you", "goodbye", "bye", "okay")
_MULTI_STEP = re.compile(r"first.*then|step \d|\d\.\s")


def _pattern(words: tuple[str, ...]) -> list[re.Pattern[str]]:
    return [re.compile(re.escape(w) if " " in w else r"\b" + re.escape(w) + r"\b") for w in words]


_LISTS = {name: _pattern(words) for name, words in
          (("code", _CODE), ("reasoning", _REASONING), ("technical", _TECHNICAL), ("simple", _SIMPLE))}


def _hits(name: str, text: str) -> int:
    return sum(1 for p in _LISTS[name] if p.search(text))


def keyword_rule(conv: Conversation) -> float:
    """LiteLLM-style weighted keyword score (its default weights and thresholds)."""
    text = conv.last_user.lower()
    tokens = len(conv.last_user) / 4
    code, reasoning, technical, simple = (_hits(n, text) for n in ("code", "reasoning", "technical", "simple"))
    return (0.10 * (-1.0 if tokens < 15 else 1.0 if tokens > 400 else 0.0)
            + 0.30 * (0.0 if code < 1 else 0.5 if code < 2 else 1.0)
            + 0.25 * (0.0 if reasoning < 1 else 0.7 if reasoning < 2 else 1.0)
            + 0.25 * (0.0 if technical < 2 else 0.5 if technical < 4 else 1.0)
            + 0.05 * (-1.0 if simple >= 1 else 0.0)
            + 0.03 * (0.5 if _MULTI_STEP.search(text) else 0.0)
            + 0.02 * (0.5 if text.count("?") > 3 else 0.0))


def length_rule(conv: Conversation) -> float:
    """Longer prompts go to the strong model."""
    return float(conv.last_user_chars + len(conv.system) + conv.earlier_chars)


BASELINES: dict[str, Scorer] = {"prompt length": length_rule, "keyword rule (LiteLLM-style)": keyword_rule}

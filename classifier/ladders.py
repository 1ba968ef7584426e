"""Which models of each source form the price ladder (tiers) and the (cheaper, stronger) pairs (the score).

The score the router learns is the chance that the cheaper model of a pair is not good enough: for a
row and a pair, 1 when the cheaper model is wrong and the stronger one right, 0 when the cheaper one is
right; both wrong carries no routing signal. Several pairs per source make the signal "what makes a
prompt need a stronger model" rather than one pair's quirks. The first pair of a source (the cheap and
strong ends of its ladder) is the one held-out routing is judged along.
"""

from __future__ import annotations

Pair = tuple[str, str]

LADDERS: dict[str, tuple[str, str, str]] = {
    "routerbench": ("mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat", "gpt-4-1106-preview"),
    "dcrouter": ("gemma-2-9b-it", "llama-3.1-8b-instruct", "llama-3.1-nemotron-51b-instruct"),
    "zeroeval": ("gemma-2-9b-it", "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"),
    "mmlupro": ("Meta-Llama-3_1-8B-Instruct", "Meta-Llama-3_1-70B-Instruct", "gemini-1.5-pro-002"),
    "routerdc": ("itpossible/Chinese-Mistral-7B-v0.1", "mistralai/Mistral-7B-v0.1",
                 "cognitivecomputations/dolphin-2.9-llama3-8b"),
}

PAIRS: dict[str, tuple[Pair, ...]] = {
    "routerbench": (("mistralai/mistral-7b-chat", "gpt-4-1106-preview"),
                    ("mistralai/mixtral-8x7b-chat", "gpt-4-1106-preview")),
    "dcrouter": (("gemma-2-9b-it", "llama-3.1-nemotron-51b-instruct"),
                 ("llama-3.1-8b-instruct", "llama-3.1-nemotron-51b-instruct")),
    "zeroeval": (("gemma-2-9b-it", "gpt-4o-2024-08-06"), ("Meta-Llama-3.1-8B-Instruct", "o1-mini-2024-09-12"),
                 ("gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022")),
    "mmlupro": (("Meta-Llama-3_1-8B-Instruct", "gemini-1.5-pro-002"),
                ("Mistral-7B-Instruct-v0.2", "Meta-Llama-3_1-70B-Instruct")),
}


def pairs_of(source: str, ladder: tuple[str, ...] | None = None) -> tuple[Pair, ...]:
    """A source's pairs; otherwise the cheap and strong ends of its (or the given) ladder; () if neither."""
    if source in PAIRS:
        return PAIRS[source]
    ends = ladder or LADDERS.get(source)
    return ((ends[0], ends[-1]),) if ends else ()


def models_of(source: str) -> tuple[str, ...]:
    """Every model whose outcomes a source's rows keep (ladder and pairs), in a stable order."""
    names = list(LADDERS.get(source, ()))
    names += [m for pair in PAIRS.get(source, ()) for m in pair]
    return tuple(dict.fromkeys(names))

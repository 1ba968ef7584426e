"""Task cues: the substring pre-check never hides a match of a cue's pattern."""

from __future__ import annotations

import random

from classifier.dataset import read_examples
from classifier.model import DEFAULT_DATA
from classifier.tasks import CUES, HEAD_CHARS, NEEDS, TAIL_CHARS, cue_task
from classifier.types import Task
from embedding import request_text


def _plain(text: str) -> Task | None:
    """The cues without the pre-check: the first pattern found names the task."""
    head = text if len(text) <= HEAD_CHARS + TAIL_CHARS else text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
    return next((task for task, pattern in CUES.items() if pattern.search(head)), None)


def test_every_match_contains_one_of_its_cues_needs() -> None:
    texts = [request_text(e.messages).lower() for e in read_examples(DEFAULT_DATA)]
    rng = random.Random(2)
    words = ["translate", "into french", "summarise", "tl;dr", "key points", "condense", "extract", "parse the",
             "$x$", "\\frac", "prove that", "primes", "```", "c++", "c#", "javascript", "def ", "class a:",
             "compiler", "unit tests", "function that", "write a poem", "hello", "the", "and", "?"]
    texts += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    found = 0
    for text in texts:
        for task, pattern in CUES.items():
            for match in pattern.finditer(text):
                found += 1
                if task in NEEDS:
                    assert any(n in match.group(0) for n in NEEDS[task]), (task, match.group(0))
        assert cue_task(text) == _plain(text), text[:200]
    assert found > 10_000

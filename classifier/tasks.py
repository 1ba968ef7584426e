"""Task type: clear cues first (translation, summarisation, extraction, chat), then the learned model."""

from __future__ import annotations

import re

from classifier.types import Task

# Checked in order; the first cue found in the last user turn names the task. Only cues that are clear
# on their own: the learned head answers the rest.
CUES: dict[Task, re.Pattern[str]] = {
    Task.TRANSLATION: re.compile(r"\btranslat(?:e|ion|ing)\b|\binto (?:english|french|german|spanish|chinese"
                                 r"|japanese|italian|portuguese|russian|korean|arabic)\b"),
    Task.SUMMARISATION: re.compile(r"\bsummari[sz](?:e|ation|ing|y)\b|\btl;?dr\b|\bkey (?:points|takeaways)\b"
                                   r"|\bcondense\b"),
    Task.EXTRACTION: re.compile(r"\bextract\b|\bparse (?:the|this)\b|\bpull out\b|\bnamed entities\b"
                                r"|\bfill in (?:the|this) (?:json|schema|form)\b"),
    Task.CHAT: re.compile(r"^\s*(?:hi|hello|hey|thanks|thank you|good (?:morning|evening)|how are you)\b[\s!.?,]*"
                          r"(?:\w+[\s!.?,]*){0,4}$"),
    Task.MATH: re.compile(r"\$[^$\n]{1,80}\$|\\frac|\\sqrt|\b(?:prove that|solve (?:for|the equation)|equations?"
                          r"|integral|derivative|probability (?:that|of)|infinitely many|primes?)\b"),
    Task.CODE: re.compile(r"```|(?<!\w)(?:c\+\+|c#)|\b(?:python|javascript|typescript|java|rust|golang|kotlin|swift|sql"
                          r"|bash|html|css|regex)\b|\bimplement\b|\balgorithm\b|\bdef |\bclass \w+\s*[:({]"
                          r"|\bcompiler?\b|\bdebug\b|\bstack trace\b|\bunit tests?\b|\bfunction (?:that|to|which)\b"),
    Task.CREATIVE: re.compile(r"\bwrite (?:me )?(?:a|an) (?:short |funny |\d+-word )?(?:poem|story|haiku|blog post"
                              r"|essay|song|limerick|sonnet|novel|screenplay|speech|letter)\b"),
}


# What each cue cannot match without: a pattern is searched only when one of these is in the text
# (substring tests are ~50x cheaper than a search; `tests/classifier/test_tasks.py` holds them to it).
NEEDS: dict[Task, tuple[str, ...]] = {
    Task.TRANSLATION: ("translat", "into "),
    Task.SUMMARISATION: ("summari", "tl", "key ", "condense"),
    Task.EXTRACTION: ("extract", "parse ", "pull out", "named entities", "fill in "),
    Task.MATH: ("$", "\\frac", "\\sqrt", "prove that", "solve ", "equation", "integral", "derivative",
                "probability ", "infinitely many", "prime"),
    Task.CODE: ("```", "c++", "c#", "python", "java", "typescript", "rust", "golang", "kotlin", "swift", "sql",
                "bash", "html", "css", "regex", "implement", "algorithm", "def ", "class ", "compile", "debug",
                "stack trace", "unit test", "function "),
    Task.CREATIVE: ("write ",),
}

HEAD_CHARS = 500  # cues are read in the start and the end of a long turn (where the ask is): ~35 ns a char each
TAIL_CHARS = 300


def cue_task(text: str) -> Task | None:
    """The task named by a clear cue in the (lower-cased) text, if any."""
    head = text if len(text) <= HEAD_CHARS + TAIL_CHARS else text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
    for task, pattern in CUES.items():
        needs = NEEDS.get(task)
        if (needs is None or any(n in head for n in needs)) and pattern.search(head):
            return task
    return None

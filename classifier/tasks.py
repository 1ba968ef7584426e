"""Task type: clear cues first (translation, summarisation, extraction, chat), then the learned model."""

from __future__ import annotations

import re

from classifier.types import Task

# Checked in order; the first cue found in the last user turn (or system prompt) names the task.
CUES: dict[Task, re.Pattern[str]] = {
    Task.TRANSLATION: re.compile(r"\btranslat(?:e|ion|ing)\b|\binto (?:english|french|german|spanish|chinese"
                                 r"|japanese|italian|portuguese|russian|korean|arabic)\b"),
    Task.SUMMARISATION: re.compile(r"\bsummari[sz](?:e|ation|ing|y)\b|\btl;?dr\b|\bkey (?:points|takeaways)\b"
                                   r"|\bcondense\b"),
    Task.EXTRACTION: re.compile(r"\bextract\b|\bparse (?:the|this)\b|\bpull out\b|\bnamed entities\b"
                                r"|\bfill in (?:the|this) (?:json|schema|form)\b"),
    Task.CHAT: re.compile(r"^\s*(?:hi|hello|hey|thanks|thank you|good (?:morning|evening)|how are you)\b[\s!.?,]*"
                          r"(?:\w+[\s!.?,]*){0,4}$"),
}


def cue_task(text: str) -> Task | None:
    """The task named by a clear cue in the (lower-cased) text, if any."""
    head = text[:2000]
    for task, pattern in CUES.items():
        if pattern.search(head):
            return task
    return None

"""A deny list: regular expressions and named topics (lists of phrases matched as whole words)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DenyHit:
    rule: str
    """`pattern[i]` or `topic:<name>`: safe to log (never the matched text)."""
    start: int
    end: int


def _phrase(phrase: str) -> str:
    return r"\s+".join(re.escape(word) for word in phrase.split())


class DenyList:
    def __init__(self, *, patterns: tuple[str, ...] = (), topics: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self._rules: list[tuple[str, re.Pattern[str]]] = [
            (f"pattern[{i}]", re.compile(p, re.IGNORECASE)) for i, p in enumerate(patterns)]
        for name, phrases in (topics or {}).items():
            if phrases:
                body = "|".join(_phrase(p) for p in phrases)
                self._rules.append((f"topic:{name}", re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)))

    def find(self, text: str) -> list[DenyHit]:
        hits = [DenyHit(rule, m.start(), m.end()) for rule, rx in self._rules for m in rx.finditer(text)
                if m.end() > m.start()]
        hits.sort(key=lambda h: (h.start, -h.end))
        merged: list[DenyHit] = []
        for hit in hits:
            if not merged or hit.start >= merged[-1].end:
                merged.append(hit)
        return merged

    @staticmethod
    def redact(text: str, hits: list[DenyHit]) -> str:
        out, pos = [], 0
        for hit in hits:
            out += [text[pos:hit.start], "[REDACTED_DENIED]"]
            pos = hit.end
        out.append(text[pos:])
        return "".join(out)

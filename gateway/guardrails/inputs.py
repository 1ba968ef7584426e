"""Input guardrails over chat messages: deny list, then prompt injection, then PII (checked last so the
first two see the original text). Returns the messages to send, redacted where the action says so.

Each message is checked whole, its text parts joined as the model reads them, so a pattern or an
e-mail split across two parts is found; redacting such a message merges its text parts into one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.guardrails.deny import DenyList
from gateway.guardrails.findings import Finding, Reporter
from gateway.guardrails.injection import Scorer, judge
from gateway.guardrails.pii import find_pii, redact
from gateway.guardrails.policy import InputGuards

_THREAD_CHARS = 2000
"""Check longer inputs in a thread (PII and classifier: about 0.5 ms per 1,000 characters each)."""
_CHUNK = 2000
_MAX_CHUNKS = 16


@dataclass(frozen=True, slots=True)
class InputVerdict:
    messages: list[dict[str, Any]]
    """The messages to send upstream: the originals, or redacted copies."""
    findings: tuple[Finding, ...] = ()

    @property
    def changed(self) -> bool:
        return any(f.action == "redact" for f in self.findings)


def message_texts(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return []


def joined(message: dict[str, Any]) -> str:
    """The message's text as the model reads it: its text parts one after the other."""
    return "".join(message_texts(message))


def rewrite(message: dict[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": fn(content)}
    texts = message_texts(message)
    if isinstance(content, list) and len(texts) > 1:  # a match may span parts: one text part, then the rest
        others = [p for p in content if not (isinstance(p, dict) and isinstance(p.get("text"), str))]
        return {**message, "content": [{"type": "text", "text": fn("".join(texts))}, *others]}
    if isinstance(content, list):
        parts = [{**p, "text": fn(p["text"])} if isinstance(p, dict) and isinstance(p.get("text"), str) else p
                 for p in content]
        return {**message, "content": parts}
    return message


class _ChunkedScorer:
    """A long text is scored in pieces; its score is the highest piece's."""

    def __init__(self, scorer: Scorer) -> None:
        self._scorer = scorer

    def score(self, text: str) -> float:
        chunks = [text[i:i + _CHUNK] for i in range(0, min(len(text), _CHUNK * _MAX_CHUNKS), _CHUNK)]
        return max((self._scorer.score(c) for c in chunks), default=0.0)


class InputChecker:
    def __init__(self, guards: InputGuards, *, scorer: Scorer | None, reporter: Reporter) -> None:
        self._guards = guards
        self._scorer = _ChunkedScorer(scorer) if scorer is not None else None
        self._report = reporter
        deny = guards.deny
        self._deny = DenyList(patterns=deny.patterns, topics=deny.topics) if deny is not None else None

    async def check(self, messages: list[dict[str, Any]]) -> InputVerdict:
        """Raises `GuardrailViolation` when a `block` guardrail matches."""
        size = sum(len(t) for m in messages for t in message_texts(m))
        if size > _THREAD_CHARS:
            return await asyncio.to_thread(self.check_sync, messages)
        return self.check_sync(messages)

    def check_sync(self, messages: list[dict[str, Any]]) -> InputVerdict:
        checked = [i for i, m in enumerate(messages) if m.get("role") in self._guards.roles]
        out = list(messages)
        findings: list[Finding] = []
        for step in (self._check_deny, self._check_injection, self._check_pii):
            finding = step(out, checked)
            if finding is not None:
                findings.append(finding)
        return InputVerdict(messages=out, findings=tuple(findings))

    def _check_deny(self, messages: list[dict[str, Any]], checked: list[int]) -> Finding | None:
        if self._deny is None or self._guards.deny is None:
            return None
        deny = self._deny
        rules = [h.rule for i in checked for h in deny.find(joined(messages[i]))]
        if not rules:
            return None
        finding = self._report.found("input.deny", self._guards.deny.action, rules)
        if finding.action == "redact":
            for i in checked:
                messages[i] = rewrite(messages[i], lambda t: deny.redact(t, deny.find(t)))
        return finding

    def _check_injection(self, messages: list[dict[str, Any]], checked: list[int]) -> Finding | None:
        guard = self._guards.injection
        if guard is None:
            return None
        scorer = self._scorer if guard.classifier else None
        for i in checked:
            text = "\n".join(message_texts(messages[i]))
            verdict = judge(text, scorer, guard.threshold)
            if verdict.injected:
                return self._report.found("input.injection", guard.action, verdict.rules or ("classifier",))
        return None

    def _check_pii(self, messages: list[dict[str, Any]], checked: list[int]) -> Finding | None:
        guard = self._guards.pii
        if guard is None:
            return None
        kinds = [s.kind for i in checked for s in find_pii(joined(messages[i]), guard.kinds)]
        if not kinds:
            return None
        finding = self._report.found("input.pii", guard.action, kinds)
        if finding.action == "redact":
            for i in checked:
                messages[i] = rewrite(messages[i], lambda t: redact(t, find_pii(t, guard.kinds)))
        return finding

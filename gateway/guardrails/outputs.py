"""Output guardrails: PII in answers (whole bodies, and streams with only a tail window held back),
and answers to `response_format` requests checked against the JSON asked for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from gateway.guardrails.findings import Finding, Reporter
from gateway.guardrails.pii import find_pii, redact
from gateway.guardrails.policy import OutputGuards
from gateway.guardrails.stream import StreamRedactor
from gateway.guardrails.structured import SchemaVerdict, check_answer

Chunk = dict[str, Any]
_THREAD_CHARS = 4000
"""Scan longer answers in a thread (about 1 ms per 4,000 characters)."""


class OutputChecker:
    def __init__(self, guards: OutputGuards, *, reporter: Reporter) -> None:
        self._guards = guards
        self._report = reporter

    async def check_body(self, body: dict[str, Any]) -> Finding | None:
        """Redact (in place) or block PII in a chat completion's `choices[].message.content`."""
        size = sum(len(c.get("message", {}).get("content") or "") for c in body.get("choices") or []
                   if isinstance(c, dict) and isinstance(c.get("message"), dict))
        if size > _THREAD_CHARS:
            return await asyncio.to_thread(self.check_body_sync, body)
        return self.check_body_sync(body)

    def check_body_sync(self, body: dict[str, Any]) -> Finding | None:
        guard = self._guards.pii
        if guard is None:
            return None
        messages = [c.get("message") for c in body.get("choices") or [] if isinstance(c, dict)]
        texts = [(m, m["content"]) for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)]
        spans = {id(m): find_pii(text, guard.kinds) for m, text in texts}
        kinds = [s.kind for found in spans.values() for s in found]
        if not kinds:
            return None
        finding = self._report.found("output.pii", guard.action, kinds)
        if finding.action == "redact":
            for m, text in texts:
                m["content"] = redact(text, spans[id(m)])
        return finding

    def check_structured(self, text: str, response_format: Any) -> SchemaVerdict | None:
        """The verdict on a JSON answer when the profile validates them (`block`) and it is invalid;
        None otherwise (no JSON asked for, valid, or `flag`: logged and counted only)."""
        guard = self._guards.json_schema
        if guard is None:
            return None
        verdict = check_answer(text, response_format)
        if verdict is None or verdict.valid:
            return None
        if guard.action == "flag":
            self._report.found("output.json_schema", "flag", ("invalid",))
            return None
        return verdict

    def stream(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        """The chunks with their `delta.content` redacted, holding back at most `stream_window`
        characters per choice. `block` raises `GuardrailViolation` before the PII is sent."""
        if self._guards.pii is None:
            return chunks
        return self._redacted(chunks)

    async def _redacted(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        guard = self._guards.pii
        assert guard is not None
        redactors: dict[int, StreamRedactor] = {}
        last: Chunk | None = None
        async for chunk in chunks:
            last = chunk
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                index = int(choice.get("index", 0))
                redactor = redactors.setdefault(index, StreamRedactor(guard.kinds, window=self._guards.stream_window))
                text = delta.get("content") if isinstance(delta.get("content"), str) else ""
                sent = redactor.feed(text) if text else ""
                if choice.get("finish_reason") is not None:
                    sent += redactor.flush()
                self._judge(redactor)
                if text or sent:
                    choice["delta"] = {**delta, "content": text if guard.action == "flag" else sent}
            yield chunk
        tail = {i: r.flush() for i, r in redactors.items()}
        for redactor in redactors.values():
            self._judge(redactor)
        if last is not None and guard.action == "redact" and any(tail.values()):
            choices = [{"index": i, "delta": {"content": t}, "finish_reason": None} for i, t in tail.items() if t]
            yield {**{k: v for k, v in last.items() if k in ("id", "object", "created", "model")}, "choices": choices}

    def _judge(self, redactor: StreamRedactor) -> None:
        if redactor.found:
            kinds, redactor.found = redactor.found, []
            assert self._guards.pii is not None
            self._report.found("output.pii", self._guards.pii.action, kinds)

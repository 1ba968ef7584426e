"""PII redaction of a stream without buffering the whole answer.

`StreamRedactor` holds back only a tail window of text: anything at least `window` characters from
the end has been seen with enough context to be judged, except a match still running into the tail,
which is held back from its start until it ends. PII up to `window` characters long is always caught.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.guardrails.pii import ALL_KINDS, PiiKind, Span, find_pii, redact

DEFAULT_WINDOW = 128
_STEP = 32
"""Scan again only once this many characters are ready to go (a scan costs ~50 us)."""


class StreamRedactor:
    def __init__(self, kinds: Iterable[PiiKind] = ALL_KINDS, *, window: int = DEFAULT_WINDOW) -> None:
        self._kinds = tuple(kinds)
        self._window = window
        self._buffer = ""
        self._scan_at = 0
        self.found: list[PiiKind] = []

    def feed(self, text: str) -> str:
        """Add `text`; return what can be sent now (redacted)."""
        self._buffer += text
        cut = len(self._buffer) - self._window
        if cut < _STEP or len(self._buffer) < self._scan_at:
            return ""
        spans = find_pii(self._buffer, self._kinds)
        for span in spans:
            if span.start < cut < span.end or (span.start < cut and span.end >= len(self._buffer)):
                cut = span.start
                if cut == 0 and span.end - span.start > self._window:
                    # a match longer than the window still running (a secret's characters without end):
                    # scan again once half as much more has come, not every step (quadratic in its length)
                    self._scan_at = len(self._buffer) + len(self._buffer) // 2
                break
        return self._emit(cut, [s for s in spans if s.end <= cut])

    def flush(self) -> str:
        """The end of the stream: everything left, redacted."""
        return self._emit(len(self._buffer), find_pii(self._buffer, self._kinds))

    def _emit(self, cut: int, spans: list[Span]) -> str:
        head, self._buffer = self._buffer[:cut], self._buffer[cut:]
        self.found += [s.kind for s in spans]
        return redact(head, spans)

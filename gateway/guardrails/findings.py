"""What a guardrail found, in terms safe to log (guardrail, action, kinds or rule names: never the text)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gateway.errors import GuardrailViolation

log = logging.getLogger("turnout.guardrails")


class GuardrailObserver(Protocol):
    """Told of every guardrail that matched, whatever its action (metrics count these)."""

    def guardrail_triggered(self, guardrail: str, action: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Finding:
    guardrail: str
    """`input.pii`, `input.injection`, `input.deny`, `output.pii`, `output.json_schema`."""
    action: str
    detail: tuple[str, ...]
    """PII kinds, rule names or topic names; never the matched text."""


class Reporter:
    def __init__(self, observer: GuardrailObserver | None) -> None:
        self._observer = observer

    def found(self, guardrail: str, action: str, detail: Iterable[str]) -> Finding:
        """Record a match; raise `GuardrailViolation` (400) when the action is `block`."""
        finding = Finding(guardrail, action, tuple(sorted(set(detail))))
        if self._observer is not None:
            self._observer.guardrail_triggered(guardrail, action)
        log.warning("guardrail %s matched (%s): %s", guardrail, action, ", ".join(finding.detail),
                    extra={"turnout": {"guardrail": guardrail, "action": action, "detail": list(finding.detail)}})
        if action == "block":
            raise GuardrailViolation(f"blocked by guardrail {guardrail} ({', '.join(finding.detail)})",
                                     guardrail=guardrail)
        return finding

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gateway.guardrails.injection import InjectionClassifier


@pytest.fixture(scope="session")
def classifier() -> InjectionClassifier:
    return InjectionClassifier()


@dataclass
class Counter:
    seen: list[tuple[str, str]] = field(default_factory=list)

    def guardrail_triggered(self, guardrail: str, action: str) -> None:
        self.seen.append((guardrail, action))

"""Top-1 accuracy and a confusion table for labelled requests (`turnout routes test`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from router.routes import NONE, RouteIndex, Vector


@dataclass(slots=True)
class Confusion:
    labels: list[str]
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """(expected, got) -> requests; `got` is `none` when no route matched."""

    def add(self, expected: str, got: str | None) -> None:
        key = (expected, got or NONE)
        self.counts[key] = self.counts.get(key, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def accuracy(self) -> float:
        right = sum(n for (e, g), n in self.counts.items() if e == g)
        return right / self.total if self.total else 0.0

    def render(self, *, markdown: bool = False) -> str:
        """Rows: expected route; columns: the route matched (`none`: the alias's tiers)."""
        expected = sorted({e for e, _ in self.counts}, key=self._order)
        got = sorted({g for _, g in self.counts} | set(expected), key=self._order)
        header = ["expected \\ got", *got, "recall"]
        rows = []
        for e in expected:
            row = [self.counts.get((e, g), 0) for g in got]
            total = sum(row)
            rows.append([e, *(str(n) for n in row), f"{self.counts.get((e, e), 0) / total:.2f}" if total else "-"])
        if markdown:
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
        else:
            widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
            lines = ["  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
        lines.append(f"top-1 accuracy {self.accuracy:.3f} on {self.total} requests")
        return "\n".join(lines)

    def _order(self, name: str) -> tuple[int, int, str]:
        return (name == NONE, self.labels.index(name) if name in self.labels else len(self.labels), name)


def evaluate(index: RouteIndex, vectors: Sequence[Vector], labels: Sequence[str],
             priors: Sequence[Vector | None] | None = None) -> Confusion:
    confusion = Confusion(labels=list(index.names))
    for i, (vector, label) in enumerate(zip(vectors, labels, strict=True)):
        prior = priors[i] if priors is not None else None
        confusion.add(label, index.match(vector, prior).route)
    return confusion

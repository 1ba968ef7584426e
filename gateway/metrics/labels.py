"""Closed label sets: every label value comes from a set known up front, anything else is `other`.

Route aliases and model ids come from the policy, error classes from `router.errors` and
`gateway.errors`, tasks from the classifier. A client can never create a new time series by sending a new model name.
"""

from __future__ import annotations

from collections.abc import Iterable

OTHER = "other"
NONE = "none"
"""The label value when a record has no value at all (no model answered, no tier decided)."""


class ClosedSet:
    """Maps a value to itself when it is in the set, else to `other`."""

    __slots__ = ("_known",)

    def __init__(self, values: Iterable[str]) -> None:
        self._known = frozenset(values)

    def __call__(self, value: str | None) -> str:
        if value is None:
            return NONE
        return value if value in self._known else OTHER

    def __contains__(self, value: object) -> bool:
        return value in self._known

    def values(self) -> frozenset[str]:
        return self._known


def error_class_names() -> frozenset[str]:
    """The names of every class in our error tree (`RateLimited`, `UpstreamTimeout`, ...): the router's
    and the gateway's (importing `gateway.errors` defines the latter)."""
    import gateway.errors  # noqa: F401  (defines the gateway's own error classes)
    from router.errors import TurnoutError

    names: set[str] = set()
    pending: list[type[TurnoutError]] = [TurnoutError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return frozenset(names)


def classifier_tasks() -> frozenset[str]:
    from classifier.types import Task

    return frozenset(task.value for task in Task)

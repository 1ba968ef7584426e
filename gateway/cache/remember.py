"""A bounded map from text to what was computed from it, the least recently used forgotten first:
the guard's facts and the verifier's encodings both meet the same texts again and again."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class Remembered(Generic[V]):
    def __init__(self, size: int) -> None:
        self._items: OrderedDict[str, V] = OrderedDict()
        self._size = size

    def get(self, text: str) -> V | None:
        """The value kept for `text` (now the most recently used), or None."""
        value = self._items.get(text)
        if value is not None:
            self._items.move_to_end(text)
        return value

    def put(self, text: str, value: V) -> None:
        self._items[text] = value
        self._items.move_to_end(text)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

from __future__ import annotations

import numpy as np

from gateway.cache.index import VectorIndex


def unit(*values: float) -> np.ndarray:  # type: ignore[type-arg]
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)  # type: ignore[no-any-return]


def test_search_orders_by_similarity_and_respects_threshold() -> None:
    index = VectorIndex(3)
    index.add("a", "qa", unit(1, 0, 0))
    index.add("b", "qb", unit(1, 1, 0))
    index.add("c", "qc", unit(0, 0, 1))
    got = index.search(unit(1, 0.1, 0), threshold=0.5)
    assert [c.key for c in got] == ["a", "b"]
    assert got[0].query == "qa" and got[0].similarity > got[1].similarity


def test_remove_reuses_rows_and_grows_past_capacity() -> None:
    index = VectorIndex(2, capacity=2)
    for i in range(5):
        index.add(f"k{i}", "q", unit(1, i))
    index.remove("k0")
    index.remove("k0")  # twice is harmless
    index.add("k5", "q", unit(1, 0))
    assert len(index) == 5
    assert [c.key for c in index.search(unit(1, 0), 0.99)] == ["k5"]


def test_vectors_of_another_dimension_are_ignored() -> None:
    index = VectorIndex(3)
    index.add("a", "q", unit(1, 0))
    assert len(index) == 0 and index.search(unit(1, 0), 0.0) == []

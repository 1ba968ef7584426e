from __future__ import annotations

import numpy as np

from gateway.cache.index import VectorIndex
from gateway.cache.store.base import Indexed


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


def test_bulk_build_matches_adding_one_by_one() -> None:
    items = [Indexed(f"k{i}", f"q{i}", unit(1, i, 0)) for i in range(40)] + [Indexed("odd", "q", unit(1, 0))]
    built = VectorIndex.build(3, items)
    assert len(built) == 40  # the 2-d vector is skipped
    hits = built.search(unit(1, 5, 0), 0.99999)
    assert [c.key for c in hits] == ["k5"] and hits[0].query == "q5"
    built.add("k40", "q40", unit(0, 0, 1))
    assert [c.key for c in built.search(unit(0, 0, 1), 0.99)] == ["k40"]

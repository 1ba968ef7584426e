"""Build a `RouteIndex` from an alias's routes: embed the texts once, train the head. At load and on
reload only (a few hundred ms for a dozen routes), never per request.

Each route learns from its description, its own examples and a built-in library route: the one it
names (`library: code`), or, when it names none, the library route its own examples sit in (when the
library head is sure of it: `AUTO_MAP`), so four examples borrow a library's hundreds of phrasings.
`library: none` keeps a route to its own examples. Library routes no route claims train the `none`
row: requests about those fall back to the alias's tiers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from router.library import LibraryRoute
from router.policy import RoutePolicy
from router.routes import DEFAULT_THRESHOLD, NONE, RouteIndex

Matrix = npt.NDArray[np.float32]

AUTO_MAP = 0.4
"""Mean library-head probability over a route's own texts needed to borrow that library route."""
OWN_WEIGHT = 3.0
"""Weight of the operator's own examples against one library example."""
C = 4.0
"""Inverse L2 strength of the head (chosen on the library by cross-validation, see the README)."""
NO_LIBRARY = "none"


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> Matrix: ...


@dataclass(frozen=True, slots=True)
class RouteSource:
    """What one route trains on, and which library route it borrowed (None: none)."""

    name: str
    own: tuple[str, ...]
    library: str | None
    near: str | None = None
    """The library route the route's own texts sit in (borrowed or not): never a `none` example."""


def _fit(x: Matrix, y: npt.NDArray[np.int64], weights: npt.NDArray[np.float64], classes: int) -> tuple[Matrix, Matrix]:
    """Multinomial logistic regression; (W (classes, d), b (classes,)) as float32."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    model = LogisticRegression(C=C, max_iter=500, class_weight="balanced")
    with threadpool_limits(1):  # threaded BLAS on small matrices is 50x slower on a shared, busy CPU
        model.fit(x, y, sample_weight=weights)
    w = np.zeros((classes, x.shape[1]), dtype=np.float32)
    b = np.full(classes, -1e4, dtype=np.float32)  # a class with no data never wins
    for row, label in enumerate(model.classes_):
        w[int(label)] = model.coef_[row] if len(model.classes_) > 2 else (row * 2 - 1) * model.coef_[0] / 2
        b[int(label)] = model.intercept_[row] if len(model.classes_) > 2 else (row * 2 - 1) * model.intercept_[0] / 2
    return w, b


def library_vectors(library: Mapping[str, LibraryRoute], encoder: Encoder) -> dict[str, Matrix]:
    return {name: encoder.encode([r.description, *r.examples]) for name, r in library.items()}


def map_to_library(texts_vectors: Matrix, names: Sequence[str], w: Matrix, b: Matrix) -> tuple[str, float]:
    logits = texts_vectors @ w.T + b
    logits = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (logits / logits.sum(axis=1, keepdims=True)).mean(axis=0)
    best = int(probs.argmax())
    return names[best], float(probs[best])


def sources(routes: Sequence[RoutePolicy], library: Mapping[str, LibraryRoute], lib_vectors: Mapping[str, Matrix],
            encoder: Encoder) -> list[RouteSource]:
    """Each route's own texts and the library route it extends (named, or mapped when sure)."""
    names = sorted(library)
    x = np.concatenate([lib_vectors[n] for n in names])
    y = np.concatenate([np.full(len(lib_vectors[n]), i) for i, n in enumerate(names)])
    lib_head = _fit(x, y, np.ones(len(y)), len(names))
    out: list[RouteSource] = []
    taken = {r.library for r in routes if r.library not in (None, NO_LIBRARY)}
    for route in routes:
        own = tuple(t for t in (route.description, *(route.examples or ())) if t)
        near, prob = map_to_library(encoder.encode(list(own)), names, *lib_head) if own else (route.library, 1.0)
        chosen = route.library
        if chosen is None and prob >= AUTO_MAP and near not in taken:
            chosen = near
            taken.add(near)
        out.append(RouteSource(route.name, own, None if chosen in (None, NO_LIBRARY) else chosen, near))
    return out


def build_index(routes: Sequence[RoutePolicy], library: Mapping[str, LibraryRoute], encoder: Encoder,
                lib_vectors: Mapping[str, Matrix] | None = None) -> tuple[RouteIndex, list[RouteSource]]:
    """The alias's matcher, and what each route was trained on."""
    lib_vectors = lib_vectors if lib_vectors is not None else library_vectors(library, encoder)
    found = sources(routes, library, lib_vectors, encoder)
    xs: list[Matrix] = []
    ys: list[npt.NDArray[np.int64]] = []
    ws: list[npt.NDArray[np.float64]] = []
    texts: list[tuple[str, ...]] = []
    vectors: list[Matrix] = []
    for i, source in enumerate(found):
        own = encoder.encode(list(source.own)) if source.own else np.zeros((0, 0), dtype=np.float32)
        parts = [own] if source.own else []
        route_texts = list(source.own)
        if source.library is not None:
            parts.append(lib_vectors[source.library])
            lib = library[source.library]
            route_texts += [lib.description, *lib.examples]
        x = np.concatenate(parts)
        xs.append(x)
        ys.append(np.full(len(x), i, dtype=np.int64))
        ws.append(np.concatenate([np.full(len(source.own), OWN_WEIGHT), np.ones(len(x) - len(source.own))]))
        texts.append(tuple(route_texts))
        vectors.append(x)
    claimed = {s.library for s in found} | {s.near for s in found}
    rest = [lib_vectors[n] for n in sorted(library) if n not in claimed]
    if rest:
        x = np.concatenate(rest)
        xs.append(x)
        ys.append(np.full(len(x), len(found), dtype=np.int64))
        ws.append(np.ones(len(x)))
    w, b = _fit(np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), len(found) + 1)
    centroids = np.stack([_unit(v.mean(axis=0)) for v in vectors])
    thresholds = np.array([r.threshold or DEFAULT_THRESHOLD for r in routes], dtype=np.float32)
    index = RouteIndex(names=(*(s.name for s in found), NONE), weights=w, bias=b, thresholds=thresholds,
                       centroids=centroids, examples=tuple(texts), example_vectors=tuple(vectors))
    return index, found


def _unit(v: npt.NDArray[np.floating]) -> Matrix:
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)

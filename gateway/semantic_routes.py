"""Semantic routes at run time: built with the policy (load and reload, in a thread), matched per
request on the shared request embedding.

A follow-up is matched on what the user asks now, with the earlier user turn as a prior
(`router.routes.PRIOR_WEIGHT`): that one earlier message is embedded with the same static table,
only for conversations with more than one user turn, only for aliases that declare routes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from router.routes import RouteIndex, RouteMatch

if TYPE_CHECKING:
    from gateway.config import Policy

log = logging.getLogger("turnout.routes")

Vector = npt.NDArray[np.float32]


class RouteEncoder(Protocol):
    """`embedding.StaticEmbedder` as the routes use it."""

    def embed(self, text: str) -> Vector: ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


def build_route_indexes(policy: Policy, encoder: RouteEncoder | None,
                        previous: tuple[Policy, Mapping[str, RouteIndex]] | None = None) -> dict[str, RouteIndex]:
    """One matcher per alias that declares routes; an alias whose routes did not change keeps its own.
    CPU-bound (embedding the library, training the heads): call it from a thread on reload."""
    aliases = {name: alias for name, alias in policy.router.aliases.items() if alias.routes}
    if not aliases:
        return {}
    if encoder is None:
        log.warning("aliases %s declare routes, but the request embedding is unavailable: routes are off",
                    ", ".join(aliases))
        return {}
    from router.library import load_library
    from router.route_index import build_index, library_vectors

    indexes: dict[str, RouteIndex] = {}
    library = load_library()
    lib_vectors = None
    for name, alias in aliases.items():
        if previous is not None and name in previous[1]:
            old = previous[0].router.aliases.get(name)
            if old is not None and old.routes == alias.routes:
                indexes[name] = previous[1][name]
                continue
        lib_vectors = lib_vectors if lib_vectors is not None else library_vectors(library, encoder)
        indexes[name], sources = build_index(alias.routes, library, encoder, lib_vectors)
        log.info("alias %s: routes %s", name,
                 ", ".join(f"{s.name} (library {s.library or '-'})" for s in sources))
    return indexes


def earlier_user_text(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The user message before the last one, when there is one."""
    seen = 0
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            seen += 1
            if seen == 2:
                from embedding import content_text

                return content_text(message.get("content")) or None
    return None


def match_route(index: RouteIndex, vector: Vector, turns: int, messages: Sequence[Mapping[str, Any]],
                encoder: RouteEncoder | None) -> RouteMatch:
    """The route of a request: its vector, and the earlier user turn as a prior in a conversation."""
    prior = None
    if turns > 1 and encoder is not None:
        text = earlier_user_text(messages)
        prior = encoder.embed(text) if text else None
    return index.match(vector, prior)


def route_for(runtime_routes: Mapping[str, RouteIndex], alias: str, embedding: Any,
              messages: Sequence[Mapping[str, Any]], encoder: RouteEncoder | None) -> RouteMatch | None:
    """The alias's route match for a request with its `embedding.RequestEmbedding` (None: no routes)."""
    index = runtime_routes.get(alias)
    if index is None or embedding is None:
        return None
    return match_route(index, embedding.vector, embedding.turns, messages, encoder)

"""The response cache the request path calls: lookup (exact, then semantic), store, single flight, purge.

A lookup never raises for a store failure: the cache is bypassed, a counter goes up, and after an
error the store is left alone for `retry_after_ms` before it is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from gateway.cache.config import CachePolicy
from gateway.cache.eligibility import storable_response
from gateway.cache.embedding.base import Embedder, Matrix
from gateway.cache.flight import SingleFlight
from gateway.cache.guard import Guard
from gateway.cache.index import Candidate
from gateway.cache.keys import CacheKeys, CacheRequest, cache_keys
from gateway.cache.partitions import PartitionIndexes
from gateway.cache.result import CacheLookup
from gateway.cache.stats import CacheStats
from gateway.cache.store.base import CacheStore, CacheUnavailable, Entry, Placement
from gateway.cache.verify import Verifier
from router.errors import TurnoutError

_SCAN_ON_LOOP_ELEMENTS = 10_240 * 256
"""Partitions up to this many matrix elements are scanned on the event loop: 10,240 rows of the
256-dimension request embedding take ~0.1 ms, a third of what handing the scan to a thread costs."""
log = logging.getLogger("turnout.cache")


class ResponseCache:
    def __init__(self, *, policy: CachePolicy, store: CacheStore, embedder: Embedder | None,
                 verifier: Verifier | None = None, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.stats = CacheStats()
        self._store = store
        self._embedder = embedder
        self._verifier = verifier
        self._guard = Guard()
        self._shares_request_embedding = policy.semantic.embedder == "static"
        self._clock = clock
        self._indexes = PartitionIndexes(store=store, max_partitions=policy.semantic.max_loaded_partitions)
        self._flights = SingleFlight(max_wait_s=120.0)
        self._down_until = 0.0

    @property
    def storage(self) -> CacheStore:
        """Where the entries are (a reloaded policy builds its cache over the same one)."""
        return self._store

    # -- lookup -------------------------------------------------------------------------------------

    async def lookup(self, request: CacheRequest) -> CacheLookup:
        self.stats.lookups += 1
        keys = cache_keys(request, self.policy) if self.policy.enabled else None
        if keys is None or not keys.storable:
            return self._bypass(request, keys, "ineligible" if self.policy.enabled else "disabled")
        if request.directives.no_cache:
            return self._bypass(request, keys, "no-cache")
        if self._clock() < self._down_until:
            return self._bypass(request, keys, "store-unavailable")
        mark = self._flights.mark()
        try:
            entry = await self._store.get(keys.partition, keys.exact)
            if entry is not None and self._fresh(request, entry):
                self.stats.hits_exact += 1
                return CacheLookup("hit-exact", request, entry.response, 1.0, self._age(entry), keys=keys)
            return await self._semantic(request, keys, mark)
        except CacheUnavailable as exc:
            self._store_failed(exc)
            return self._bypass(request, keys, "store-error")

    async def _semantic(self, request: CacheRequest, keys: CacheKeys, mark: int) -> CacheLookup:
        if keys.query is None or keys.threshold is None or self._embedder is None:
            return self._miss(request, keys, None, mark)
        shared = request.embedding
        if self._shares_request_embedding and shared is not None and shared.text == keys.query:
            vector: Matrix | None = shared.vector
        else:
            vector = await self._embed(keys.query)
        if vector is None:
            return self._miss(request, keys, None, mark, reason="embed-error")
        index = await self._indexes.synced(keys.partition, vector.shape[0],
                                           wait_s=self.policy.lookup_timeout_ms / 1000)
        if index is None:
            return self._miss(request, keys, vector, mark, reason="index-loading")
        gate = keys.threshold if self._verifier is None else min(keys.threshold,
                                                                 self.policy.semantic.candidate_threshold)
        if len(index) * index.dimension <= _SCAN_ON_LOOP_ELEMENTS:
            rows = index.rows_above(vector, gate)
        else:  # a large partition's scan takes a millisecond or more: keep it off the event loop
            rows = await asyncio.to_thread(index.rows_above, vector, gate)
        rejected: str | None = None
        candidates = []
        for candidate in index.confirm(rows, vector, gate):
            why = self._guard.rejects(keys.query, candidate.query) if self.policy.semantic.guard else None
            if why is not None:
                self.stats.guard_rejections += 1
                rejected = rejected or f"guard:{why}"
            else:
                candidates.append(candidate)
        if candidates and self._verifier is not None:
            candidates, rejected = await self._verified(keys.query, keys.threshold, candidates, rejected)
        for candidate in candidates:
            entry = await self._store.get(keys.partition, candidate.key)
            if entry is None:
                self._indexes.forget(keys.partition, candidate.key)
                continue
            if self._fresh(request, entry):
                self.stats.hits_semantic += 1
                return CacheLookup("hit-semantic", request, entry.response, candidate.similarity,
                                   self._age(entry), keys=keys, vector=vector, searched_semantic=True)
        return self._miss(request, keys, vector, mark, reason=rejected, searched=True)

    async def _verified(self, query: str, threshold: float, candidates: list[Candidate],
                        rejected: str | None) -> tuple[list[Candidate], str | None]:
        """The candidates the verifying encoder also puts at or above `threshold`, best first."""
        assert self._verifier is not None
        self.stats.verifications += 1
        try:
            async with asyncio.timeout(self.policy.semantic.embed_timeout_ms / 1000):
                scores = await self._verifier.similarities(query, [c.query for c in candidates])
        except (TimeoutError, ValueError, OSError, RuntimeError, TurnoutError):
            self.stats.embed_errors += 1
            return [], rejected or "verify-error"
        kept = sorted((Candidate(c.key, c.query, s) for c, s in zip(candidates, scores, strict=True)
                       if s >= threshold), key=lambda c: -c.similarity)
        self.stats.verifier_rejections += len(candidates) - len(kept)
        return kept, rejected or (None if kept else "verifier")

    async def _embed(self, text: str) -> Matrix | None:
        assert self._embedder is not None
        try:
            async with asyncio.timeout(self.policy.semantic.embed_timeout_ms / 1000):
                matrix = await self._embedder.embed([text])
        except (TimeoutError, ValueError, OSError, RuntimeError, TurnoutError):
            self.stats.embed_errors += 1
            return None
        row: Matrix = matrix[0]
        return row

    def _fresh(self, request: CacheRequest, entry: Entry) -> bool:
        max_age = request.directives.max_age
        return max_age is None or self._age(entry) <= max_age

    def _age(self, entry: Entry) -> float:
        return max(0.0, self._clock() - entry.created)

    def _miss(self, request: CacheRequest, keys: CacheKeys, vector: Matrix | None, mark: int,
              reason: str | None = None, searched: bool = False) -> CacheLookup:
        self.stats.misses += 1
        return CacheLookup("miss", request, keys=keys, vector=vector, reason=reason, searched_semantic=searched,
                           mark=mark)

    def _bypass(self, request: CacheRequest, keys: CacheKeys | None, reason: str) -> CacheLookup:
        self.stats.bypasses += 1
        return CacheLookup("bypass", request, keys=keys, reason=reason)

    def _store_failed(self, exc: CacheUnavailable) -> None:
        if exc.timeout:
            self.stats.backend_timeouts += 1
        else:
            self.stats.backend_errors += 1
        now = self._clock()
        if now >= self._down_until:  # one line per bypass, not one per request failing at once
            log.warning("cache bypassed for %d ms: %s", self.policy.retry_after_ms, exc)
        self._down_until = now + self.policy.retry_after_ms / 1000

    # -- single flight ------------------------------------------------------------------------------

    @asynccontextmanager
    async def single_flight(self, lookup: CacheLookup) -> AsyncIterator[CacheLookup]:
        """Around the upstream call of a miss. Yields `lookup` to the one request that should call
        the upstream, or a `hit-exact` lookup holding the answer an identical request just stored."""
        if (lookup.status != "miss" or lookup.keys is None or not self.policy.store
                or lookup.request.directives.no_store):
            yield lookup  # nothing will be stored: followers would only queue behind the leader
            return
        async with self._flights.join(lookup.keys.exact) as shared:
            if shared is None and self._flights.ended_since(lookup.keys.exact, lookup.mark):
                # we lead, and an identical request finished (and stored) since our lookup began
                shared = await self._recheck(lookup.request, lookup.keys)
            if shared is None:
                yield lookup
            else:
                self.stats.single_flight_shared += 1
                yield CacheLookup("hit-exact", lookup.request, shared, 1.0, 0.0, reason="single-flight",
                                  keys=lookup.keys, vector=lookup.vector)

    async def _recheck(self, request: CacheRequest, keys: CacheKeys) -> dict[str, Any] | None:
        if self._clock() < self._down_until:
            return None
        try:
            entry = await self._store.get(keys.partition, keys.exact)
        except CacheUnavailable as exc:
            self._store_failed(exc)
            return None
        return entry.response if entry is not None and self._fresh(request, entry) else None

    # -- store --------------------------------------------------------------------------------------

    async def store(self, lookup: CacheLookup, response: dict[str, Any]) -> bool:
        """Store a complete success (finish_reason stop, no tool calls, not filtered); True if stored."""
        keys = lookup.keys
        if (keys is None or lookup.hit or not keys.storable or lookup.request.directives.no_store
                or not self.policy.store or not storable_response(response)):
            self.stats.store_skips += 1
            return False
        self._flights.publish(keys.exact, response)
        if self._clock() < self._down_until:
            self.stats.store_skips += 1
            return False
        vector = lookup.vector
        if keys.query is not None and vector is None and self._embedder is not None:
            vector = await self._embed(keys.query)
        entry = Entry(key=keys.exact, response=response, created=self._clock(),
                      query=keys.query if vector is not None else None, vector=vector)
        placement = Placement(partition=keys.partition, tenant=lookup.request.tenant,
                              route=lookup.request.route, ttl_s=self.policy.ttl_s,
                              max_entries=self.policy.max_entries_per_partition)
        try:
            await self._store.put(placement, entry)
        except CacheUnavailable as exc:
            self._store_failed(exc)
            self.stats.store_errors += 1
            return False
        if entry.query is not None and vector is not None:
            self._indexes.add_local(keys.partition, keys.exact, entry.query, vector)
        self.stats.stores += 1
        return True

    # -- admin --------------------------------------------------------------------------------------

    async def purge(self, *, tenant: str | None = None, route: str | None = None) -> int:
        """Delete every entry of a tenant, a route, or both (raises `CacheUnavailable` on store errors)."""
        return await self._store.purge(tenant=tenant, route=route)

    def loaded_partitions(self) -> int:
        return len(self._indexes)

    def index_bytes(self) -> int:
        return self._indexes.nbytes()

    async def aclose(self, *, store: bool = True) -> None:
        """Stop the embedder, the verifier and the index loads; `store=False` leaves the store open (a
        reload's new cache goes on using it)."""
        for part in (self._embedder, self._verifier):
            closer = getattr(part, "aclose", None)
            if closer is not None:
                await closer()
        await self._indexes.aclose()
        if store:
            await self._store.aclose()

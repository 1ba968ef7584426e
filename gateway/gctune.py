"""The cyclic garbage collector, tuned for a serving process.

With CPython's defaults (a young collection every 700 net allocations) a gateway under load collects
while dozens of requests are in flight: their objects survive, are promoted, and the full
collections that follow traverse every object the process holds (the policy, the registry, the
router's artifacts, the modules), 35-100 ms each. Measured at concurrency 64 on the peer bench's
path: ~20% of the process's CPU in the collector, growing with concurrency.

`tune_for_serving`, called once the gateway has started: the objects built at start-up move to the
permanent generation (`gc.freeze`: never traversed again; reference counting still frees them, so
only cyclic garbage among them, at most one replaced runtime after a reload, is never reclaimed),
and young collections come every 50,000 net allocations, by which time most requests' objects are
gone. Only `turnout serve` calls it: apps built in-process (tests, benchmarks) keep the defaults.
"""

from __future__ import annotations

import gc

YOUNG = 50_000
"""Net allocations between young collections (CPython's default: 700)."""
OLDER = 20
"""Young collections per middle one, and middle ones per full one (CPython's defaults: 10, 10)."""


def tune_for_serving(enabled: bool) -> None:
    """Once started; nothing unless `enabled` (`Settings.tune_gc`)."""
    if not enabled:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, OLDER, OLDER)

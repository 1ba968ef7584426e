"""BLAS threads for the gateway process.

The cache's matrix products are small (one query against a partition, one sentence through
MiniLM) and run from many concurrent requests. Multi-threaded BLAS makes them slower, badly so
when the CPU is shared: a 3,000 x 384 product took 25 ms with OpenBLAS's default threads and
0.05 ms with one thread on a busy 2-core machine. Concurrency comes from requests, not from BLAS.
"""

from __future__ import annotations


def limit_blas_threads(threads: int = 1) -> None:
    """Set the process's BLAS thread count (process-wide; called once when the cache is built)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=threads, user_api="blas")

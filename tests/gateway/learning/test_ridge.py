from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from gateway.learning.ridge import fit_embedding


def _solve(z: np.ndarray, x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    a = np.hstack([z, x])
    p = np.diag([0.0] * z.shape[1] + [penalty] * x.shape[1])
    return np.linalg.solve(a.T @ a + p, a.T @ y)


def test_the_closed_form_matches_refitting_without_each_row() -> None:
    rng = np.random.default_rng(0)
    n, d = 50, 80  # fewer rows than dimensions, as on a young alias
    z = np.stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)], axis=1)
    x = rng.normal(size=(n, d))
    y = z @ np.array([0.2, 0.5, -0.3]) + x @ (0.05 * rng.normal(size=d)) + 0.3 * rng.normal(size=n)
    fit = fit_embedding(z, x, y, strengths=(0.1,))
    q = np.linalg.svd(z, full_matrices=False)[0]
    penalty = 0.1 * float(np.linalg.norm(x - q @ (q.T @ x)) ** 2)
    full = _solve(z, x, y, penalty)
    assert np.allclose(fit.coef, full[:3], atol=1e-6) and np.allclose(fit.w, full[3:], atol=1e-6)
    loo = []
    for i in range(n):
        keep = np.arange(n) != i
        w = _solve(z[keep], x[keep], y[keep], penalty)
        loo.append((y[i] - np.concatenate([z[i], x[i]]) @ w) ** 2)
    assert np.allclose(fit.loo, loo, rtol=1e-6)


def test_a_fit_on_2000_rows_of_256_dimensions_is_quick() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    z = np.stack([np.ones(n), rng.uniform(size=n), rng.uniform(size=n), rng.uniform(size=n)], axis=1)
    x, y = rng.normal(size=(n, 256)), rng.integers(0, 2, n).astype(np.float64)
    with threadpool_limits(limits=1, user_api="blas"):  # as in the gateway (gateway/cache/blas.py)
        started = time.perf_counter()
        fit_embedding(z, x, y)
        elapsed = time.perf_counter() - started
    assert elapsed < 2.0, elapsed  # 0.07 s on the busy 2-core box

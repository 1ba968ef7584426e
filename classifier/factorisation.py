"""RouteLLM-style matrix factorisation over pairs: a shared k-d projection of the request embedding and
one vector per (cheaper, stronger) pair, trained on every pair's outcomes at once (numpy, Adam).

logit(pair p needs the stronger model | request x) = (x P) . u_p + c_p + a * z(log chars). Served as the
mean over pairs, which is linear in x: w = P mean(u), so it ships as a `scorer.Linear`.
"""

from __future__ import annotations

import numpy as np

from classifier.scorer import Linear
from classifier.trainset import TrainSet


def fit_factorisation(data: TrainSet, *, k: int = 16, steps: int = 200, rate: float = 0.02, l2: float = 1e-3,
                      seed: int = 0) -> Linear:
    defined = ~np.isnan(data.pair_target) & (data.weights[:, None] > 0)  # (n, P)
    y = np.nan_to_num(data.pair_target)
    w = np.where(defined, data.weights[:, None], 0.0)
    w = w / w[defined].mean() / defined.sum()
    x = data.vectors.astype(np.float64)
    mean_len, std_len = float(data.log_chars.mean()), max(1e-9, float(data.log_chars.std()))
    z = (data.log_chars - mean_len) / std_len
    rng = np.random.default_rng(seed)
    n_pairs = y.shape[1]
    params = {"P": rng.normal(0, 0.1, (x.shape[1], k)), "U": rng.normal(0, 0.1, (n_pairs, k)),
              "c": np.zeros(n_pairs), "a": np.zeros(1)}
    moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in params.items()}
    for step in range(1, steps + 1):
        proj = x @ params["P"]  # (n, k)
        f = proj @ params["U"].T + params["c"] + params["a"][0] * z[:, None]  # (n, P)
        g = w * (1.0 / (1.0 + np.exp(-f)) - y)  # d loss / d f, zero where undefined
        grads = {"P": x.T @ (g @ params["U"]) + l2 * params["P"], "U": g.T @ proj + l2 * params["U"],
                 "c": g.sum(axis=0), "a": np.asarray([g.sum(axis=1) @ z])}
        for name, grad in grads.items():
            m, v = moments[name]
            m[:] = 0.9 * m + 0.1 * grad
            v[:] = 0.999 * v + 0.001 * grad * grad
            params[name] -= rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    used = np.nonzero(defined.any(axis=0))[0]
    u_mean = params["U"][used].mean(axis=0)
    a = float(params["a"][0])
    return Linear(w=params["P"] @ u_mean, w_len=a / std_len,
                  bias=float(params["c"][used].mean()) - a * mean_len / std_len)

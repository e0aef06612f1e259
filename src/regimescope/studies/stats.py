"""Bootstrap intervals over problems and seeds, shared by every study.

Samples of one problem are correlated, and so are problems within one trained seed, so
intervals resample at both levels (hierarchical bootstrap): draw seeds with replacement,
then problems with replacement within each drawn seed, and recompute the statistic.
With one seed this reduces to the ordinary bootstrap over problems.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def hierarchical_bootstrap(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, tuple[float, float]]:
    """Point estimate and 95% percentile interval of ``statistic`` over (seeds, problems).

    ``values`` has shape (S, P): one value per seed and problem (for a paired effect,
    pass the per-problem difference). The statistic gets a resampled (S, P) array.

    >>> est, (lo, hi) = hierarchical_bootstrap(np.ones((2, 5)))
    >>> (est, lo, hi)
    (1.0, 1.0, 1.0)
    """
    data = np.asarray(values, dtype=float)
    if data.ndim == 1:
        data = data[None, :]  # (1, P)
    seeds, problems = data.shape
    rng = np.random.default_rng(seed)
    estimates = np.empty(resamples)
    for r in range(resamples):
        seed_rows = rng.integers(0, seeds, size=seeds)  # (S,)
        cols = rng.integers(0, problems, size=(seeds, problems))  # (S, P)
        estimates[r] = statistic(data[seed_rows[:, None], cols])  # resampled (S, P)
    low, high = np.percentile(estimates, [2.5, 97.5])
    return float(statistic(data)), (float(low), float(high))


def paired_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-(seed, problem) difference ``a - b`` of two measurements on the same problems."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired arrays differ in shape: {a.shape} vs {b.shape}")
    return a - b

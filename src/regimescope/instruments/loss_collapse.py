"""Loss-curve collapse: training curves of different sizes, each normalised by its own
end-of-run compute and loss, fall on one curve (Qiu et al. 2025, "Scaling Collapse Reveals
Universal Dynamics in Compute-Optimally Trained Neural Networks", arXiv 2507.02119).

Normalisation of a curve L(t), t in steps or FLOPs up to the run's end T:

    x = t / T,    y = (L(t) − E) / (L(T) − E)

with E an irreducible loss (0 by default; Qiu et al. subtract the fitted E of the scaling
law). Spread over curves k = 1..K on a grid of x in [x_min, 1] (each y interpolated
linearly in x):

    spread = mean over the grid of  std_k(y_k(x)) / mean_k(y_k(x))

a dimensionless coefficient of variation: 0 when the normalised curves coincide. std_k is
the sample standard deviation (divisor K − 1), so spreads over different numbers of curves
(K sizes against S seeds) compare without a bias that depends on K. The paper
compares this kind of deviation with the seed-to-seed one at a single size (the noise
floor): ``collapse_spread`` of several seeds of one size gives that floor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def normalise(steps: Sequence[float], losses: Sequence[float], irreducible: float = 0.0):
    """(x, y) = (t / T, (L − E) / (L(T) − E)) of one curve, T its last step."""
    t = np.asarray(steps, dtype=float)
    loss = np.asarray(losses, dtype=float)
    return t / t[-1], (loss - irreducible) / (loss[-1] - irreducible)


def collapse_spread(
    curves: Sequence[tuple[Sequence[float], Sequence[float]]],
    irreducible: float = 0.0,
    x_min: float = 0.1,
    points: int = 50,
) -> float:
    """Mean coefficient of variation across normalised curves ((steps, losses) each) on
    ``points`` grid values of x in [x_min, 1]; dimensionless, 0 for a perfect collapse."""
    if len(curves) < 2:
        raise ValueError("need at least two curves")
    grid = np.linspace(x_min, 1.0, points)
    ys = []
    for steps, losses in curves:
        x, y = normalise(steps, losses, irreducible)
        if x[0] > x_min:
            raise ValueError(f"a curve starts at x = {x[0]:.3f}, after x_min = {x_min}")
        ys.append(np.interp(grid, x, y))
    stacked = np.stack(ys)  # [curves, points]
    return float(np.mean(stacked.std(axis=0, ddof=1) / np.abs(stacked.mean(axis=0))))

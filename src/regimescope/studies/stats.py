"""Bootstrap intervals that resample the way the data were made, shared by every study.

In every study each trained seed (or run) is scored on the *same* problems (or tensors):
the design is crossed, not nested. A problem that is hard is hard for every seed, so the
problems are one sample shared by all seeds, and an interval must resample them once per
resample, not once per seed. ``crossed_bootstrap`` draws, per resample, seeds with
replacement and one set of problem columns with replacement, used by every drawn seed
(the "pigeonhole" bootstrap of Owen 2007, "The pigeonhole bootstrap", Ann. Appl. Stat.).
Anything measured once and shared by all seeds (one base sample subtracted from every
seed) is indexed by the same columns, so its noise is counted once, as it was made.

Drawing columns independently per seed row (the nested, hierarchical bootstrap this
module used before December 2026) averages the problem noise away over seeds: with 3
seeds x 100 problems and problem variance dominant, its nominal 95% intervals covered
77% (``tests/test_stats.py`` simulates both).

With one seed this is the ordinary bootstrap over problems.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from regimescope.studies.verdict import Effect, effect

# A statistic of the picked cells: (seed indices (S,), problem indices (P,)) -> number.
IndexStatistic = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Resampled:
    estimate: float  # the statistic on the data as measured
    draws: np.ndarray  # (R,) the statistic on each resample

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Percentile interval at ``level`` (non-finite draws left out)."""
        finite = self.draws[np.isfinite(self.draws)]
        if finite.size == 0:
            return (float("nan"), float("nan"))
        tail = 100 * (1 - level) / 2
        low, high = np.percentile(finite, [tail, 100 - tail])
        return float(low), float(high)


def resample_indices(
    seeds: int, items: int, resamples: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Crossed resampling: (R, S) seed rows and (R, P) item columns, one column set per
    resample shared by every seed row of that resample."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, seeds, size=(resamples, seeds))  # (R, S)
    cols = rng.integers(0, items, size=(resamples, items))  # (R, P)
    return rows, cols


def crossed_bootstrap(
    statistic: IndexStatistic, seeds: int, items: int, resamples: int = 2000, seed: int = 0
) -> Resampled:
    """``statistic(seed_idx, item_idx)`` on the data and on crossed resamples of it.

    The statistic picks its own cells, so it can combine arrays of shape (S, P) (per seed
    and problem: ``x[np.ix_(s, p)]``) with arrays of shape (P,) measured once for all seeds
    (``b[p]``), and compute ratios or crossovers on the picked cells.
    """
    rows, cols = resample_indices(seeds, items, resamples, seed)
    draws = np.array([statistic(r, c) for r, c in zip(rows, cols, strict=True)])
    return Resampled(float(statistic(np.arange(seeds), np.arange(items))), draws)


def bootstrap_mean(values: np.ndarray, resamples: int = 2000, seed: int = 0) -> Resampled:
    """Mean of per-(seed, problem) ``values`` (S, P) (or (P,) for one seed), crossed.

    Vectorised: the resampled means of all R resamples are computed at once.
    """
    data = np.asarray(values, dtype=float)
    data = data[None, :] if data.ndim == 1 else data  # (S, P)
    seeds, items = data.shape
    rows, cols = resample_indices(seeds, items, resamples, seed)
    picked = data[rows[:, :, None], cols[:, None, :]]  # (R, S, P)
    return Resampled(float(np.nanmean(data)), np.nanmean(picked, axis=(1, 2)))


def paired_effect(
    name: str,
    statistic: Callable[..., float],
    arrays: Sequence[np.ndarray],
    resamples: int,
    unit: str = "fraction",
    family: int = 1,
) -> Effect:
    """``statistic(*arrays)`` of (S, P) arrays measured on the same seeds and problems, with
    its crossed interval: each resample picks the same (seed, problem) cells of every array."""
    arrays = [np.asarray(a) for a in arrays]

    def picked(seeds: np.ndarray, problems: np.ndarray) -> float:
        return statistic(*(a[np.ix_(seeds, problems)] for a in arrays))

    found = crossed_bootstrap(picked, *arrays[0].shape, resamples)
    return effect(name, found, unit, family)

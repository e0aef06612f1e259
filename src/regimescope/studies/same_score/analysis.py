"""Effects of the same-score study (study 8, part A) from its per-model readings.

Seeds are nested in α (each (α, seed) model has its own initialisation and split), so an
interval resamples seeds *within* each α group, independently across groups.

- Symmetricity gap: mean gradient symmetricity at α = 0 minus at α = 1 (the Pizza reads
  a + b through x_a + x_b, so its gradients agree; the Clock's do not).
- Distance-irrelevance gap: mean distance irrelevance at α = 1 minus at α = 0 (the Clock's
  correct logit ignores a − b, the Pizza's does not).
- CKA gap: mean linear CKA of the residual stream over pairs of *distinct* models within
  the α = 0 group and within the α = 1 group, minus the mean over (α = 0, α = 1) pairs.
  A resample that draws one model twice leaves that pair out (its CKA is 1 by identity,
  not by similarity).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from regimescope.instruments.cka import linear_cka
from regimescope.studies.stats import Resampled
from regimescope.studies.verdict import Effect, effect

Draw = Callable[[list[int]], list[int]]  # seeds of a group -> the seeds of one resample


def nested_bootstrap(
    statistic: Callable[[Draw], float], resamples: int, seed: int = 0
) -> Resampled:
    """``statistic(draw)`` on the data (draw = identity) and on resamples that draw each
    group's seeds with replacement, independently per group."""
    rng = np.random.default_rng(seed)

    def resample(seeds: list[int]) -> list[int]:
        return list(rng.choice(seeds, size=len(seeds)))

    draws = np.array([statistic(resample) for _ in range(resamples)])
    return Resampled(float(statistic(lambda seeds: list(seeds))), draws)


def group_gap(
    models: pd.DataFrame, column: str, high: float, low: float, resamples: int, family: int
) -> Effect:
    """mean ``column`` at α = ``high`` minus at α = ``low``, seeds resampled within α."""
    values = {a: dict(zip(g.seed, g[column], strict=True)) for a, g in models.groupby("alpha")}

    def gap(draw: Draw) -> float:
        means = {a: np.mean([values[a][s] for s in draw(sorted(values[a]))]) for a in (high, low)}
        return float(means[high] - means[low])

    name = f"{column.replace('_', ' ')}, α = {high:g} minus α = {low:g}"
    return effect(name, nested_bootstrap(gap, resamples), "1", family)


def cka_table(states: dict[tuple[float, int], torch.Tensor]) -> pd.DataFrame:
    """Linear CKA of every pair of distinct models (alpha_1, seed_1, alpha_2, seed_2, cka)."""
    keys = sorted(states)
    rows = []
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            cka = linear_cka(states[first], states[second])
            rows.append(
                {
                    "alpha_1": first[0],
                    "seed_1": first[1],
                    "alpha_2": second[0],
                    "seed_2": second[1],
                    "cka": cka,
                }
            )
    return pd.DataFrame(rows)


def cka_gap(
    pairs: pd.DataFrame, groups: tuple[float, float], resamples: int, family: int
) -> Effect:
    """Mean within-group CKA (distinct models) minus mean between-group CKA."""
    lookup = {}
    for r in pairs.itertuples():
        lookup[((r.alpha_1, r.seed_1), (r.alpha_2, r.seed_2))] = r.cka
        lookup[((r.alpha_2, r.seed_2), (r.alpha_1, r.seed_1))] = r.cka
    seeds = {a: sorted({s for (alpha, s), _ in lookup if alpha == a}) for a in groups}

    def gap(draw: Draw) -> float:
        chosen = {a: draw(seeds[a]) for a in groups}
        within = [
            lookup[((a, s), (a, t))]
            for a in groups
            for i, s in enumerate(chosen[a])
            for t in chosen[a][i + 1 :]
            if s != t
        ]
        between = [
            lookup[((groups[0], s), (groups[1], t))]
            for s in chosen[groups[0]]
            for t in chosen[groups[1]]
        ]
        return float(np.mean(within) - np.mean(between)) if within else float("nan")

    name = f"CKA within α groups minus between α = {groups[0]:g} and {groups[1]:g}"
    return effect(name, nested_bootstrap(gap, resamples), "1", family)


def summary(models: pd.DataFrame) -> pd.DataFrame:
    """Per α: mean, min and max of accuracy, symmetricity and distance irrelevance."""
    columns = ["test_accuracy", "symmetricity", "distance_irrelevance"]
    table = models.groupby("alpha")[columns].agg(["mean", "min", "max"])
    table.columns = [f"{c}_{s}" for c, s in table.columns]
    return table.reset_index()

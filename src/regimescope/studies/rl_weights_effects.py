"""Study 3a's effects and their tables: changed fractions per (regime, rate, view),
sparsity advantages over gold SFT, and the rank of the updates, with 95% intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from regimescope.instruments.diff_summary import tolerance_key
from regimescope.studies.rl_weights_parts import (
    GOLD,
    LABELS,
    REGIMES,
    RL,
    SELF,
    Measured,
    bootstrap,
    drift,
    every_cell,
    fraction,
)
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect


def changed_table(m: Measured, resamples: int) -> pd.DataFrame:
    """Changed fraction with its interval per (regime, rate, view), and the drift."""
    views = ["fp32", "bf16", *(f"atol_{tolerance_key(t)}" for t in m.tolerances)]
    drifts, rows = drift(m, *every_cell(m)), []
    for r, regime in enumerate(REGIMES):
        for i, lr in enumerate(m.lrs):
            for view in views:
                est, (low, high) = bootstrap(m, one_fraction(m, view, r, i), resamples)
                row = dict(regime=regime, lr=lr, view=view, estimate=est, low=low, high=high)
                rows.append(row | {"drift": drifts[r, i]})
    return pd.DataFrame(rows)


def one_fraction(m: Measured, view: str, r: int, i: int):
    """The statistic: changed fraction of regime ``r`` at rate ``i`` over the picked cells."""
    return lambda seeds, tensors: fraction(m, view, seeds, tensors)[r, i]


def rl_changed(table: pd.DataFrame, view: str) -> list[Effect]:
    """RL's changed fraction in ``view`` at every rate where RL changed any weight."""
    fp32 = table[(table.regime == "rl") & (table.view == "fp32")].set_index("lr").estimate
    chosen = table[(table.regime == "rl") & (table.view == view)]
    name = "RL changed fraction, {}, lr {:g}"
    return [
        Effect(name.format(view, row.lr), row.estimate, (row.low, row.high))
        for row in chosen.itertuples()
        if fp32[row.lr] > 0
    ]


def matched_advantage(m: Measured, x: int, view: str, resamples: int) -> Effect | None:
    """How much sparser regime ``x`` is than gold SFT at equal drift, in ``view``.

    At each rate where x's drift falls inside gold SFT's drift range, gold's changed
    fraction is interpolated linearly in log drift; the effect is the mean over those
    rates of gold's interpolated fraction minus x's (positive: x is sparser).
    """
    d = drift(m, *every_cell(m))
    low, high = d[GOLD].min(), d[GOLD].max()
    inside = [i for i in range(len(m.lrs)) if d[x, i] > 0 and low <= d[x, i] <= high]
    if not inside or low <= 0:
        return None

    def advantage(seeds, tensors) -> float:
        c = fraction(m, view, seeds, tensors)
        logd = np.log(np.maximum(drift(m, seeds, tensors), 1e-30))
        order = np.argsort(logd[GOLD])
        gold = np.interp(logd[x, inside], logd[GOLD][order], c[GOLD][order])
        return float(np.mean(gold - c[x, inside]))

    est, ci = bootstrap(m, advantage, resamples)
    rates = ", ".join(f"{m.lrs[i]:g}" for i in inside)
    name = f"{LABELS[REGIMES[x]]} sparsity advantage over gold SFT at equal drift, {view}"
    return Effect(f"{name} (lr {rates})", est, ci)


def same_rate_advantage(m: Measured, x: int, view: str, resamples: int) -> Effect | None:
    """How much sparser regime ``x`` is than gold SFT at the same (lowest) learning rate
    where both changed weights: gold's changed fraction minus x's, in ``view``."""
    d = drift(m, *every_cell(m))
    moved = [i for i in range(len(m.lrs)) if d[x, i] > 0 and d[GOLD, i] > 0]
    if not moved:
        return None
    i = moved[0]

    def advantage(seeds, tensors) -> float:
        c = fraction(m, view, seeds, tensors)
        return float(c[GOLD, i] - c[x, i])

    est, ci = bootstrap(m, advantage, resamples)
    name = f"{LABELS[REGIMES[x]]} sparsity advantage over gold SFT at equal learning rate"
    return Effect(f"{name}, {view} (lr {m.lrs[i]:g})", est, ci)


def rank_effect(values: np.ndarray, name: str, resamples: int) -> Effect | None:
    """Mean over (run, matrix) of a rank figure ``values`` (L, S, T) of one regime.

    Runs that changed nothing are dropped, and so are matrices not changed in every
    remaining run; the bootstrap resamples runs, then matrices.
    """
    data = values.reshape(-1, values.shape[-1])  # (L * S, T)
    data = data[np.isfinite(data).any(axis=1)]
    if data.size == 0 or not np.isfinite(data).all(axis=0).any():
        return None
    est, ci = hierarchical_bootstrap(data[:, np.isfinite(data).all(axis=0)], np.mean, resamples)
    return Effect(name, est, ci)


def rank_table(m: Measured, resamples: int) -> pd.DataFrame:
    """Rank fraction and stable rank / full rank per (regime, rate), with intervals."""
    rows = []
    for r, regime in enumerate(REGIMES):
        for i, lr in enumerate(m.lrs):
            for figure, values in (("rank_fraction", m.rank), ("stable_rank_fraction", m.stable)):
                e = rank_effect(values[r, i][None], figure, resamples)
                if e is not None:
                    rows.append(
                        dict(
                            regime=regime,
                            lr=lr,
                            figure=figure,
                            estimate=e.estimate,
                            low=e.ci95[0],
                            high=e.ci95[1],
                        )
                    )
    return pd.DataFrame(rows, columns=["regime", "lr", "figure", "estimate", "low", "high"])


@dataclass(frozen=True)
class Effects:
    fp32: list[Effect]  # RL's changed fraction in fp32, per rate where RL moved
    bf16: list[Effect]  # the same after a bf16 cast
    advantage: Effect | None  # RL's sparsity advantage over gold SFT at equal drift (bf16)
    same_rate: Effect | None  # the same at equal learning rate (the lowest), for contrast
    self_advantage: Effect | None  # self-SFT's advantage over gold SFT at equal drift (bf16)
    rank: Effect | None  # mean rank fraction of RL's update matrices
    stable: Effect | None  # mean stable rank / full rank of RL's update matrices

    @property
    def all(self) -> list[Effect]:
        single = (self.advantage, self.same_rate, self.self_advantage, self.rank, self.stable)
        return [*self.fp32, *self.bf16, *(e for e in single if e is not None)]


def effects(m: Measured, changed: pd.DataFrame, resamples: int) -> Effects:
    """Every effect the decision rule reads."""
    rank = rank_effect(m.rank[RL], "RL update rank fraction (mean over matrices)", resamples)
    stable = rank_effect(m.stable[RL], "RL update stable rank / full rank", resamples)
    advantages = [matched_advantage(m, x, "bf16", resamples) for x in (RL, SELF)]
    fp32, bf16 = rl_changed(changed, "fp32"), rl_changed(changed, "bf16")
    same_rate = same_rate_advantage(m, RL, "bf16", resamples)
    return Effects(fp32, bf16, advantages[0], same_rate, advantages[1], rank, stable)

"""Study 3a's effects: changed fractions per (regime, rate, view), sparsity advantages over
gold SFT, the rank of the updates, mask overlap against chance, and RL's reward rise.

Every seed's run has the same tensors, so seeds and tensors are crossed: each interval
comes from ``stats.crossed_bootstrap``, which draws per resample seeds with replacement
and one set of tensor columns shared by every drawn seed. A statistic picks its (seed,
tensor) cells and pools over them: a changed fraction is Σ changed / Σ parameters over
the picked cells (a large tensor weighs by its size, as in the whole-model figure), the
drift is sqrt(Σ ‖Δ‖² / Σ ‖W‖²). Ranks resample runs and matrices, crossed the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regimescope.instruments.diff_summary import tolerance_key
from regimescope.studies.premises import reward_rise
from regimescope.studies.rl_weights.experiment import GOLD, LABELS, REGIMES, RL, SELF, Measured
from regimescope.studies.stats import Resampled, bootstrap_mean, crossed_bootstrap
from regimescope.studies.verdict import Effect, effect

# ---------------------------------------------------------------- pooled figures


def pooled(m: Measured, name: str, seeds: np.ndarray, tensors: np.ndarray) -> np.ndarray:
    """Σ of ``name`` over the picked cells (every picked seed × every picked tensor): (R, L)."""
    return m.cells[name][:, :, seeds[:, None], tensors[None, :]].sum(axis=(-2, -1))


def fraction(m: Measured, view: str, seeds, tensors) -> np.ndarray:
    """Changed fraction in ``view`` over the picked cells: (R, L)."""
    return pooled(m, view, seeds, tensors) / pooled(m, "params", seeds, tensors)


def drift(m: Measured, seeds, tensors) -> np.ndarray:
    """Relative update norm ‖Δ‖_F / ‖W‖_F over the picked cells: (R, L)."""
    return np.sqrt(pooled(m, "delta_sq", seeds, tensors) / pooled(m, "weight_sq", seeds, tensors))


def every_cell(m: Measured) -> tuple[np.ndarray, np.ndarray]:
    """(seed indices, tensor indices) of the data as measured."""
    seeds, tensors = m.cells["params"].shape[2:]
    return np.arange(seeds), np.arange(tensors)


def bootstrap(m: Measured, statistic, resamples: int) -> Resampled:
    """``statistic(seed_idx, tensor_idx)`` on the data and on crossed resamples of seeds
    and tensors (one tensor-column set per resample, shared by every drawn seed)."""
    seeds, tensors = m.cells["params"].shape[2:]
    return crossed_bootstrap(statistic, seeds, tensors, resamples)


# ---------------------------------------------------------------- changed fractions


def changed_table(m: Measured, resamples: int) -> pd.DataFrame:
    """Changed fraction with its 95% interval per (regime, rate, view), and the drift."""
    views = ["fp32", "bf16", *(f"atol_{tolerance_key(t)}" for t in m.tolerances)]
    drifts, rows = drift(m, *every_cell(m)), []
    for r, regime in enumerate(REGIMES):
        for i, lr in enumerate(m.lrs):
            for view in views:
                found = bootstrap(m, one_fraction(m, view, r, i), resamples)
                low, high = found.interval()
                row = dict(regime=regime, lr=lr, view=view, estimate=found.estimate)
                rows.append(row | dict(low=low, high=high, drift=drifts[r, i]))
    return pd.DataFrame(rows)


def one_fraction(m: Measured, view: str, r: int, i: int):
    """The statistic: changed fraction of regime ``r`` at rate ``i`` over the picked cells."""
    params, changed = m.cells["params"][r, i], m.cells[view][r, i]  # (S, T)
    return lambda s, t: changed[np.ix_(s, t)].sum() / params[np.ix_(s, t)].sum()


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


# ---------------------------------------------------------------- sparser than gold SFT


def matched_advantage(
    m: Measured, x: int, view: str, resamples: int, family: int = 1
) -> Effect | None:
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

    rates = ", ".join(f"{m.lrs[i]:g}" for i in inside)
    name = f"{LABELS[REGIMES[x]]} sparsity advantage over gold SFT at equal drift, {view}"
    return effect(f"{name} (lr {rates})", bootstrap(m, advantage, resamples), family=family)


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

    name = f"{LABELS[REGIMES[x]]} sparsity advantage over gold SFT at equal learning rate"
    return effect(f"{name}, {view} (lr {m.lrs[i]:g})", bootstrap(m, advantage, resamples))


# ---------------------------------------------------------------- rank


def rank_effect(values: np.ndarray, name: str, resamples: int, family: int = 1) -> Effect | None:
    """Mean over (run, matrix) of a rank figure ``values`` (L, S, T) of one regime.

    Runs that changed nothing are dropped, and so are matrices not changed in every
    remaining run; every run has the same matrices, so runs and matrices are crossed.
    """
    data = values.reshape(-1, values.shape[-1])  # (L * S, T)
    data = data[np.isfinite(data).any(axis=1)]
    if data.size == 0 or not np.isfinite(data).all(axis=0).any():
        return None
    kept = data[:, np.isfinite(data).all(axis=0)]
    return effect(name, bootstrap_mean(kept, resamples), family=family)


def rank_table(m: Measured, resamples: int) -> pd.DataFrame:
    """Rank fraction and stable rank / full rank per (regime, rate), with 95% intervals."""
    rows = []
    for r, regime in enumerate(REGIMES):
        for i, lr in enumerate(m.lrs):
            for figure, values in (("rank_fraction", m.rank), ("stable_rank_fraction", m.stable)):
                e = rank_effect(values[r, i][None], figure, resamples)
                if e is not None:
                    row = dict(regime=regime, lr=lr, figure=figure, estimate=e.estimate)
                    rows.append(row | dict(low=e.ci95[0], high=e.ci95[1]))
    return pd.DataFrame(rows, columns=["regime", "lr", "figure", "estimate", "low", "high"])


# ---------------------------------------------------------------- mask overlap


def overlap_frame(m: Measured) -> pd.DataFrame:
    """Mask overlap of two seeds of one (regime, rate) per view, against chance;
    ``excess`` = Jaccard − chance Jaccard at the same per-tensor densities."""
    where, rows = {str(t.model_dir): t for t in m.tuned}, []
    for o in m.result.overlap:
        a, b = where[o["a"]], where[o["b"]]
        if (a.regime, a.lr) != (b.regime, b.lr):
            continue
        row = dict(regime=a.regime, lr=a.lr, seed_a=a.seed, seed_b=b.seed, view=o["view"])
        row |= dict(density_a=o["changed_a"] / o["params"], density_b=o["changed_b"] / o["params"])
        chance = o["chance_jaccard_by_tensor"]
        rows.append(row | dict(jaccard=o["jaccard"], chance=chance, excess=o["jaccard"] - chance))
    columns = ["regime", "lr", "seed_a", "seed_b", "view", "density_a", "density_b"]
    return pd.DataFrame(rows, columns=[*columns, "jaccard", "chance", "excess"])


def lowest_rate_excess(overlap: pd.DataFrame, lrs: tuple[float, ...]) -> list[float]:
    """Jaccard excess over chance of RL seed pairs in bf16 at the lowest rate (both moved)."""
    o = overlap
    keep = (o.regime == "rl") & (o.view == "bf16") & (o.lr == min(lrs))
    keep &= (o.density_a > 0) & (o.density_b > 0)
    return [float(x) for x in o[keep].excess if math.isfinite(x)]


# ---------------------------------------------------------------- every effect


@dataclass(frozen=True)
class Effects:
    advantage: Effect | None  # decided: RL's sparsity advantage over gold SFT at equal drift (bf16)
    rank: Effect | None  # decided: mean rank fraction of RL's update matrices
    rise: Effect | None  # premise: RL's training reward, last tenth - first tenth (None: no RL)
    fp32: list[Effect]  # the correction: RL's changed fraction in fp32, per rate where RL moved
    bf16: list[Effect]  # reported: the same after a bf16 cast
    same_rate: Effect | None  # reported: the advantage at equal learning rate (the lowest)
    self_advantage: Effect | None  # reported: self-SFT's advantage over gold SFT at equal drift
    stable: Effect | None  # shown: mean stable rank / full rank of RL's update matrices

    @property
    def all(self) -> list[Effect]:
        single = (self.same_rate, self.self_advantage, self.stable, self.rise)
        head = [e for e in (self.advantage, self.rank) if e is not None]
        return [*head, *self.fp32, *self.bf16, *(e for e in single if e is not None)]


def effects(m: Measured, changed: pd.DataFrame, resamples: int, family: int) -> Effects:
    """Every effect the decision reads; the decided ones with their (1 - 0.05/family)
    interval for a verdict of ``family`` parts."""
    name = "RL update rank fraction (mean over matrices)"
    rank = rank_effect(m.rank[RL], name, resamples, family)
    stable = rank_effect(m.stable[RL], "RL update stable rank / full rank", resamples)
    rewards = [t.rewards for t in m.tuned if t.regime == "rl" and t.rewards]
    return Effects(
        advantage=matched_advantage(m, RL, "bf16", resamples, family),
        rank=rank,
        rise=reward_rise(rewards, resamples) if rewards else None,
        fp32=rl_changed(changed, "fp32"),
        bf16=rl_changed(changed, "bf16"),
        same_rate=same_rate_advantage(m, RL, "bf16", resamples),
        self_advantage=matched_advantage(m, SELF, "bf16", resamples),
        stable=stable,
    )

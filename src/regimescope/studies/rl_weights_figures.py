"""Study 3a's figures: changed fraction against drift and against the tolerance τ, and
the rank and mask overlap of the updates per rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.studies.rl_weights_parts import (
    COLORS,
    LABELS,
    REGIMES,
    Measured,
    every_cell,
    pooled,
)

# ---------------------------------------------------------------- figures


def with_bars(ax, x, rows: pd.DataFrame, regime: str) -> None:
    """A regime's estimates against ``x`` with their 95% intervals as error bars."""
    bars = [rows.estimate - rows.low, rows.high - rows.estimate]
    style = dict(fmt="o-", capsize=3, markersize=4, color=COLORS[regime], label=LABELS[regime])
    ax.errorbar(x, rows.estimate, yerr=bars, **style)


def plot_changed_vs_drift(changed: pd.DataFrame, m: Measured, sparse_at: float):
    """Changed fraction against drift: fp32, bf16 (with the size-predicted share), τ = 1e-5."""
    import matplotlib.pyplot as plt

    views = [v for v in ("fp32", "bf16", "atol_1e-05") if v in set(changed.view)]
    fig, axes = plt.subplots(
        1, len(views), figsize=(4.2 * len(views), 3.6), sharey=True, layout="constrained"
    )
    cells = every_cell(m)
    visible = pooled(m, "fp32", *cells) - pooled(m, "invisible", *cells)
    predicted = visible / pooled(m, "params", *cells)  # (R, L)
    for ax, view in zip(axes, views, strict=True):
        for r, regime in enumerate(REGIMES):
            rows = changed[(changed.regime == regime) & (changed.view == view)]
            rows = rows[rows.drift > 0].sort_values("drift")
            with_bars(ax, rows.drift, rows, regime)
            if view == "bf16":
                expected = [predicted[r, m.lrs.index(lr)] for lr in rows.lr]
                ax.plot(rows.drift, expected, ":", color=COLORS[regime])
        ax.axhline(sparse_at, color="grey", linestyle="--", linewidth=1, label="sparse threshold")
        title = view.replace("atol_", "|Δ| > ")
        ax.set(xscale="log", title=title, xlabel="relative drift ‖Δ‖/‖W‖ (log)", ylim=(-0.02, 1.02))
    axes[0].set_ylabel("changed fraction of parameters")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("dotted (bf16): share predicted visible from |Δ| ≥ ½ bf16 ulp of w", fontsize=8)
    return fig


def plot_tolerances(changed: pd.DataFrame, m: Measured):
    """Changed fraction against τ per regime (one line per rate), bf16 view dotted."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(REGIMES), figsize=(12, 3.6), sharey=True, layout="constrained")
    shades = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(m.lrs)))
    for ax, regime in zip(axes, REGIMES, strict=True):
        mine = changed[changed.regime == regime]
        for lr, shade in zip(m.lrs, shades, strict=True):
            rows = mine[(mine.lr == lr) & mine.view.str.startswith("atol_")]
            ax.plot(m.tolerances, rows.estimate, "o-", color=shade, ms=3, label=f"lr {lr:g}")
            ax.fill_between(m.tolerances, rows.low, rows.high, color=shade, alpha=0.2, lw=0)
            bf16 = mine[(mine.lr == lr) & (mine.view == "bf16")].estimate.iloc[0]
            ax.axhline(bf16, color=shade, linestyle=":", linewidth=1)
        ax.set(xscale="log", title=LABELS[regime], xlabel="tolerance τ in |Δ| > τ (log)")
    axes[0].set(ylabel="changed fraction of parameters", ylim=(-0.02, 1.02))
    axes[0].legend(fontsize=7, title="solid: |Δ| > τ; dotted: bf16", title_fontsize=7)
    return fig


def plot_structure(ranks: pd.DataFrame, overlap: pd.DataFrame, lrs: tuple[float, ...]):
    """Rank fraction, stable rank / full rank, and bf16 mask overlap against chance, per rate."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    for ax, figure in zip(axes[:2], ("rank_fraction", "stable_rank_fraction"), strict=True):
        for regime in REGIMES:
            rows = ranks[(ranks.regime == regime) & (ranks.figure == figure)]
            with_bars(ax, rows.lr, rows, regime)
        ax.set(xscale="log", xlabel="learning rate (log)", ylabel=figure.replace("_", " "))
        ax.set_ylim(0, 1.02 if figure == "rank_fraction" else None)
    axes[0].legend(fontsize=7)
    bf16 = overlap[overlap.view == "bf16"]
    for regime in REGIMES:
        rows = bf16[bf16.regime == regime]
        axes[2].plot(rows.lr, rows.jaccard, "o", color=COLORS[regime], label=LABELS[regime])
        axes[2].plot(rows.lr, rows.chance, "x", color=COLORS[regime])
    if bf16.empty:
        axes[2].text(0.5, 0.5, "overlap needs two seeds", ha="center", transform=axes[2].transAxes)
    axes[2].set(xscale="log", xlim=(min(lrs) / 2, max(lrs) * 2), ylim=(-0.02, 1.02))
    axes[2].set(xlabel="learning rate (log)", ylabel="Jaccard of two seeds' bf16 masks")
    axes[2].set_title("o: observed, x: chance at per-tensor densities", fontsize=8)
    axes[2].legend(fontsize=7)
    return fig

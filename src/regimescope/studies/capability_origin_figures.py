"""Study 4's figures: pass@k of base and RL per cell, creation rate and pass@1 gain per
cell, GRPO rollout rewards, and creation against the base's competence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from regimescope.studies.capability_origin_parts import FAMILIES

# ---------------------------------------------------------------- figures

COLORS = {"A": "tab:blue", "B": "tab:orange", "C": "tab:grey"}


def figure_passk(table: pd.DataFrame, creation: pd.DataFrame, depths, n: int) -> Figure:
    """pass@k curves of base and RL, one panel per family (rows) and depth (columns)."""
    families = ["A", "B"]
    figure = Figure(figsize=(3.2 * len(depths), 5.6), layout="constrained")
    axes = figure.subplots(len(families), len(depths), squeeze=False, sharey=True)
    for row, family in enumerate(families):
        for col, depth in enumerate(depths):
            ax = axes[row][col]
            cell = table[(table["family"] == family) & (table["depth"] == depth)]
            for model, color, name in (("base", "black", "base"), ("RL", "tab:red", "GRPO")):
                curve = cell[cell["model"] == model]
                ax.plot(curve["k"], curve["pass_at_k"], "o-", ms=3, color=color, label=name)
                ax.fill_between(
                    curve["k"], curve["ci_low"], curve["ci_high"], color=color, alpha=0.15, lw=0
                )
            at = creation[(creation["family"] == family) & (creation["depth"] == depth)]
            k_star = float(at["crossover_k"].iloc[0])
            if 1 < k_star <= n:
                ax.axvline(k_star, color="grey", linestyle=":", label=f"k* = {k_star:g}")
            ax.set_xscale("log", base=2)
            ax.set(title=f"{family}{depth}: {FAMILIES[family]}, depth {depth}", ylim=(-0.02, 1.02))
            ax.title.set_fontsize(8)
            if row == len(families) - 1:
                ax.set_xlabel("k (samples per problem, log scale)")
            if col == 0:
                ax.set_ylabel("pass@k (share of held-out problems)")
            ax.legend(fontsize=7)
    return figure


def figure_creation(table: pd.DataFrame, n: int, creation_min: float, gain_min: float) -> Figure:
    """Creation rate and pass@1 gain per cell, 95% intervals, with the rule's thresholds."""
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    names = [f"{f}{d}" for f, d in zip(table["family"], table["depth"], strict=True)]
    colors = [COLORS[f] for f in table["family"]]
    x = np.arange(len(table))
    panels = (
        (left, "creation", "creation rate", creation_min),
        (right, "gain", "pass@1 gain, RL - base", gain_min),
    )
    for ax, key, title, threshold in panels:
        value = table["creation_rate" if key == "creation" else "pass1_gain"]
        err = [value - table[f"{key}_low"], table[f"{key}_high"] - value]
        ax.bar(x, value, yerr=err, capsize=3, color=colors)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1, label="rule threshold")
        ax.set_xticks(x, names)
        ax.set(xlabel="family and depth (A2 = family A, depth 2)", title=title)
    left.set_ylabel(f"share of base-unsolved problems (0 of {n})")
    right.set_ylabel("pass@1 difference (fraction)")
    handles = [Patch(color=c, label=f"{f}: {FAMILIES[f]}") for f, c in COLORS.items()]
    handles += right.get_legend_handles_labels()[0]
    right.legend(
        handles=handles,
        fontsize=7,
        title=f"creation: base rate there < 3/n = {3 / n:.3f}",
        title_fontsize=7,
    )
    return figure


def figure_rewards(table: pd.DataFrame, window: int = 5) -> Figure:
    """Rollout reward during GRPO per family (mean over the last ``window`` steps)."""
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = figure.subplots()
    for (family, seed), lines in table.groupby(["family", "seed"]):
        smooth = lines["reward"].rolling(window, min_periods=1).mean()
        ax.plot(
            lines["step"],
            smooth,
            color=COLORS[family],
            alpha=0.5 + 0.5 / (1 + seed),
            label=f"{family}: {FAMILIES[family]}" + (f", seed {seed}" if seed else ""),
        )
    ax.set(
        xlabel="GRPO step",
        ylabel=f"rollout reward (share correct, {window}-step mean)",
        title="GRPO on depth-2 compositions of each family",
        ylim=(-0.02, 1.02),
    )
    ax.legend(fontsize=7)
    return figure


def figure_competence(table: pd.DataFrame, creation: pd.DataFrame, n: int) -> Figure:
    """Left: base competence by family and depth. Right: creation rate against competence."""
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    for family, rows in table[table["metric"] == f"pass@{n}"].groupby("family"):
        err = [rows["value"] - rows["ci_low"], rows["ci_high"] - rows["value"]]
        left.errorbar(
            rows["depth"],
            rows["value"],
            yerr=err,
            marker="o",
            capsize=3,
            color=COLORS[family],
            label=f"{family}: {FAMILIES[family]}",
        )
    left.set_xticks(sorted(table["depth"].unique()))
    left.set(
        xlabel="composition depth (1 = atomic)",
        ylabel=f"base pass@{n} (share of problems)",
        title="base competence, 95% CI",
        ylim=(-0.02, 1.02),
    )
    left.legend(fontsize=7)
    for family, rows in creation.groupby("family"):
        err = [
            rows["creation_rate"] - rows["creation_low"],
            rows["creation_high"] - rows["creation_rate"],
        ]
        right.errorbar(
            rows["base_passn"],
            rows["creation_rate"],
            yerr=err,
            fmt="o",
            capsize=3,
            color=COLORS[family],
            label=family,
        )
        for _, row in rows.iterrows():
            right.annotate(
                f"{family}{row['depth']}",
                (row["base_passn"], row["creation_rate"]),
                fontsize=7,
                xytext=(4, 2),
                textcoords="offset points",
            )
    right.set(
        xlabel=f"base pass@{n} of the cell (competence)",
        ylabel="creation rate (share of base-unsolved)",
        title="creation against base competence, 95% CI",
        xlim=(-0.05, 1.05),
    )
    right.legend(fontsize=7)
    return figure

"""Study 2's figures: pooled pass@k curves, rewards and pass@k by checkpoint, coverage,
the per-problem accuracy histogram, and perplexity under the base.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from regimescope.studies.verdict import Effect

# ---------------------------------------------------------------- figures


def figure_passk(table: pd.DataFrame, k_star: Effect, n: int) -> Figure:
    """Pooled pass@k curves of the base and every RL checkpoint, with 95% bands."""
    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = figure.subplots()
    pooled = table[table["seed"] == "pooled"]
    for step, curve in pooled.groupby("rl_step", sort=True):
        label = "base" if step == 0 else f"RL step {step}"
        (line,) = ax.plot(
            curve["k"],
            curve["pass_at_k"],
            "o-",
            markersize=3,
            label=label,
            color="black" if step == 0 else None,
        )
        ax.fill_between(
            curve["k"],
            curve["ci_low"],
            curve["ci_high"],
            alpha=0.15,
            color=line.get_color(),
            linewidth=0,
        )
    if k_star.estimate <= n:
        ax.axvline(
            k_star.estimate,
            color="grey",
            linestyle=":",
            label=f"k* = {k_star.estimate:g} (final RL vs base)",
        )
    ax.set_xscale("log", base=2)
    ax.set(
        xlabel="k (samples per problem, log scale)",
        ylabel="pass@k (share of problems)",
        ylim=(-0.02, 1.02),
        title="pass@k on held-out problems, 95% CI (seeds x problems)",
    )
    ax.legend(fontsize=8)
    return figure


def figure_steps(table: pd.DataFrame, training: pd.DataFrame, n: int) -> Figure:
    """Left: rollout reward during GRPO. Right: held-out pass@1 and pass@n per checkpoint."""
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    for seed, lines in training.groupby("seed"):
        left.plot(lines["step"], lines["reward"], alpha=0.8, label=f"seed {seed}")
    left.set(xlabel="RL step", ylabel="mean rollout reward (train prompts)", title="GRPO rollouts")
    left.legend(fontsize=8)
    pooled = table[table["seed"] == "pooled"]
    for k, marker in ((1, "o"), (n, "s")):
        at = pooled[pooled["k"] == k].sort_values("rl_step")
        err = [at["pass_at_k"] - at["ci_low"], at["ci_high"] - at["pass_at_k"]]
        right.errorbar(
            at["rl_step"], at["pass_at_k"], yerr=err, marker=marker, capsize=3, label=f"pass@{k}"
        )
    right.set(
        xlabel="RL step (0 = base)",
        ylabel="pass@k (share of held-out problems)",
        ylim=(-0.02, 1.02),
        title="held-out pass@k by checkpoint, 95% CI",
    )
    right.legend(fontsize=8)
    return figure


def figure_coverage(table: pd.DataFrame, n: int) -> Figure:
    """Shares of problems only the base solves and only RL solves, per RL checkpoint."""
    figure = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = figure.subplots()
    x = np.arange(len(table))
    for offset, who, label in ((-0.2, "base_only", "base only"), (0.2, "rl_only", "RL only")):
        share = table[f"{who}_share"]
        err = [share - table[f"{who}_low"], table[f"{who}_high"] - share]
        ax.bar(x + offset, share, width=0.4, yerr=err, capsize=3, label=f"solved by {label}")
    ax.set_xticks(x, [str(s) for s in table["rl_step"]])
    ax.set(
        xlabel="RL checkpoint (step)",
        ylabel=f"share of problems (solved = c > 0 of {n})",
        title="coverage: who solves what the other never does, 95% CI",
    )
    ax.legend(fontsize=8)
    return figure


def figure_histogram(table: pd.DataFrame) -> Figure:
    """Per-problem accuracy of the base and the final RL checkpoint, with exact 0 and 1."""
    figure = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = figure.subplots()
    final = table["rl_step"].max()
    chosen = table[table["rl_step"].isin([0, final])]
    order = list(dict.fromkeys(chosen["bin"]))  # exactly 0, the ten bins, exactly 1
    x = np.arange(len(order))
    for offset, (step, rows) in zip((-0.2, 0.2), chosen.groupby("rl_step"), strict=True):
        rows = rows.set_index("bin").loc[order]
        se = np.sqrt(rows["share"] * (1 - rows["share"]) / rows["total"])
        ax.bar(
            x + offset,
            rows["share"],
            width=0.4,
            yerr=1.96 * se,
            capsize=2,
            label="base" if step == 0 else f"RL step {step}",
        )
    ax.set_xticks(x, order, rotation=45, ha="right", fontsize=7)
    ax.set(
        xlabel="per-problem accuracy c / n (bins; exact 0 and 1 apart)",
        ylabel="share of problems",
        title="accuracy histogram, bars: 95% binomial CI",
    )
    ax.legend(fontsize=8)
    return figure


def figure_perplexity(table: pd.DataFrame) -> Figure:
    """Median PPL under the base of each model's samples, interquartile range as bars."""
    figure, ax = _ppl_axes("perplexity of samples under the base: median, bars = IQR")
    for seed, rows in table.groupby("seed"):
        rows = rows.sort_values("rl_step")
        err = [rows["median"] - rows["q25"], rows["q75"] - rows["median"]]
        ax.errorbar(
            rows["rl_step"], rows["median"], yerr=err, marker="o", capsize=3, label=f"seed {seed}"
        )
        ax.axhline(rows["median"].iloc[0], color="grey", linestyle=":", linewidth=1)
    ax.legend(fontsize=8)
    return figure


def figure_class_perplexity(table: pd.DataFrame) -> Figure:
    """PPL under the base of each token class (mean over seeds) at each checkpoint."""
    figure, ax = _ppl_axes("perplexity under the base by token class (mean over seeds)")
    for cls, rows in table.groupby("class"):
        mean = rows.groupby("rl_step")["ppl"].mean()
        ax.plot(mean.index, mean.values, marker="o", label=str(cls))
    if table.empty:
        message = "no sample followed the task's template"
        ax.text(0.5, 0.5, message, ha="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=8)
    return figure


def _ppl_axes(title: str):
    """A figure and axes for PPL under the base against the model (RL step)."""
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = figure.subplots()
    ax.set(
        xlabel="model (RL step, 0 = base's own samples)",
        ylabel="PPL under the base (tokens)",
        title=title,
    )
    return figure, ax

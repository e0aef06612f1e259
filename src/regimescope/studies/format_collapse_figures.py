"""Study 6's figures: rollout format shares and per-format accuracy during RL, format
frequency and accuracy before RL, and every effect with its interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.studies.format_collapse_parts import NAMES
from regimescope.studies.verdict import Effect
from regimescope.tasks import FORMATS

COLORS = {"code": "tab:blue", "nl": "tab:orange", "tagged": "tab:green", "none": "tab:gray"}
MIN_COUNT = 5  # per-format accuracy is drawn only at steps with this many rollouts in it


# ---------------------------------------------------------------- figures


def panels(cfg, title: str):
    """A figure with one panel per (mixture row, scale column): (figure, [(ax, mix, scale)])."""
    import matplotlib.pyplot as plt

    rows, cols = len(cfg.mixtures), len(cfg.scales)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(4.2 * cols, 3.0 * rows),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    fig.suptitle(title)
    cells = [
        (axes[r][c], mix, scale)
        for r, mix in enumerate(cfg.mixtures)
        for c, scale in enumerate(cfg.scales)
    ]
    for ax, mix, scale in cells:
        ax.set_title(f"{scale}, pretrained on {mix}", fontsize=8)
    return fig, cells


def band(ax, x, p, count, color) -> None:
    """95% binomial (normal) interval of a proportion ``p`` from ``count`` samples, in [0, 1]."""
    half = 1.96 * np.sqrt(np.nan_to_num(p * (1 - p)) / np.maximum(count, 1))
    ax.fill_between(
        x, np.clip(p - half, 0, 1), np.clip(p + half, 0, 1), color=color, alpha=0.15, linewidth=0
    )


def mark_steps(ax, cfg, xlabel: str = "RL step") -> None:
    """The end of the first pass (when the runs reach it) and the x label."""
    if cfg.pass_steps <= cfg.rl_steps:
        ax.axvline(cfg.pass_steps, color="black", linewidth=0.8, linestyle="-.")
    ax.set_xlabel(xlabel)


def plot_shares(cfg, rollouts: pd.DataFrame, threshold: float):
    """Rollout format share vs RL step: mixture rows, scale columns, KL line styles."""
    fig, cells = panels(cfg, "Rollout format share during RL")
    count = cfg.prompts_per_step * cfg.samples_per_prompt * len(cfg.seeds)  # samples per point
    for ax, mix, scale in cells:
        mine = rollouts[(rollouts.mixture == mix) & (rollouts.scale == scale)]
        for kl, style in zip(cfg.kl_coefs, ("-", "--", ":"), strict=False):
            for name in NAMES:
                line = mine[(mine.kl_coef == kl) & (mine.format == name)]
                line = line.groupby("step")["share"].mean()
                ax.plot(
                    line.index, line.values, style, color=COLORS[name], label=f"{name}, KL {kl:g}"
                )
                if kl == 0.0:
                    band(ax, line.index, line.values, count, COLORS[name])
        ax.axhline(threshold, color="black", linewidth=0.6, linestyle=":")
        mark_steps(ax, cfg)
        ax.set_ylabel("share of rollouts (fraction)")
    cells[-1][0].legend(fontsize=6, loc="center right")
    return fig


def plot_accuracy(cfg, rollouts: pd.DataFrame):
    """Per-format rollout accuracy vs RL step (KL 0), with 95% binomial bands; a format
    with fewer than ``MIN_COUNT`` rollouts at a step leaves a gap."""
    fig, cells = panels(cfg, "Per-format rollout accuracy during RL (KL 0)")
    total = cfg.prompts_per_step * cfg.samples_per_prompt * len(cfg.seeds)
    zero = rollouts[rollouts.kl_coef == 0.0]
    for ax, mix, scale in cells:
        mine = zero[(zero.mixture == mix) & (zero.scale == scale)]
        for name in FORMATS:
            line = mine[mine.format == name].groupby("step")[["format_accuracy", "share"]].mean()
            count = line.share * total  # rollouts in this format at each step
            acc = line.format_accuracy.where(count >= MIN_COUNT)  # too few samples: a gap
            ax.plot(line.index, acc, color=COLORS[name], label=name)
            band(ax, line.index, acc.values, count.values, COLORS[name])
        overall = mine.groupby("step")["accuracy"].mean()  # the same on every format row
        ax.plot(overall.index, overall.values, color="black", linewidth=1, label="all formats")
        mark_steps(ax, cfg)
        ax.set_ylabel("accuracy within format (fraction)")
    cells[-1][0].legend(fontsize=7)
    return fig


def plot_pre_rl(cfg, bases: pd.DataFrame, runs: pd.DataFrame):
    """Per base scale and mixture: pretraining weight, pre-RL share and forced accuracy of
    each format (mean over seeds, 95% intervals), with the KL-0 winners named."""
    fig, cells = panels(cfg, "Before RL: format frequency and accuracy")
    x = np.arange(len(FORMATS))
    bars = (
        ("share", "pre-RL sample share", "tab:purple", -0.2),
        ("forced_accuracy", "forced-format accuracy", "tab:olive", 0.2),
    )
    for ax, mix, scale in cells:
        mine = bases[(bases.mixture == mix) & (bases.scale == scale)]
        mine = mine.groupby("format").mean(numeric_only=True).reindex(FORMATS)
        for name, label, color, offset in bars:
            err = [mine[name] - mine[f"{name}_lo"], mine[f"{name}_hi"] - mine[name]]
            ax.bar(x + offset, mine[name], 0.4, yerr=err, color=color, capsize=2, label=label)
        ax.scatter(
            x,
            mine.pretrain_weight,
            marker="_",
            s=300,
            color="black",
            zorder=3,
            label="pretraining weight",
        )
        won = runs[(runs.mixture == mix) & (runs.scale == scale) & (runs.kl_coef == 0.0)]
        ax.set_title(f"{scale}, {mix}; KL-0 winner: {', '.join(won.winner)}", fontsize=8)
        ax.set_xticks(x, FORMATS)
        ax.set_xlabel("solution format")
        ax.set_ylabel("fraction")
    cells[-1][0].legend(fontsize=7)
    return fig


def plot_effects(effects: list[Effect], threshold: float, margin: float):
    """Every effect with its 95% interval, fractions on one axis, the primary on top."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(effects) + 1.2), layout="constrained")
    for y, e in enumerate(effects):
        err = [[e.estimate - e.ci95[0]], [e.ci95[1] - e.estimate]]
        ax.errorbar(e.estimate, y, xerr=err, fmt="o", color="black", capsize=3)
    ax.axvline(threshold, color="tab:red", linestyle=":", label=f"collapse share {threshold:g}")
    ax.axvline(margin, color="tab:blue", linestyle=":", label=f"scale margin {margin:g} (TV)")
    ax.axvline(0, color="gray", linewidth=0.6)
    ax.set_yticks(range(len(effects)), [e.name for e in effects], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("estimate (fraction; 95% bootstrap interval over runs and problems)")
    ax.legend(fontsize=7)
    return fig

"""Study 5's figures: the metrics over RL steps per arm, the recorder's rollout
entropies, and the n-gram proxy's precision and recall.
"""

from __future__ import annotations

import pandas as pd

from regimescope.studies.two_phase_parts import ARMS, METRICS
from regimescope.studies.verdict import Effect

# ---------------------------------------------------------------- figures

COLORS = {"grpo": "tab:blue", "hicra": "tab:red", "entropy": "tab:green"}
PANELS = (
    "accuracy",
    "plan accuracy",
    "execution accuracy",
    "plan-choice entropy",
    "execution-token entropy",
    "execution-token relative perplexity",
    "planning-token entropy",
    "aggregate token entropy",
)


def plot_arc(curves: pd.DataFrame, boundary: Effect | None):
    """Eight metrics over RL steps, one line per arm, 95% bands; the GRPO phase boundary."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharex=True)
    for ax, metric in zip(axes.flat, PANELS, strict=True):
        for arm, rows in curves[curves.metric == metric].groupby("arm", sort=False):
            ax.plot(
                rows.step, rows.estimate, marker="o", ms=3, color=COLORS[arm], label=ARMS[arm].label
            )
            ax.fill_between(rows.step, rows.low, rows.high, color=COLORS[arm], alpha=0.15)
        if boundary is not None:
            ax.axvline(boundary.estimate, color="black", ls="--", lw=1, label="GRPO phase boundary")
            ax.axvspan(*boundary.ci95, color="grey", alpha=0.12)
        ax.set_title(metric, fontsize=10)
        ax.set_ylabel(METRICS[metric][2])
    for ax in axes[1]:
        ax.set_xlabel("RL step")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_rollouts(table: pd.DataFrame):
    """The recorder's rollout entropies per step (training prompts), mean and range over seeds."""
    import matplotlib.pyplot as plt

    keys = {
        "entropy": "all tokens",
        "entropy/plan": "planning tokens",
        "entropy/exec": "execution tokens",
    }
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), sharex=True)
    for ax, (key, title) in zip(axes, keys.items(), strict=True):
        for arm, rows in table.groupby("arm", sort=False):
            by_step = rows.groupby("step")[key]
            ax.plot(
                by_step.mean().index, by_step.mean(), color=COLORS[arm], lw=1, label=ARMS[arm].label
            )
            ax.fill_between(
                by_step.min().index, by_step.min(), by_step.max(), color=COLORS[arm], alpha=0.15
            )
        ax.set_title(f"rollout entropy, {title}", fontsize=10)
        ax.set_xlabel("RL step")
        ax.set_ylabel("nats per token")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_proxy(rows: pd.DataFrame):
    """Precision and recall of the strategic n-gram miner against the true plan tokens."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, color in (("precision", "tab:purple"), ("recall", "tab:orange")):
        err = [rows[name] - rows[f"{name}_low"], rows[f"{name}_high"] - rows[name]]
        ax.errorbar(
            rows.top_fraction, rows[name], yerr=err, marker="o", capsize=3, color=color, label=name
        )
    ax.plot(
        rows.top_fraction, rows.chance_precision, ls="--", color="grey", label="chance precision"
    )
    ax.set_xlabel("share of mined n-grams kept (by document frequency)")
    ax.set_ylabel("fraction of tokens")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    fig.tight_layout()
    return fig

"""Study 5's tables, figures and notes: the metrics over RL steps per arm (with crossed
bootstrap bands), each metric's change over the two phases, the recorder's rollout
entropies, and the n-gram proxy's precision and recall.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.studies.stats import Resampled, resample_indices
from regimescope.studies.two_phase.analysis import ArmData, Found, arc, curve
from regimescope.studies.two_phase.experiment import ARMS, METRICS
from regimescope.studies.verdict import Effect, effects_frame

COLORS = {"grpo": "tab:blue", "hicra": "tab:red", "entropy": "tab:green"}
PANELS = (
    "accuracy",
    "plan accuracy",
    "execution accuracy",
    "valid-plan coverage",
    "valid-plan diversity",
    "plan-choice entropy",
    "execution-token entropy",
    "execution-token relative perplexity",
    "planning-token entropy",
    "aggregate token entropy",
)


def save(ctx, cfg, frame, arms, proxy, rollouts, found: Found) -> None:
    """Tables and figures of the study folder."""
    curves = curve_table(arms, cfg.band_bootstrap)
    phases = [{"arm": arm, **row} for arm, data in arms.items() for row in phase_changes(data)]
    for name, table in (
        ("per_problem", frame),
        ("curves", curves),
        ("phases", pd.DataFrame(phases)),
        ("effects", effects_frame(found.all)),
        ("ngram_proxy", proxy),
        ("rollouts", rollouts),
    ):
        ctx.save_table(name, table)
    boundary = found.arc["boundary"]
    ctx.save_figure(
        "arc",
        plot_arc(curves, boundary if np.isfinite(boundary.estimate) else None),
        "Accuracy, plan and execution accuracy, valid-plan coverage and diversity, "
        "plan-choice entropy and token entropies of each arm's checkpoints on held-out "
        "problems over RL steps (bands: 95% bootstrap over seeds and problems, crossed; "
        "dashed line and grey span: GRPO's phase boundary and its interval).",
    )
    ctx.save_figure(
        "rollouts",
        plot_rollouts(rollouts),
        "Token entropy of the rollout policy on training prompts at every RL step, overall and "
        "on planning and execution tokens (line: mean over seeds; band: range over seeds).",
    )
    ctx.save_figure(
        "ngram_proxy",
        plot_proxy(proxy),
        "Precision and recall of strategic n-grams mined from GRPO's correct samples against "
        "the true plan tokens, by the share of mined n-grams kept (95% bootstrap intervals; "
        "dashed: the share of plan tokens, the precision of a random mask).",
    )


def notes(scale: str, cfg, unmeasured: list[str]) -> str:
    """What this scale leaves out of the design, and which effects could not be measured."""
    lines = []
    if scale == "smoke":
        lines.append(
            f"Smoke scale: a {cfg.base.steps}-step nano base and {cfg.rl.steps} RL "
            "steps per arm; it checks the pipeline, not the claim."
        )
    else:
        lines.append(
            f"{len(cfg.seeds)} seeds × {cfg.rl.steps} RL steps per arm on a "
            f"{cfg.base.organism.width}-wide organism; the paper runs hundreds of "
            "steps on 3-8B models, so phase 2 may not be reached here."
        )
    lines.append("The countdown reward checks the plan and the answer, not the step lines.")
    if unmeasured:
        lines.append(
            "Not measurable at this scale (left out of the effects): " + "; ".join(unmeasured) + "."
        )
    return " ".join(lines)


# ---------------------------------------------------------------- tables


def phase_changes(data: ArmData) -> list[dict]:
    """Each metric's change over phase 1 (step 0 -> boundary) and phase 2 (boundary -> end)."""
    boundary = arc(data)["boundary"]
    if not np.isfinite(boundary):
        return []
    at = int(np.searchsorted(data.steps, boundary))
    rows = []
    for metric, (_, _, unit) in METRICS.items():
        values = curve(data, metric)
        change_1, change_2 = values[at] - values[0], values[-1] - values[at]
        rows.append(
            dict(metric=metric, unit=unit, boundary=boundary, phase_1=change_1, phase_2=change_2)
        )
    return rows


def curve_table(arms: dict[str, ArmData], resamples: int) -> pd.DataFrame:
    """Every arm's every metric at every checkpoint, with a 95% band over seeds and
    problems (crossed; one whole curve per resample)."""
    rows = []
    for arm, data in arms.items():
        picks = list(zip(*resample_indices(data.seeds, data.problems, resamples), strict=True))
        for metric, (_, _, unit) in METRICS.items():
            point = curve(data, metric)
            draws = np.array([curve(data, metric, data.cells(s, p)) for s, p in picks])  # (R, C)
            for i, step in enumerate(data.steps):
                low, high = Resampled(float(point[i]), draws[:, i]).interval()
                rows.append((arm, metric, unit, int(step), float(point[i]), low, high))
    return pd.DataFrame(rows, columns=["arm", "metric", "unit", "step", "estimate", "low", "high"])


# ---------------------------------------------------------------- figures


def plot_arc(curves: pd.DataFrame, boundary: Effect | None):
    """Ten metrics over RL steps, one line per arm, 95% bands; the GRPO phase boundary."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 5, figsize=(20, 7), sharex=True)
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

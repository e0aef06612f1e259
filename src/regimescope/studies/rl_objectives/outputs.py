"""Study 3b's tables, figures and notes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.instruments import passk as pk
from regimescope.studies.rl_objectives.analysis import (
    METRICS,
    Effects,
    pass_at,
    per_problem,
)
from regimescope.studies.rl_objectives.experiment import LABELS, OBJECTIVES, Counts, Trained
from regimescope.studies.stats import bootstrap_mean
from regimescope.studies.verdict import effects_frame

COLORS = {
    "base": "black",
    "grpo": "tab:blue",
    "psr": "tab:orange",
    "nsr": "tab:green",
    "w_reinforce": "tab:purple",
}


def save(ctx, counts: Counts, trained: list[Trained], found: Effects, resamples: int) -> None:
    """Every table and figure of the study folder."""
    curves = curve_table(counts, resamples)
    training = training_table(trained)
    ctx.save_table("counts", counts_table(counts))
    ctx.save_table("passk", curves)
    ctx.save_table("training", training)
    ctx.save_table("effects", effects_frame(found.all))
    ctx.save_figure(
        "passk",
        plot_passk(curves),
        "pass@k against k for the base and each objective (mean over seeds; bands: 95% "
        "bootstrap over seeds and problems, crossed), on held-out problems.",
    )
    ctx.save_figure(
        "training",
        plot_training(training),
        "Rollout token entropy (nats) and rollout accuracy per RL step for each objective "
        "(line: mean over seeds; band: range over seeds; both smoothed over 5 steps).",
    )
    ctx.save_figure(
        "summary",
        plot_summary(found),
        "pass@1, pass@n and fully-solved ratio of each objective minus the base, with 95% "
        "intervals over seeds and problems (crossed).",
    )


# ---------------------------------------------------------------- tables and notes


def counts_table(counts: Counts) -> pd.DataFrame:
    """Correct samples per (model, seed, problem); the base has seed -1."""
    rows = [
        dict(model="base", seed=-1, problem=p, correct=int(c)) for p, c in enumerate(counts.base)
    ]
    for objective, table in counts.tuned.items():
        for s, row in enumerate(table):
            rows += [
                dict(model=objective, seed=s, problem=p, correct=int(c)) for p, c in enumerate(row)
            ]
    return pd.DataFrame(rows).assign(n=counts.n)


def curve_table(counts: Counts, resamples: int) -> pd.DataFrame:
    """Mean pass@k over seeds and problems for every model and k, with 95% intervals."""
    models = {"base": counts.base[None], **counts.tuned}
    rows = []
    for model, correct in models.items():
        for k in pk.k_grid(counts.n):
            found = bootstrap_mean(pass_at(correct, counts.n, k), resamples)
            low, high = found.interval()
            rows.append(dict(model=model, k=k, estimate=found.estimate, low=low, high=high))
    return pd.DataFrame(rows)


def training_table(trained: list[Trained]) -> pd.DataFrame:
    """Rollout entropy, accuracy and reward per (objective, seed, step)."""
    keys = ("entropy", "accuracy", "reward")
    rows = [
        dict(objective=t.objective, seed=t.seed, step=r["step"], **{k: r.get(k) for k in keys})
        for t in trained
        for r in t.run.read_metrics()
    ]
    return pd.DataFrame(rows)


def notes(scale: str, counts: Counts, trained: list[Trained], steps_per_objective: int) -> str:
    """The base's numbers, skipped steps and EOS shares (the design label is run_study's)."""
    out = []
    if scale == "smoke":
        out.append(
            "Smoke scale: a nano base that earns no reward and a few steps; the verdict "
            "checks the pipeline, not the claim."
        )
    base1 = per_problem(counts, "pass@1", counts.base).mean()
    basen = per_problem(counts, "pass@n", counts.base).mean()
    out.append(
        f"Base: pass@1 {base1:.3f}, pass@{counts.n} {basen:.3f} on {len(counts.base)} "
        f"held-out problems."
    )
    skipped = {
        o: sum(
            r.get("skipped", 0) for t in trained if t.objective == o for r in t.run.read_metrics()
        )
        for o in OBJECTIVES
    }
    out.append(
        "Steps without a kept sample (no update): "
        + ", ".join(f"{LABELS[o]} {skipped[o]}/{steps_per_objective}" for o in OBJECTIVES)
        + "."
    )
    ended = ", ".join(f"{name} {share:.2f}" for name, share in counts.finished.items())
    out.append(f"Share of evaluation samples that ended with EOS: {ended}.")
    out.append(
        "The learning rate was chosen on the test problems; it is being re-chosen on the "
        "validation split (NOTES.md)."
    )
    return " ".join(out)


# ---------------------------------------------------------------- figures


def plot_passk(curves: pd.DataFrame):
    """pass@k against k (log 2) per model, with 95% bands."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for model in ("base", *OBJECTIVES):
        rows = curves[curves.model == model]
        ax.plot(rows.k, rows.estimate, "o-", ms=3, color=COLORS[model], label=LABELS[model])
        ax.fill_between(rows.k, rows.low, rows.high, color=COLORS[model], alpha=0.15, lw=0)
    ax.set(
        xlabel="k (samples per problem, log scale)",
        ylim=(-0.02, 1.02),
        ylabel="pass@k (share of held-out problems solved)",
    )
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
    return fig


def plot_training(training: pd.DataFrame, window: int = 5):
    """Rollout entropy and accuracy per step: mean over seeds, band over the seed range,
    both as centred rolling means over ``window`` steps."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    units = {"entropy": "rollout token entropy (nats)", "accuracy": "rollout accuracy (share)"}
    for ax, key in zip(axes, units, strict=True):
        for objective in OBJECTIVES:
            rows = training[training.objective == objective].groupby("step")[key]
            mean, low, high = (
                x.rolling(window, min_periods=1, center=True).mean()
                for x in (rows.mean(), rows.min(), rows.max())
            )
            ax.plot(mean.index, mean, color=COLORS[objective], label=LABELS[objective], lw=1)
            ax.fill_between(mean.index, low, high, color=COLORS[objective], alpha=0.15, lw=0)
        ax.set(xlabel="RL step", ylabel=f"{units[key]}, {window}-step mean")
    axes[0].legend(fontsize=8)
    return fig


def plot_summary(found: Effects):
    """Each objective minus the base in pass@1, pass@n and fully-solved ratio, with CIs."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(12, 3.4), layout="constrained")
    x = np.arange(len(OBJECTIVES))
    for ax, metric in zip(axes, METRICS, strict=True):
        chosen = [found.vs_base[metric, o] for o in OBJECTIVES]
        est = np.array([e.estimate for e in chosen])
        bars = [est - [e.ci95[0] for e in chosen], [e.ci95[1] for e in chosen] - est]
        ax.errorbar(x, est, yerr=bars, fmt="o", capsize=4, color="black")
        ax.axhline(0, color="grey", lw=1, ls="--")
        name = chosen[0].name.split(", ")[-1]
        ax.set(xticks=x, title=name, ylabel="objective − base (share of problems)")
        ax.set_xticklabels([LABELS[o] for o in OBJECTIVES], fontsize=8)
    return fig

"""Tables, figures and the verdict's words for the learning-mechanics study (study 9)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.instruments.loss_collapse import normalise
from regimescope.studies.verdict import Decision, fmt

CAPTIONS = {
    "edge_of_stability": (
        "Full-batch gradient descent at each step size η: sharpness λ_max in units of 2/η "
        "(top; 1 is the edge of stability) and the training loss (bottom), every seed."
    ),
    "scaling": (
        "Final evaluation loss against parameters (each seed a dot), the law E + A·N^-α "
        "fitted on the smaller sizes, and its prediction at the largest size (bar: 95% "
        "interval, seeds resampled within sizes) beside the measured loss (red)."
    ),
    "critical_batch": (
        "Fewest SGD steps to the target loss against batch size (best learning rate of the "
        "grid), each seed with its fitted S(B) = S_min(1 + B_crit/B); dashed: B_crit, "
        "dotted: B_simple read on the smallest batch, the prediction."
    ),
    "collapse": (
        "Evaluation loss of the size sweep (left) and the same curves normalised to "
        "(t/T, (L - E)/(L(T) - E)) (right), coloured by width."
    ),
}


def save(ctx, tables: dict[str, pd.DataFrame], found) -> None:
    """Tables (``eos_trace``, ``eos_runs``, ``sizes``, ``steps``, ``batch_runs``,
    ``batch_fits``, ``noise``) and the four figures."""
    eos = tables["eos"]
    ctx.save_table("eos_trace", eos.dropna(subset=["sharpness"]))
    ctx.save_table("eos_runs", found.eos_stats)
    ctx.save_table("sizes", tables["sizes"])
    ctx.save_table("batch_runs", tables["batches"])
    ctx.save_table("steps", found.steps)
    ctx.save_table("batch_fits", found.batch_stats)
    ctx.save_table("noise", tables["noise"])
    figures = {
        "edge_of_stability": plot_edge(eos),
        "scaling": plot_scaling(found),
        "critical_batch": plot_batches(found),
        "collapse": plot_collapse(tables["sizes"], found.scaling_point["law"].irreducible),
    }
    for name, figure in figures.items():
        ctx.save_figure(name, figure, CAPTIONS[name])


def reason(overall: Decision, parts: dict[str, Decision], found) -> str:
    """The overall branch, each part that did not support (once per reason), and the
    numbers a reader checks first."""
    open_parts = dict.fromkeys(d.reason for d in parts.values() if d.verdict != "supports")
    details = f" ({'; '.join(open_parts)})" if open_parts else ""
    point = found.scaling_point
    fits = found.batch_stats
    return (
        f"{overall.reason}{details}. Sharpness at the edge: {fmt(found.effects['hover'])} "
        f"from 2/η; the law predicted {point['prediction']:.4f} and "
        f"{point['measured']:.4f} was measured; B_crit {fits.b_crit.median():.3g} against "
        f"B_simple {fits.b_simple.median():.3g} (medians over seeds)."
    )


FOLLOW_UPS = {  # part -> the question its failure (or indecision) opens
    "scaling law predicts the larger model": (
        "the size sweep gives every width one Adam learning rate and the same examples per "
        "parameter (standard parameterisation, not compute-optimal): does a per-width "
        "learning-rate sweep or μP bring the largest width back onto the law?"
    ),
    "loss curves collapse across sizes": (
        "the normalised curves fan out by width under one learning rate for all widths: do "
        "they collapse once each width trains compute-optimally (Qiu et al.'s condition)?"
    ),
    "noise scale predicts the critical batch": (
        "is B_simple read later in training, nearer the target loss, a better predictor?"
    ),
}


def follow_up(parts: dict[str, Decision]) -> str:
    """The question the outcome opens: that of the first refuted part (else the first
    undecided one), or, when all held, whether the laws hold on the LM organisms."""
    for wanted in ("contradicts", "inconclusive"):  # a refuted prediction comes first
        for name, decision in parts.items():
            if decision.verdict == wanted and name in FOLLOW_UPS:
                return f"{name} ({wanted}): {FOLLOW_UPS[name]}"
    if any(d.verdict != "supports" for d in parts.values()):
        return (
            "The edge-of-stability parts did not all hold on MLP students: does full-batch "
            "training of the transformer organisms behave the same way?"
        )
    return (
        "The laws held on MLP students: do the same registered predictions hold for the "
        "transformer organisms the other studies train, where Adam's preconditioned "
        "sharpness replaces 2/η?"
    )


def design_notes(cfg, scale: str) -> str:
    """What the reader needs to read this run's intervals."""
    notes = [
        f"{len(cfg.seeds)} seeds: intervals resample seeds, so they are coarse with few seeds",
        "MLP students on a random-teacher regression task, not language models",
    ]
    if scale == "smoke":
        notes.append("tiny sweeps and a narrow teacher: a plumbing check, not evidence")
    return "; ".join(notes)


def plot_edge(eos: pd.DataFrame):
    """Sharpness / (2/η) and training loss against step, a column per η."""
    plt = pyplot()
    rates = sorted(eos.rate.unique())
    fig, axes = plt.subplots(2, len(rates), figsize=(4.0 * len(rates), 6.0), squeeze=False)
    for column, rate in enumerate(rates):
        top, bottom = axes[0][column], axes[1][column]
        for seed, run in eos[eos.rate == rate].groupby("seed"):
            readings = run.dropna(subset=["sharpness"])
            top.plot(readings.step, readings.sharpness * rate / 2, lw=1, label=f"seed {seed}")
            losses = run.dropna(subset=["train_loss"])
            bottom.plot(losses.step, losses.train_loss, lw=0.6)
        top.axhline(1.0, color="black", ls="--", lw=0.8)
        top.set_title(f"η = {rate:g} (2/η = {2 / rate:g})")
        bottom.set_yscale("log")
        bottom.set_xlabel("step")
    axes[0][0].set_ylabel("sharpness / (2/η)")
    axes[1][0].set_ylabel("training loss (MSE)")
    axes[0][-1].legend(fontsize=7)
    return fig


def plot_scaling(found):
    """Final loss against parameters, the fitted law and the prediction."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    point = found.scaling_point
    for n, losses in found.losses.items():
        ax.scatter([n] * len(losses), losses, s=12, color="tab:blue")
    sizes = np.array(sorted(found.losses), dtype=float)
    grid = np.geomspace(sizes.min(), sizes.max(), 100)
    ax.plot(grid, [point["law"].predict(n) for n in grid], color="black", lw=1, label="fitted law")
    predicted = sizes.max()
    low, high = point["prediction_ci"]
    spread = [[max(0.0, point["prediction"] - low)], [max(0.0, high - point["prediction"])]]
    ax.errorbar(
        [predicted], [point["prediction"]], yerr=spread, fmt="s", color="black", label="prediction"
    )
    ax.scatter([predicted], [point["measured"]], color="tab:red", zorder=3, label="measured")
    ax.set(xscale="log", yscale="log", xlabel="parameters N", ylabel="final evaluation loss (MSE)")
    ax.legend(fontsize=8)
    return fig


def plot_batches(found):
    """Steps to the target against batch size per seed, fits, B_crit and B_simple."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for (seed, steps), fit in zip(
        found.steps.groupby("seed"), found.batch_stats.itertuples(), strict=True
    ):
        line = ax.plot(steps.batch_size, steps.steps, marker="o", lw=0, label=f"seed {seed}")[0]
        grid = np.geomspace(steps.batch_size.min(), steps.batch_size.max(), 100)
        if np.isfinite(fit.b_crit):
            ax.plot(grid, fit.s_min * (1 + fit.b_crit / grid), color=line.get_color(), lw=0.8)
            ax.axvline(fit.b_crit, color=line.get_color(), ls="--", lw=0.8)
        if np.isfinite(fit.b_simple):
            ax.axvline(fit.b_simple, color=line.get_color(), ls=":", lw=1.2)
    ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="fewest steps to the target")
    ax.legend(fontsize=8)
    return fig


def plot_collapse(sizes: pd.DataFrame, irreducible: float):
    """Raw and normalised loss curves of the size sweep."""
    plt = pyplot()
    fig, (raw, scaled) = plt.subplots(1, 2, figsize=(10.0, 4.0))
    colours = plt.cm.viridis(np.linspace(0, 0.9, sizes.width.nunique()))
    for colour, (width, rows) in zip(colours, sizes.groupby("width"), strict=True):
        for i, (_, run) in enumerate(rows.sort_values("step").groupby("seed")):
            label = f"width {width}" if i == 0 else None
            raw.plot(run.step, run.eval_loss, color=colour, lw=0.8, label=label)
            x, y = normalise(run.step.to_numpy(), run.eval_loss.to_numpy(), irreducible)
            scaled.plot(x, y, color=colour, lw=0.8)
    raw.set(xscale="log", yscale="log", xlabel="step", ylabel="evaluation loss (MSE)")
    scaled.set(yscale="log", xlabel="t / T", ylabel="(L - E) / (L(T) - E)", xlim=(0.1, 1.0))
    raw.legend(fontsize=7)
    return fig


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

"""Study 6's tables and figures: per base and format, per RL run, held-out formats per
model and stage, the recorder's rollout statistics, the effects; rollout format shares and
per-format accuracy during RL, format frequency and accuracy before RL, every effect with
its interval; and the notes on what a scale leaves out of the design.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from regimescope.studies.format_collapse.analysis import (
    best_accuracy,
    collapse_step,
    most_frequent,
    winner,
)
from regimescope.studies.format_collapse.experiment import NAMES, Measured, rollout_frame
from regimescope.studies.stats import bootstrap_mean
from regimescope.studies.verdict import Effect, effects_frame
from regimescope.tasks import FORMATS, get_task

COLORS = {"code": "tab:blue", "nl": "tab:orange", "tagged": "tab:green", "none": "tab:gray"}
MIN_COUNT = 5  # per-format accuracy is drawn only at steps with this many rollouts in it

# ---------------------------------------------------------------- the study folder


def save(cfg, ctx, measured: Measured, runs: dict, effects: list[Effect], share, margin) -> None:
    """Tables and figures of the study folder (``share``: the collapse threshold,
    ``margin``: the scale margin, both drawn on the figures)."""
    bases = base_table(cfg, measured)
    summary = runs_table(cfg, measured, runs, share)
    rollouts = rollout_table(runs)
    ctx.save_table("bases", bases)
    ctx.save_table("runs", summary)
    ctx.save_table("held_out_formats", eval_table(measured))
    ctx.save_table("rollouts", rollouts)
    ctx.save_table("effects", effects_frame(effects))
    ctx.save_figure(
        "format_shares",
        plot_shares(cfg, rollouts, share),
        "Share of RL rollouts in each format per step (line: mean over seeds; band: "
        "95% binomial interval, KL 0; dash-dot line: end of the first pass).",
    )
    ctx.save_figure(
        "format_accuracy",
        plot_accuracy(cfg, rollouts),
        "Accuracy of RL rollouts within each format per step at KL 0 (band: 95% "
        "binomial interval), and over all formats (black).",
    )
    ctx.save_figure(
        "pre_rl",
        plot_pre_rl(cfg, bases, summary),
        "Before RL: each format's pretraining weight, share of the base's samples "
        "and forced-format accuracy (95% intervals over problems); title: KL-0 winners.",
    )
    ctx.save_figure(
        "effects",
        plot_effects(effects, share, margin),
        "Every effect with its 95% bootstrap interval over runs and problems (crossed).",
    )


def skipped(cfg, min_runs: int) -> list[str]:
    """The parts of the full design this config leaves out, in words (the verdict's
    ``full_design`` is computed by ``run_study`` against ``full()``)."""
    gaps = []
    if cfg.coverage < 1:
        gaps.append(f"RL runs cover {cfg.coverage:.0%} of the first pass")
    if len(cfg.seeds) < 2:
        gaps.append("one seed (scale cannot be told from seed)")
    if len(cfg.mixtures) < 3:
        gaps.append("no swapped-proportion mixtures")
    if len(cfg.kl_coefs) < 2:
        gaps.append("no KL > 0 arm")
    if len(cfg.seeds) * len(cfg.scales) * len(cfg.mixtures) < min_runs:
        gaps.append(f"fewer than {min_runs} KL-0 runs (predictor not decided)")
    return gaps


def notes(scale: str, cfg, measured: Measured, floor: float, min_runs: int) -> str:
    """What this scale leaves out of the design, and how competent the bases were."""
    accuracy = {c: b.free.correct.mean() for c, b in measured.bases.items()}
    weak = sorted({c.scale for c, a in accuracy.items() if a < floor})
    gaps = skipped(cfg, min_runs)
    text = [f"{scale} scale: " + "; ".join(gaps) if gaps else f"{scale} scale"]
    text.append(
        "pre-RL accuracy by base: "
        + ", ".join(f"{c.scale}/{c.mixture}/{c.seed} {a:.2f}" for c, a in accuracy.items())
    )
    if weak:
        text.append(
            f"bases of {', '.join(weak)} solve < {floor:g}: their runs are reported but not "
            "counted for collapse or for the RL premise"
        )
    if scale == "smoke":
        text.append("smoke checks the pipeline only; its organisms are barely trained")
    return ". ".join(text) + "."


# ---------------------------------------------------------------- tables


def base_table(cfg, measured: Measured) -> pd.DataFrame:
    """Per base and format: pretraining weight, sampled share, forced accuracy, 95% CIs."""
    rows = []
    for cond, base in measured.bases.items():
        weights = np.array(get_task(cond.mixture).config.format_weights, dtype=float)
        for i, name in enumerate(FORMATS):
            share = base.free.shares()[:, i]
            forced = base.forced[name].correct.mean(axis=1)
            rows.append(
                {
                    **asdict(cond),
                    "format": name,
                    "pretrain_weight": weights[i] / weights.sum(),
                    **interval("share", share, cfg.bootstrap),
                    **interval("forced_accuracy", forced, cfg.bootstrap),
                }
            )
    return pd.DataFrame(rows)


def interval(name: str, per_problem, resamples: int) -> dict[str, float]:
    """A per-problem mean with its 95% bootstrap interval over problems, as columns."""
    found = bootstrap_mean(np.asarray(per_problem, dtype=float), resamples)
    low, high = found.interval()
    return {name: found.estimate, f"{name}_lo": low, f"{name}_hi": high}


def runs_table(cfg, measured: Measured, runs: dict, threshold: float) -> pd.DataFrame:
    """One row per RL run: winner, predictors, shares before / after the first pass / end."""
    rows = []
    for (cond, kl), run in runs.items():
        base, first, final = (
            measured.bases[cond],
            measured.first[cond, kl],
            measured.final[cond, kl],
        )
        won = winner(final)
        rows.append(
            {
                **asdict(cond),
                "kl_coef": kl,
                "winner": NAMES[won],
                "best_pre_rl_accuracy": NAMES[best_accuracy(base)],
                "most_frequent_pre_rl": NAMES[most_frequent(base)],
                "base_accuracy": base.free.correct.mean(),
                "winner_share_base": base.free.winner_share(won).mean(),
                "winner_share_first_pass": first.winner_share(won).mean(),
                "winner_share_final": final.winner_share(won).mean(),
                "accuracy_first_pass": first.correct.mean(),
                "accuracy_final": final.correct.mean(),
                "pass_steps": cfg.pass_steps,
                "first_pass_read_at": cfg.first_pass_step,
                "collapse_step": collapse_step(rollout_frame(run), threshold),
            }
        )
    return pd.DataFrame(rows)


def eval_table(measured: Measured) -> pd.DataFrame:
    """Held-out format shares and within-format accuracy of every model and stage."""
    rows = []
    stages = [((c, None), "base", b.free) for c, b in measured.bases.items()]
    stages += [(k, "first pass", s) for k, s in measured.first.items()]
    stages += [(k, "final", s) for k, s in measured.final.items()]
    for (cond, kl), stage, samples in stages:
        for i, name in enumerate(NAMES):
            mine = samples.formats == i
            within = samples.correct[mine].mean() if mine.any() else np.nan
            rows.append(
                {
                    **asdict(cond),
                    "kl_coef": kl,
                    "stage": stage,
                    "format": name,
                    "share": mine.mean(),
                    "accuracy_within": within,
                }
            )
    return pd.DataFrame(rows)


def rollout_table(runs: dict) -> pd.DataFrame:
    """Every run's recorder rollout statistics, tidy, with its condition."""
    frames = [
        rollout_frame(run).assign(**asdict(cond), kl_coef=kl) for (cond, kl), run in runs.items()
    ]
    return pd.concat(frames, ignore_index=True)


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
    if cfg.pass_steps <= cfg.rl.steps:
        ax.axvline(cfg.pass_steps, color="black", linewidth=0.8, linestyle="-.")
    ax.set_xlabel(xlabel)


def plot_shares(cfg, rollouts: pd.DataFrame, threshold: float):
    """Rollout format share vs RL step: mixture rows, scale columns, KL line styles."""
    fig, cells = panels(cfg, "Rollout format share during RL")
    count = cfg.rl.prompts_per_step * cfg.rl.samples_per_prompt * len(cfg.seeds)  # per point
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
    total = cfg.rl.prompts_per_step * cfg.rl.samples_per_prompt * len(cfg.seeds)
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

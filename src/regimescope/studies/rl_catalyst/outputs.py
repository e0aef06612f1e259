"""Study 2's tables and figures: pass@k per model and k, the raw per-problem counts (both
base draws), coverage against the base with creation and loss against the null, accuracy
histograms, perplexity under the base, the RL training logs, and every effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from regimescope.instruments import coverage as cov
from regimescope.instruments import passk as pk
from regimescope.studies.creation import coverage_effects
from regimescope.studies.rl_catalyst.experiment import SeedRun
from regimescope.studies.stats import bootstrap_mean
from regimescope.studies.verdict import Effect, effects_frame

# ---------------------------------------------------------------- the study folder


def save(ctx, runs: list[SeedRun], counts, reference, found, problems: int, resamples: int):
    """Tables and figures of the study folder."""
    n = runs[0].result.models[0].n
    passk = passk_table(runs, counts, n, resamples)
    coverage = coverage_table(runs, counts, reference, resamples)
    histogram = histogram_table(runs, counts, n)
    perplexity = perplexity_table(runs)
    by_class = class_perplexity_table(runs)
    training = training_table(runs)
    ctx.save_table("passk", passk)
    ctx.save_table("per_problem", per_problem_table(runs, counts, reference, n))
    ctx.save_table("coverage", coverage)
    ctx.save_table("accuracy_histogram", histogram)
    ctx.save_table("perplexity", perplexity)
    ctx.save_table("perplexity_by_class", by_class)
    ctx.save_table("rl_training", training)
    ctx.save_table("effects", effects_frame(found))
    ctx.save_figure(
        "passk_curves",
        figure_passk(passk, found["crossover"], n),
        f"pass@k of the base and each GRPO checkpoint on {problems} held-out problems; "
        "bands are 95% crossed bootstrap intervals over seeds and problems.",
    )
    ctx.save_figure(
        "rl_steps",
        figure_steps(passk, training, n),
        f"Rollout reward during GRPO (left), and held-out pass@1 and pass@{n} "
        "at each checkpoint (right, 95% CI).",
    )
    ctx.save_figure(
        "coverage",
        figure_coverage(coverage, n),
        "Creation rate (left) and loss rate (right) of each checkpoint against a reference "
        f"draw of the base ({n} samples, another sampling seed), beside the base's own draw "
        "(the null, grey); 95% CI.",
    )
    ctx.save_figure(
        "accuracy_histogram",
        figure_histogram(histogram),
        "Per-problem accuracy of the base and the final RL checkpoint, with the "
        "mass at exactly 0 and exactly 1 shown separately.",
    )
    ctx.save_figure(
        "perplexity",
        figure_perplexity(perplexity),
        "Perplexity under the base of each model's samples (median, bars = "
        "interquartile range); the dotted line is the base's own median.",
    )
    ctx.save_figure(
        "perplexity_by_class",
        figure_class_perplexity(by_class),
        "Perplexity under the base of the plan, exec, format and answer tokens of each "
        "model's samples (pooled over tokens; samples that do not follow the task's "
        "template are left out), mean over seeds.",
    )


# ---------------------------------------------------------------- tables


def passk_row(seed: str, name: str, step: int, k: int, value: float, ci) -> dict:
    keys = ("seed", "model", "rl_step", "k", "pass_at_k", "ci_low", "ci_high")
    return dict(zip(keys, (seed, name, step, k, value, *ci), strict=True))


def passk_table(runs: list[SeedRun], counts: np.ndarray, n: int, resamples: int) -> pd.DataFrame:
    """pass@k per model and k: per seed (interval over problems) and pooled (crossed)."""
    rows = [
        passk_row(str(r.seed), m.name, step, k, v, m.passk_ci[k])
        for r in runs
        for step, m in zip(r.steps, r.result.models, strict=True)
        for k, v in m.passk.items()
    ]
    for index, (step, m) in enumerate(zip(runs[0].steps, runs[0].result.models, strict=True)):
        for k in runs[0].result.ks:
            per_problem = np.array([pk.pass_at_k_table(c, n, [k])[:, 0] for c in counts[:, index]])
            found = bootstrap_mean(per_problem, resamples)  # over (S, P), crossed
            rows.append(passk_row("pooled", m.name, step, k, found.estimate, found.interval()))
    return pd.DataFrame(rows)


def per_problem_table(
    runs: list[SeedRun], counts: np.ndarray, reference: np.ndarray, n: int
) -> pd.DataFrame:
    """Correct samples of every (seed, model, problem), the base's reference draw as
    model ``base (reference draw)``: the raw data of every effect."""
    rows = [
        {"seed": r.seed, "model": m.name, "rl_step": step, "problem": p, "correct": int(c), "n": n}
        for r, seed_counts in zip(runs, counts, strict=True)
        for step, m, model_counts in zip(r.steps, r.result.models, seed_counts, strict=True)
        for p, c in enumerate(model_counts)
    ]
    rows += [
        {"seed": r.seed, "model": "base (reference draw)", "rl_step": 0, "problem": p}
        | {"correct": int(c), "n": n}
        for r, seed_counts in zip(runs, reference, strict=True)
        for p, c in enumerate(seed_counts)
    ]
    return pd.DataFrame(rows)


COVERAGE_COLUMNS = (
    "creation_excess",
    "only_excess",
    "creation",
    "creation_null",
    "loss",
    "loss_null",
    "net_coverage",
)


def coverage_table(
    runs: list[SeedRun], counts: np.ndarray, reference: np.ndarray, resamples: int
) -> pd.DataFrame:
    """Per RL checkpoint, pooled over seeds: solved sets against the base's own draw, and
    creation and loss against the reference draw, each beside its null (95% CI)."""
    base = counts[:, 0] > 0  # (S, P)
    rows = []
    for index, step in enumerate(runs[0].steps[1:], start=1):
        tuned = counts[:, index] > 0  # (S, P)
        row = {
            "rl_step": step,
            "problems": base.size,
            "both": int((base & tuned).sum()),
            "neither": int((~base & ~tuned).sum()),
            "base_only": int((base & ~tuned).sum()),
            "rl_only": int((~base & tuned).sum()),
            "reference_unsolved": int((reference == 0).sum()),
            "unseen_bound": 3.0 / runs[0].result.models[0].n,
        }
        found = coverage_effects(reference, counts[:, 0], counts[:, index], resamples)
        for key in COVERAGE_COLUMNS:
            e = found[key]
            row |= {key: e.estimate, f"{key}_low": e.ci95[0], f"{key}_high": e.ci95[1]}
        rows.append(row)
    return pd.DataFrame(rows)


def accuracy_bins(seed_counts: np.ndarray, n: int) -> dict[str, int]:
    """Problems per accuracy bin, pooled over seeds: exactly 0, (0, 0.1), [0.1, 0.2), ...,
    [0.9, 1), exactly 1. ``seed_counts`` is (S, P)."""
    hist = [cov.accuracy_histogram(c, n) for c in seed_counts]
    zero, one = sum(h.at_zero for h in hist), sum(h.at_one for h in hist)
    binned = np.sum([h.counts for h in hist], axis=0)  # (10,)
    binned[0] -= zero  # the instrument's first bin holds the zeros and its last the ones;
    binned[-1] -= one  # take them out so that the bins partition the problems
    edges = hist[0].edges
    labels = [f"[{a:.1f}, {b:.1f})" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    labels[0] = f"(0.0, {edges[1]:.1f})"
    return {"exactly 0": zero, **dict(zip(labels, binned.tolist(), strict=True)), "exactly 1": one}


def histogram_table(runs: list[SeedRun], counts: np.ndarray, n: int) -> pd.DataFrame:
    """Per-problem accuracy c / n of every model in twelve bins (exact 0 and 1 apart)."""
    total = counts.shape[0] * counts.shape[2]  # seeds x problems
    rows = [
        {
            "model": m.name,
            "rl_step": step,
            "bin": label,
            "problems": count,
            "share": count / total,
            "total": total,
        }
        for index, (step, m) in enumerate(zip(runs[0].steps, runs[0].result.models, strict=True))
        for label, count in accuracy_bins(counts[:, index], n).items()
    ]
    return pd.DataFrame(rows)


def perplexity_table(runs: list[SeedRun]) -> pd.DataFrame:
    """PPL under the base of each model's samples (median and quartiles), per seed."""
    rows = [
        {"seed": r.seed, "model": m.name, "rl_step": step, **(m.ppl_under_base or {})}
        for r in runs
        for step, m in zip(r.steps, r.result.models, strict=True)
    ]
    return pd.DataFrame(rows)


def class_perplexity_table(runs: list[SeedRun]) -> pd.DataFrame:
    """PPL under the base of each token class of each model's samples, per seed."""
    rows = [
        {"seed": r.seed, "model": m.name, "rl_step": step, "class": cls, **figures}
        for r in runs
        for step, m in zip(r.steps, r.result.models, strict=True)
        for cls, figures in (m.ppl_by_class or {}).items()
    ]
    return pd.DataFrame(rows, columns=["seed", "model", "rl_step", "class", "ppl", "tokens"])


def class_drift(table: pd.DataFrame) -> dict[str, float]:
    """Token class -> PPL under the base of the final checkpoint's samples over that of the
    base's own samples (mean over seeds of the per-seed ratios); classes both models had."""
    ratios: dict[str, list[float]] = {}
    for (_, cls), rows in table.groupby(["seed", "class"]):
        rows = rows.sort_values("rl_step")
        if len(rows) > 1 and rows["rl_step"].iloc[0] == 0:
            ratios.setdefault(cls, []).append(rows["ppl"].iloc[-1] / rows["ppl"].iloc[0])
    return {cls: float(np.mean(values)) for cls, values in sorted(ratios.items())}


def drift_text(drift: dict[str, float]) -> str:
    """Where the drift sits, by token class, as a sentence ending in the next question."""
    if not drift:
        return (
            "No sample followed the task's template, so the drift cannot be placed on "
            "plan or execution tokens."
        )
    ranked = sorted(drift.items(), key=lambda item: -item[1])
    ratios = ", ".join(f"{cls} x{ratio:.2f}" for cls, ratio in ranked)
    return (
        f"By token class, PPL under the base rose {ratios} (final RL over the base's own "
        f"samples): the drift sits most on {ranked[0][0]} tokens. Does a reward that "
        "checks those tokens remove it?"
    )


def median_ppl(runs: list[SeedRun]) -> tuple[float, float]:
    """Median PPL under the base of the base's and the final checkpoint's samples (mean
    over seeds of the per-seed medians)."""
    medians = [
        [(m.ppl_under_base or {}).get("median", np.nan) for m in r.result.models] for r in runs
    ]  # (S, M)
    return float(np.mean([row[0] for row in medians])), float(np.mean([row[-1] for row in medians]))


def training_table(runs: list[SeedRun]) -> pd.DataFrame:
    """The RL runs' logged steps: rollout reward, token entropy (nats), KL to the base."""
    keys = ("step", "reward", "entropy", "entropy/plan", "entropy/exec", "kl_start")
    rows = [
        {"seed": r.seed, **{k: line[k] for k in keys if k in line}}
        for r in runs
        for line in r.training
    ]
    return pd.DataFrame(rows)


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
    """Creation and loss rates of every RL checkpoint against the reference draw, beside
    the base's own draw (the null), with 95% intervals."""
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    x = np.arange(len(table))
    panels = (("creation", "reference-unsolved problems solved"), ("loss", "reference-solved lost"))
    for ax, (key, what) in zip(axes, panels, strict=True):
        for offset, column, label, color in (
            (-0.2, key, "RL checkpoint", None),
            (0.2, f"{key}_null", "base's own draw (null)", "grey"),
        ):
            value = table[column]
            err = [value - table[f"{column}_low"], table[f"{column}_high"] - value]
            ax.bar(x + offset, value, width=0.4, yerr=err, capsize=3, label=label, color=color)
        ax.set_xticks(x, [str(s) for s in table["rl_step"]])
        ax.set(xlabel="RL checkpoint (step)", title=f"{key} rate: {what}, 95% CI")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"share (solved = c > 0 of {n})")
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

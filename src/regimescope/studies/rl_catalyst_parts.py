"""Measurement, tables and figures of Study 2 (RL as catalyst); the claim, the config and
the decision rule live in ``rl_catalyst``.

Shapes: S training seeds, M models per seed (the base, then the RL checkpoints in step
order), P problems, n samples per problem. ``counts`` is (S, M, P): correct samples of
each problem for each model. Every interval is the hierarchical bootstrap of
``studies.stats`` (seeds, then problems within seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from regimescope.instruments import coverage as cov
from regimescope.instruments import passk as pk
from regimescope.instruments.passk_run import PassKConfig, PassKResult, run_passk
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampling import SamplingConfig
from regimescope.studies.bases import latent_base, trained_base
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect
from regimescope.tasks import get_task


@dataclass(frozen=True)
class SeedRun:
    seed: int  # training seed (base and RL)
    steps: list[int]  # RL step of each model, 0 = the base
    result: PassKResult  # pass@k experiment on the base and every RL checkpoint
    training: list[dict]  # the RL run's metrics lines (rollout reward, entropy, KL)


# ---------------------------------------------------------------- training and measurement


def rl_config(cfg, seed: int, base_model: str) -> RLConfig:
    """GRPO on the task from the base: the study's only RL regime."""
    return RLConfig(
        model=base_model,
        curriculum=CurriculumConfig(tasks=(cfg.task,)),
        objective="grpo",
        steps=cfg.rl_steps,
        prompts_per_step=cfg.prompts_per_step,
        samples_per_prompt=cfg.samples_per_prompt,
        temperature=cfg.temperature,
        max_new_tokens=cfg.max_new_tokens,
        lr=cfg.lr,
        seed=seed,
        checkpoint_every=cfg.checkpoint_every,
    )


def run_seed(cfg, seed: int, store, progress: Callable[[str], None]) -> SeedRun:
    """Pretrain (or reuse) the latent base, run GRPO on it, then sample and verify the
    base and every RL checkpoint on the same held-out problems."""
    progress(f"seed {seed}: base ({cfg.base_scale} latent base on {cfg.task})")
    base = trained_base(latent_base(cfg.base_scale, seed, cfg.task), store)
    progress(f"seed {seed}: GRPO, {cfg.rl_steps} steps")
    run = rl(rl_config(cfg, seed, str(base.model_dir)), store)
    steps = run.checkpoint_steps()
    folders = [base.model_dir] + [run.checkpoint_dir(s) for s in steps]
    labels = ["base"] + [f"RL step {s}" for s in steps]
    models = [(label, *load_model(folder)) for label, folder in zip(labels, folders, strict=True)]
    progress(f"seed {seed}: pass@k, {len(models)} models x {cfg.problems} problems x n={cfg.n}")
    passk_cfg = PassKConfig(
        split=cfg.split,
        problems=cfg.problems,
        sampling=SamplingConfig(
            n=cfg.n, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=seed
        ),
        bootstrap=cfg.bootstrap,
        ppl_samples=cfg.ppl_samples,
    )
    result = run_passk(models, get_task(cfg.task), passk_cfg)
    return SeedRun(seed, [0, *steps], result, run.read_metrics())


def pooled_counts(runs: list[SeedRun]) -> np.ndarray:
    """Correct samples per (seed, model, problem): (S, M, P)."""
    return np.array([[m.correct for m in r.result.models] for r in runs], dtype=int)


# ---------------------------------------------------------------- effects


def mean_effect(name: str, values: np.ndarray, resamples: int, unit: str = "fraction") -> Effect:
    """Mean of per-(seed, problem) ``values`` (S, P) with its hierarchical 95% interval."""
    estimate, ci = hierarchical_bootstrap(values, np.mean, resamples)
    return Effect(name, estimate, ci, unit)


def paired_effect(
    name: str, base: np.ndarray, tuned: np.ndarray, fn, resamples: int, unit: str
) -> Effect:
    """``fn(base counts, tuned counts)`` over pooled problems, bootstrapped as pairs.

    The bootstrap resamples (seed, problem) indices, so a statistic of both models' counts
    (a crossover, a ratio) sees the same resampled problems for each model.
    """
    seeds, problems = base.shape
    index = np.arange(seeds * problems, dtype=float).reshape(seeds, problems)  # (S, P)

    def statistic(picked: np.ndarray) -> float:
        at = picked.astype(int).ravel()
        return fn(base.ravel()[at], tuned.ravel()[at])

    estimate, ci = hierarchical_bootstrap(index, statistic, resamples)
    return Effect(name, estimate, ci, unit)


def crossover(n: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """k* of pooled counts, censored at n + 1 when the base stays below at every k."""

    def k_star(base: np.ndarray, tuned: np.ndarray) -> float:
        k = cov.crossover_k(base, tuned, n)
        return float(n + 1 if k is None else k)

    return k_star


def creation_rate(base: np.ndarray, tuned: np.ndarray) -> float:
    """Share of base-unsolved problems the tuned model solves (0 if the base solves all)."""
    unsolved = base == 0
    return float((unsolved & (tuned > 0)).sum() / max(int(unsolved.sum()), 1))


def effects(counts: np.ndarray, n: int, resamples: int) -> dict[str, Effect]:
    """The study's effects, final RL checkpoint against its base (see rl_catalyst.decide)."""
    base, final = counts[:, 0], counts[:, -1]  # (S, P) each
    solved_b, solved_r = base > 0, final > 0
    return {
        "pass1_gain": mean_effect("pass@1 gain, RL - base", (final - base) / n, resamples),
        "large_k_gap": mean_effect(
            f"pass@{n} gap, base - RL", solved_b.astype(float) - solved_r, resamples
        ),
        "rl_only": mean_effect(
            "share of problems RL solves and the base never does", ~solved_b & solved_r, resamples
        ),
        "crossover": paired_effect(
            f"crossover k* (n+1 = {n + 1}: never)", base, final, crossover(n), resamples, "samples"
        ),
        "gap_se": mean_effect(
            f"sampling-efficiency gap, base pass@{n} - RL pass@1", solved_b - final / n, resamples
        ),
        "creation": paired_effect(
            f"creation rate (base-unsolved problems RL solves; there base < 3/n = {3 / n:.3g})",
            base,
            final,
            creation_rate,
            resamples,
            "fraction",
        ),
        "base_pass1": mean_effect("base pass@1", base / n, resamples),
        "base_passn": mean_effect(f"base pass@{n}", solved_b, resamples),
        "rl_pass1": mean_effect("RL pass@1", final / n, resamples),
        "rl_passn": mean_effect(f"RL pass@{n}", solved_r, resamples),
    }


# ---------------------------------------------------------------- tables


def passk_row(seed: str, name: str, step: int, k: int, value: float, ci) -> dict:
    keys = ("seed", "model", "rl_step", "k", "pass_at_k", "ci_low", "ci_high")
    return dict(zip(keys, (seed, name, step, k, value, *ci), strict=True))


def passk_table(runs: list[SeedRun], counts: np.ndarray, n: int, resamples: int) -> pd.DataFrame:
    """pass@k per model and k: per seed (interval over problems) and pooled (hierarchical)."""
    rows = [
        passk_row(str(r.seed), m.name, step, k, v, m.passk_ci[k])
        for r in runs
        for step, m in zip(r.steps, r.result.models, strict=True)
        for k, v in m.passk.items()
    ]
    for index, (step, m) in enumerate(zip(runs[0].steps, runs[0].result.models, strict=True)):
        for k in runs[0].result.ks:
            per_problem = np.array([pk.pass_at_k_table(c, n, [k])[:, 0] for c in counts[:, index]])
            est, ci = hierarchical_bootstrap(per_problem, np.mean, resamples)  # over (S, P)
            rows.append(passk_row("pooled", m.name, step, k, est, ci))
    return pd.DataFrame(rows)


def per_problem_table(runs: list[SeedRun], counts: np.ndarray, n: int) -> pd.DataFrame:
    """Correct samples of every (seed, model, problem): the raw data of every effect."""
    rows = [
        {"seed": r.seed, "model": m.name, "rl_step": step, "problem": p, "correct": int(c), "n": n}
        for r, seed_counts in zip(runs, counts, strict=True)
        for step, m, model_counts in zip(r.steps, r.result.models, seed_counts, strict=True)
        for p, c in enumerate(model_counts)
    ]
    return pd.DataFrame(rows)


def coverage_table(runs: list[SeedRun], counts: np.ndarray, resamples: int) -> pd.DataFrame:
    """Solved sets (c > 0) of each RL checkpoint against the base, pooled over seeds."""
    base = counts[:, 0] > 0  # (S, P)
    rows = []
    for index, step in enumerate(runs[0].steps[1:], start=1):
        tuned = counts[:, index] > 0  # (S, P)
        row = {
            "rl_step": step,
            "problems": base.size,
            "both": int((base & tuned).sum()),
            "neither": int((~base & ~tuned).sum()),
        }
        for who, only in (("base_only", base & ~tuned), ("rl_only", ~base & tuned)):
            share = mean_effect(who, only, resamples)
            row |= {
                who: int(only.sum()),
                f"{who}_share": share.estimate,
                f"{who}_low": share.ci95[0],
                f"{who}_high": share.ci95[1],
            }
        rows.append(row | {"creation_rate": creation_rate(counts[:, 0], counts[:, index])})
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
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = figure.subplots()
    for seed, rows in table.groupby("seed"):
        rows = rows.sort_values("rl_step")
        err = [rows["median"] - rows["q25"], rows["q75"] - rows["median"]]
        ax.errorbar(
            rows["rl_step"], rows["median"], yerr=err, marker="o", capsize=3, label=f"seed {seed}"
        )
        ax.axhline(rows["median"].iloc[0], color="grey", linestyle=":", linewidth=1)
    ax.set(
        xlabel="model (RL step, 0 = base's own samples)",
        ylabel="PPL under the base (tokens)",
        title="perplexity of samples under the base: median, bars = IQR",
    )
    ax.legend(fontsize=8)
    return figure

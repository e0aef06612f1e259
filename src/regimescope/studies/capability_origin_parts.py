"""Training, measurement, effects, tables and figures of Study 4 (created or activated?);
the claim, the config and the decision rule live in ``capability_origin``.

Shapes: S training seeds, P held-out problems per cell, n samples per problem. A *cell*
is one (family, depth): its ``counts`` are (S, 2, P), correct samples of each problem for
the base (index 0) and for the RL model trained on that family (index 1). ``atomic``
holds the base's (S, P) counts at depth 1 per family. Every interval is the hierarchical
bootstrap of ``studies.stats`` (seeds, then problems within seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from regimescope.instruments import coverage as cov
from regimescope.instruments import passk as pk
from regimescope.instruments.passk_run import PassKConfig, run_passk
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig, pretrain
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampling import SamplingConfig
from regimescope.store import RunDir
from regimescope.studies.bases import organism_for
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect
from regimescope.tasks import get_task

FAMILIES = {"A": "latent (compositions pretrained)", "B": "atomic only", "C": "atomics missing"}
PRETRAIN_TASK = "strings-pretrain"  # atomic A and B, plus depth-2 compositions of A only


def eval_tokens(depth: int) -> int:
    """Token budget of a completion at ``depth``: 8 per step line, 9 for the answer, slack."""
    return 8 * depth + 16


def cell_task(family: str, depth: int) -> str:
    return (
        f"strings-atomic-{family.lower()}"
        if depth == 1
        else f"strings-depth{depth}-{family.lower()}"
    )


# ---------------------------------------------------------------- training


def base_config(cfg, seed: int) -> PretrainConfig:
    """The base organism: atomic functions of A and B, depth-2 compositions of A only.

    The loss is on the targets only (the prompts are random strings): Yuan et al.'s stage
    1 is likewise fine-tuning on atomic solutions. It learns the atomics about twice as
    fast as the loss on every token (measured at 800 steps on a micro organism).
    """
    return PretrainConfig(
        task=PRETRAIN_TASK,
        organism=organism_for(cfg.organism_scale),
        steps=cfg.pretrain_steps,
        lr=cfg.pretrain_lr,
        loss_on="completion",
        batch_size=32,
        seed=seed,
        checkpoint_every=max(cfg.pretrain_steps // 4, 1),
        log_every=10,
    )


def rl_config(cfg, seed: int, base_model: str, family: str) -> RLConfig:
    """GRPO on depth-2 compositions of one family, from the base."""
    steps = cfg.missing_rl_steps if family == "C" else cfg.rl_steps
    return RLConfig(
        model=base_model,
        curriculum=CurriculumConfig(tasks=(cell_task(family, 2),)),
        objective="grpo",
        steps=steps,
        prompts_per_step=cfg.prompts_per_step,
        samples_per_prompt=cfg.samples_per_prompt,
        temperature=cfg.temperature,
        max_new_tokens=eval_tokens(2),
        lr=cfg.rl_lr,
        seed=seed,
        checkpoint_every=steps,
        recorder=RecorderConfig(  # every step's reward; no extra forward passes
            every=1, kl=False, changed=False, update_ratio=False, weight_norms=False
        ),
    )


@dataclass(frozen=True)
class SeedRun:
    seed: int  # training seed (base and the RL runs)
    base: RunDir  # the pretraining run
    rl: dict[str, RunDir]  # family -> its GRPO run on depth-2 compositions


def train_seed(cfg, seed: int, store, progress: Callable[[str], None]) -> SeedRun:
    """Pretrain (or reuse) the base, then one GRPO run per family on its depth-2 problems."""
    progress(f"seed {seed}: base, {cfg.pretrain_steps} steps on {PRETRAIN_TASK}")
    base = pretrain(base_config(cfg, seed), store)
    runs = {}
    for family in FAMILIES:
        progress(f"seed {seed}: GRPO on family {family} depth 2")
        runs[family] = rl(rl_config(cfg, seed, str(base.model_dir), family), store)
    return SeedRun(seed, base, runs)


# ---------------------------------------------------------------- measurement


def cells(cfg) -> list[tuple[str, int]]:
    """The (family, depth) cells measured with base and RL: A and B at every depth, C at 2."""
    return [(f, d) for f in ("A", "B") for d in cfg.depths] + [("C", 2)]


def passk_settings(cfg, seed: int, depth: int) -> PassKConfig:
    sampling = SamplingConfig(
        n=cfg.n, temperature=cfg.temperature, max_new_tokens=eval_tokens(depth), seed=seed
    )
    return PassKConfig(
        split="test", problems=cfg.problems, sampling=sampling, bootstrap=100, ppl_samples=0
    )


def measure_seed(cfg, run: SeedRun, progress: Callable[[str], None]) -> dict:
    """Correct-sample counts of the base (and each family's RL model) on every cell.

    Returns {"cells": {(family, depth): (2, P)}, "atomic": {family: (P,)}}.
    """
    base = ("base", *load_model(run.base.model_dir))
    tuned = {f: (f"RL on {f}", *load_model(r.model_dir)) for f, r in run.rl.items()}
    found: dict = {"cells": {}, "atomic": {}}
    for family in FAMILIES:
        result = run_passk([base], get_task(cell_task(family, 1)), passk_settings(cfg, run.seed, 1))
        found["atomic"][family] = np.array(result.models[0].correct)
    for family, depth in cells(cfg):
        progress(f"seed {run.seed}: pass@k on family {family}, depth {depth}")
        task = get_task(cell_task(family, depth))
        result = run_passk([base, tuned[family]], task, passk_settings(cfg, run.seed, depth))
        found["cells"][family, depth] = np.array([m.correct for m in result.models])
    return found


def pooled(measured: list[dict], cfg) -> tuple[dict, dict]:
    """Stack seeds: cells -> (S, 2, P) per (family, depth); atomic -> (S, P) per family."""
    cell_counts = {c: np.stack([m["cells"][c] for m in measured]) for c in cells(cfg)}
    atomic = {f: np.stack([m["atomic"][f] for m in measured]) for f in FAMILIES}
    return cell_counts, atomic


# ---------------------------------------------------------------- effects


def mean_effect(name: str, values, resamples: int, unit: str = "fraction") -> Effect:
    """Mean of per-(seed, problem) ``values`` (S, P) with its hierarchical 95% interval."""
    estimate, ci = hierarchical_bootstrap(np.asarray(values, dtype=float), np.mean, resamples)
    return Effect(name, estimate, ci, unit)


def paired_effect(name: str, base, tuned, fn, resamples: int, unit: str) -> Effect:
    """``fn(base counts, tuned counts)`` with (seed, problem) pairs resampled together."""
    seeds, problems = base.shape
    index = np.arange(seeds * problems, dtype=float).reshape(seeds, problems)  # (S, P)

    def statistic(picked: np.ndarray) -> float:
        at = picked.astype(int).ravel()
        return fn(base.ravel()[at], tuned.ravel()[at])

    estimate, ci = hierarchical_bootstrap(index, statistic, resamples)
    return Effect(name, estimate, ci, unit)


def creation_rate(base: np.ndarray, tuned: np.ndarray) -> float:
    """Share of base-unsolved problems (0 of n correct) that RL solves; 0 if none unsolved."""
    unsolved = base == 0
    return float((unsolved & (tuned > 0)).sum() / max(int(unsolved.sum()), 1))


def crossover(n: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """k* of pooled counts, censored at n + 1 when the base stays below at every k."""

    def k_star(base: np.ndarray, tuned: np.ndarray) -> float:
        k = cov.crossover_k(base, tuned, n)
        return float(n + 1 if k is None else k)

    return k_star


def cell_effects(counts: np.ndarray, family: str, depth: int, n: int, resamples: int) -> dict:
    """The effects of one cell, RL against base (keys as in ``capability_origin.decide``)."""
    base, tuned = counts[:, 0], counts[:, 1]  # (S, P) each
    tag = f"{family}, depth {depth}"
    return {
        "gain": mean_effect(f"pass@1 gain RL - base ({tag})", (tuned - base) / n, resamples),
        "creation": paired_effect(
            f"creation rate: base-unsolved problems RL solves ({tag})",
            base,
            tuned,
            creation_rate,
            resamples,
            "fraction",
        ),
        "passn_gain": mean_effect(
            f"pass@{n} gain RL - base ({tag})", (tuned > 0).astype(float) - (base > 0), resamples
        ),
        "base_pass1": mean_effect(f"base pass@1 ({tag})", base / n, resamples),
        "base_passn": mean_effect(f"base pass@{n} ({tag})", base > 0, resamples),
        "rl_pass1": mean_effect(f"RL pass@1 ({tag})", tuned / n, resamples),
        "rl_passn": mean_effect(f"RL pass@{n} ({tag})", tuned > 0, resamples),
        "crossover": paired_effect(
            f"crossover k* ({tag}; n+1 = {n + 1}: never)",
            base,
            tuned,
            crossover(n),
            resamples,
            "samples",
        ),
    }


def all_effects(cell_counts: dict, n: int, resamples: int) -> dict[tuple[str, int], dict]:
    return {(f, d): cell_effects(c, f, d, n, resamples) for (f, d), c in cell_counts.items()}


# ---------------------------------------------------------------- tables


def columns(e: Effect) -> dict:
    """An effect as table columns."""
    low, high = e.ci95
    return dict(effect=e.name, estimate=e.estimate, ci_low=low, ci_high=high, unit=e.unit)


def passk_table(cell_counts: dict, n: int, resamples: int) -> pd.DataFrame:
    """Pooled pass@k of base and RL per cell and k (hierarchical 95% interval)."""
    rows = []
    for (family, depth), counts in cell_counts.items():
        for index, model in enumerate(("base", "RL")):
            for k in pk.k_grid(n):
                values = np.array([pk.pass_at_k_table(c, n, [k])[:, 0] for c in counts[:, index]])
                e = mean_effect(f"pass@{k}", values, resamples)
                rows.append(dict(family=family, depth=depth, model=model, k=k) | columns(e))
    return pd.DataFrame(rows).rename(columns={"estimate": "pass_at_k"})


def per_problem_table(seeds, cell_counts: dict, atomic: dict, n: int) -> pd.DataFrame:
    """Correct samples of every (seed, family, depth, model, problem): the raw data."""
    series = [(f, 1, "base", counts) for f, counts in atomic.items()]  # each (S, P)
    series += [
        (f, d, model, counts[:, index])
        for (f, d), counts in cell_counts.items()
        for index, model in enumerate(("base", "RL"))
    ]
    rows = [
        dict(seed=seed, family=f, depth=d, model=model, problem=p, correct=int(c), n=n)
        for f, d, model, by_seed in series
        for seed, row in zip(seeds, by_seed, strict=True)
        for p, c in enumerate(row)
    ]
    return pd.DataFrame(rows)


def creation_table(found: dict, cell_counts: dict, n: int, labels: dict) -> pd.DataFrame:
    """Per cell: base-unsolved problems, how many RL solves, creation rate, bound, k*, label."""
    rows = []
    for (family, depth), e in found.items():
        base, tuned = cell_counts[family, depth][:, 0], cell_counts[family, depth][:, 1]
        unsolved = base == 0
        rows.append(
            dict(family=family, role=FAMILIES[family], depth=depth, problems=base.size)
            | dict(base_unsolved=int(unsolved.sum()), created=int((unsolved & (tuned > 0)).sum()))
            | dict(creation_rate=e["creation"].estimate, unseen_bound=3.0 / n)
            | dict(creation_low=e["creation"].ci95[0], creation_high=e["creation"].ci95[1])
            | dict(pass1_gain=e["gain"].estimate, gain_low=e["gain"].ci95[0])
            | dict(gain_high=e["gain"].ci95[1], crossover_k=e["crossover"].estimate)
            | dict(base_passn=e["base_passn"].estimate, rl_passn=e["rl_passn"].estimate)
            | dict(label=labels[family, depth])
        )
    return pd.DataFrame(rows)


def competence_table(cell_counts: dict, atomic: dict, n: int, resamples: int) -> pd.DataFrame:
    """The base's pass@1 and pass@n per family and depth (depth 1 = atomic skills)."""
    base = {(f, 1): c for f, c in atomic.items()}
    base |= {cell: c[:, 0] for cell, c in cell_counts.items()}
    rows = [
        dict(family=family, role=FAMILIES[family], depth=depth, metric=metric)
        | columns(mean_effect(f"base {metric}", values, resamples))
        for (family, depth), counts in sorted(base.items())
        for metric, values in (("pass@1", counts / n), (f"pass@{n}", counts > 0))
    ]
    return pd.DataFrame(rows).rename(columns={"estimate": "value"})


def training_table(runs: list[SeedRun]) -> pd.DataFrame:
    """Every GRPO step: rollout reward, token entropy (nats), gradient norm."""
    keys = ("step", "reward", "entropy", "entropy/plan", "entropy/exec", "grad_norm")
    rows = [
        {"seed": r.seed, "family": family, **{k: line[k] for k in keys if k in line}}
        for r in runs
        for family, run in r.rl.items()
        for line in run.read_metrics()
    ]
    return pd.DataFrame(rows)


def effects_frame(primary: dict[str, Effect], found: dict) -> pd.DataFrame:
    """Every effect: the verdict's (family and depth blank), then each cell's."""
    keyed = [("", "", key, e) for key, e in primary.items()]
    keyed += [(f, d, key, e) for (f, d), cell in found.items() for key, e in cell.items()]
    rows = [dict(key=key, family=f, depth=d) | columns(e) for f, d, key, e in keyed]
    return pd.DataFrame(rows)


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
